package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"latchkey/proxy"
)

// fakeLatchkey publishes the keys of a signer at /.latchkey/jwks.json, as
// latchkey does, and signs assertions with it.
type fakeLatchkey struct {
	url    string
	signer *proxy.Signer
}

func newFakeLatchkey(t *testing.T, secret string) *fakeLatchkey {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	keys, err := proxy.SigningKeysFromSecrets([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := proxy.NewSigner(srv.URL, keys)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/.latchkey/jwks.json", signer.JWKS())
	return &fakeLatchkey{url: srv.URL, signer: signer}
}

const appAudience = "http://127.0.0.1:8080"

var ada = &proxy.Identity{SessionKey: "k", Subject: "ada", Email: "ada@example.com", EmailVerified: true, PreferredUsername: "ada", Groups: []string{"staff"}}

// request is a request as latchkey sends it for id, with an assertion
// signed by l for audience at issued.
func (l *fakeLatchkey) request(t *testing.T, method, target, body string, id *proxy.Identity, audience string, issued time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if id != nil {
		token, err := l.signer.Sign(id, audience, issued)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Forwarded-User", id.Subject)
		r.Header.Set("X-Forwarded-Email", id.Email)
		r.Header.Set("X-Latchkey-Assertion", token)
	}
	return r
}

func serve(a *app, r *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, r)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestNotes(t *testing.T) {
	l := newFakeLatchkey(t, "the SESSION_SECRET of latchkey, 32+ characters")
	other := newFakeLatchkey(t, "another latchkey's SESSION_SECRET, 32+ characters")
	a, err := newApp(appConfig{Issuer: l.url, Audience: appAudience, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	if status, body := serve(a, l.request(t, "GET", "/", "", nil, "", now)); status != 200 || !strings.Contains(body, "Hello, visitor") || !strings.Contains(body, `hx-get="/.latchkey/box"`) || !strings.Contains(body, `src="/.latchkey/latchkey.js"`) {
		t.Errorf("a visitor's page = %d:\n%s", status, body)
	}
	status, body := serve(a, l.request(t, "GET", "/", "", ada, appAudience, now))
	if status != 200 || !strings.Contains(body, "Hello, ada") || !strings.Contains(body, "<td>staff</td>") {
		t.Errorf("Ada's page = %d:\n%s", status, body)
	}
	save := l.request(t, "POST", "/notes", url.Values{"text": {"buy <milk>"}}.Encode(), ada, appAudience, now)
	save.Header.Set("HX-Request", "true")
	if status, body := serve(a, save); status != 200 || !strings.Contains(body, "<li data-testid=\"note\">buy &lt;milk&gt;</li>") || strings.Contains(body, "<html") {
		t.Errorf("saving a note = %d:\n%s", status, body)
	}

	for _, tt := range []struct {
		name string
		req  *http.Request
	}{
		{name: "signed by another latchkey", req: other.request(t, "GET", "/", "", ada, appAudience, now)},
		{name: "for another app", req: l.request(t, "GET", "/", "", ada, "http://other.internal", now)},
		{name: "expired", req: l.request(t, "GET", "/", "", ada, appAudience, now.Add(-time.Hour))},
		{name: "a header that says someone else", req: func() *http.Request {
			r := l.request(t, "GET", "/", "", ada, appAudience, now)
			r.Header.Set("X-Forwarded-User", "mallory")
			return r
		}()},
		{name: "not a JWT", req: func() *http.Request {
			r := l.request(t, "GET", "/", "", nil, "", now)
			r.Header.Set("X-Forwarded-User", "mallory")
			r.Header.Set("X-Latchkey-Assertion", "forged")
			return r
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := serve(a, tt.req); status != http.StatusForbidden || strings.Contains(body, "mallory") || strings.Contains(body, "Hello, ada") {
				t.Errorf("= %d:\n%s", status, body)
			}
		})
	}
	if status, _ := serve(a, l.request(t, "POST", "/notes", "text=hi", nil, "", now)); status != http.StatusUnauthorized {
		t.Errorf("a note without a user = %d", status)
	}
	if status, _ := serve(a, l.request(t, "POST", "/notes", "text="+strings.Repeat("x", maxNoteLength+1), ada, appAudience, now)); status != http.StatusUnprocessableEntity {
		t.Errorf("a note too long = %d", status)
	}
}
