package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/devidp"
	"latchkey/handlers"
)

// newDevIdPServer is the app with the built-in development provider,
// served by a real server, as a HEAD request needs: net/http is what
// drops a HEAD answer's body.
func newDevIdPServer(t *testing.T) (*httptest.Server, *http.Cookie) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{strings.Repeat("s", 32)}, SessionMaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(auth.SessionsConfig{Store: auth.NewMemoryStore(nil), Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	issuer := base.JoinPath("/dev-idp").String()
	h, err := handlers.New(handlers.Deps{
		Logger:   discard,
		BaseURL:  base,
		Provider: auth.NewProvider(auth.ProviderConfig{Issuer: issuer, ClientID: "dev", ClientSecret: "secret", HTTPClient: http.DefaultClient, Logger: discard}),
		Sessions: sessions,
		Cookies:  cookies,
		Assets:   os.DirFS("../assets"),
		DevIdP: &devidp.Config{
			Issuer:                 issuer,
			ClientID:               "dev",
			ClientSecret:           "secret",
			RedirectURIs:           []string{base.JoinPath("/callback").String()},
			PostLogoutRedirectURIs: []string{base.JoinPath("/").String()},
			AvatarBaseURL:          base.JoinPath("/assets/avatars").String() + "/",
			Logger:                 discard,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	rec := httptest.NewRecorder()
	sess := &auth.Session{User: auth.User{Subject: "ada", Name: "Ada Lovelace"}}
	if err := sessions.Start(t.Context(), rec, httptest.NewRequest(http.MethodGet, "/", nil), sess); err != nil {
		t.Fatal(err)
	}
	return srv, rec.Result().Cookies()[0]
}

// TestHEADAnswersLikeGET: wherever GET answers, HEAD gets the same status
// and headers, and no body.
func TestHEADAnswersLikeGET(t *testing.T) {
	srv, cookie := newDevIdPServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// Headers whose values differ between two GETs too.
	varying := map[string]bool{"Date": true, "Set-Cookie": true, "Location": true}
	// A HEAD answer may leave out Content-Length; if it sends one, it is
	// GET's (RFC 9110, 8.6).
	for _, tt := range []struct {
		path     string
		signedIn bool
	}{
		{path: "/"},
		{path: "/", signedIn: true},
		{path: "/dashboard", signedIn: true},
		{path: "/dashboard"},
		{path: "/logout", signedIn: true},
		{path: "/login"},
		{path: "/signed-in"},
		{path: "/healthz"},
		{path: "/readyz"},
		{path: "/assets/app.css"},
		{path: "/assets/vendor/htmx/htmx.min.js"},
		{path: "/dev-idp/.well-known/openid-configuration"},
		{path: "/dev-idp/keys"},
		{path: "/nope"},
	} {
		name := tt.path
		if tt.signedIn {
			name += " signed in"
		}
		t.Run(name, func(t *testing.T) {
			do := func(method string) (*http.Response, []byte) {
				req, err := http.NewRequest(method, srv.URL+tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.signedIn {
					req.AddCookie(cookie)
				}
				// Set by hand, so the client leaves gzip as it came.
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, body
			}
			get, getBody := do(http.MethodGet)
			head, headBody := do(http.MethodHead)
			if head.StatusCode != get.StatusCode {
				t.Errorf("HEAD %d, GET %d", head.StatusCode, get.StatusCode)
			}
			if get.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("GET answers 405")
			}
			if len(headBody) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(headBody))
			}
			if len(getBody) == 0 && get.StatusCode == http.StatusOK {
				t.Errorf("GET answered no body")
			}
			for k := range get.Header {
				if _, ok := head.Header[k]; !ok && k == "Content-Length" {
					continue
				}
				if varying[k] {
					if _, ok := head.Header[k]; !ok {
						t.Errorf("HEAD lacks %s", k)
					}
					continue
				}
				if g, h := strings.Join(get.Header[k], ", "), strings.Join(head.Header[k], ", "); g != h {
					t.Errorf("%s: GET %q, HEAD %q", k, g, h)
				}
			}
			for k := range head.Header {
				if _, ok := get.Header[k]; !ok {
					t.Errorf("HEAD sends %s, GET does not", k)
				}
			}
		})
	}
}

// TestMethodNotAllowedSaysAllow: a 405 lists the methods the route serves.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		method, target, allow string
	}{
		{method: "DELETE", target: "/logout", allow: "GET, HEAD, POST"},
		{method: "POST", target: "/", allow: "GET, HEAD"},
		{method: "PUT", target: "/dashboard", allow: "GET, HEAD"},
		{method: "GET", target: "/profile/refresh", allow: "POST"},
		{method: "HEAD", target: "/profile/refresh", allow: "POST"},
		{method: "GET", target: "/sessions/abc/end", allow: "POST"},
		{method: "GET", target: "/backchannel-logout", allow: "POST"},
		{method: "POST", target: "/healthz", allow: "GET, HEAD"},
		{method: "POST", target: "/assets/app.css", allow: "GET, HEAD"},
		{method: "OPTIONS", target: "/login", allow: "GET, HEAD"},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			resp := f.serve(httptest.NewRequest(tt.method, tt.target, nil))
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", resp.StatusCode)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}
