package handlers_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"latchkey/auth"
	"latchkey/handlers"
)

// fixture is the app's handler over a memory store, with a way to make
// signed-in sessions without a provider.
type fixture struct {
	handler  http.Handler
	sessions *auth.Sessions
}

// newFixture is the app with a provider that never becomes ready.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureFor(t, auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard}))
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixtureBase is the app's BASE_URL in handler tests.
const fixtureBase = "http://app.test"

// newFixtureFor is the app with provider.
func newFixtureFor(t *testing.T, provider *auth.Provider) *fixture {
	t.Helper()
	return newFixtureWith(t, provider, nil)
}

// newFixtureWith is the app with provider and the dependencies change
// makes (nil: none).
func newFixtureWith(t *testing.T, provider *auth.Provider, change func(*handlers.Deps)) *fixture {
	t.Helper()
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{strings.Repeat("s", 32)}, SessionMaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(auth.SessionsConfig{Store: auth.NewMemoryStore(nil), Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	base, _ := url.Parse(fixtureBase)
	d := handlers.Deps{
		Logger:   discard,
		BaseURL:  base,
		Provider: provider,
		Sessions: sessions,
		Cookies:  cookies,
		Assets:   os.DirFS("../assets"),
	}
	if change != nil {
		change(&d)
	}
	h, err := handlers.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{handler: h, sessions: sessions}
}

// signIn makes a session for Ada and returns its cookie and CSRF token.
func (f *fixture) signIn(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	sess := &auth.Session{User: auth.User{Subject: "ada", Name: "Ada Lovelace", Email: "ada@example.com", ClaimsJSON: `{"sub": "ada"}`}}
	if err := f.sessions.Start(t.Context(), rec, httptest.NewRequest(http.MethodGet, "/", nil), sess); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0], sess.CSRFToken
}

func (f *fixture) serve(req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := f.signIn(t)
	form := func(values url.Values) io.Reader { return strings.NewReader(values.Encode()) }

	tests := []struct {
		name       string
		method     string
		target     string
		body       io.Reader
		header     map[string]string
		signedIn   bool
		wantStatus int
		wantHeader map[string]string
		wantTestID string // an element the page must contain
		wantAbsent string // an element the page must not contain
		wantRetry  string // the href of the page's "Try again"
	}{
		{name: "home for a visitor shows the login box", method: "GET", target: "/", wantStatus: 200, wantTestID: "login-box", wantAbsent: "profile-card"},
		{name: "home for a user shows the profile card", method: "GET", target: "/", signedIn: true, wantStatus: 200, wantTestID: "profile-card", wantAbsent: "login-box"},
		{name: "htmx gets only the auth box", method: "GET", target: "/", header: map[string]string{"HX-Request": "true"}, wantStatus: 200, wantTestID: "auth-box", wantAbsent: "dev-idp-banner", wantHeader: map[string]string{"Vary": "HX-Request"}},
		{name: "dashboard for a user", method: "GET", target: "/dashboard", signedIn: true, wantStatus: 200, wantTestID: "dashboard", wantHeader: map[string]string{"Cache-Control": "no-store"}},
		{name: "dashboard sends a visitor to log in", method: "GET", target: "/dashboard", wantStatus: 303, wantHeader: map[string]string{"Location": "/login?return_to=%2Fdashboard"}},
		{name: "dashboard answers htmx without a redirect", method: "GET", target: "/dashboard", header: map[string]string{"HX-Request": "true"}, wantStatus: 401, wantHeader: map[string]string{"HX-Redirect": "/login?return_to=%2Fdashboard", "Location": ""}},
		{name: "htmx post without a session returns to its page", method: "POST", target: "/profile/refresh", header: map[string]string{"HX-Request": "true", "HX-Current-URL": "http://app.test/dashboard"}, wantStatus: 401, wantHeader: map[string]string{"HX-Redirect": "/login?return_to=%2Fdashboard"}},
		{name: "login while the provider is unreachable", method: "GET", target: "/login", wantStatus: 503, wantTestID: "error", wantRetry: "/login"},
		{name: "a popup login's retry stays a popup login", method: "GET", target: "/login?return_to=%2Fdashboard&popup=1", wantStatus: 503, wantRetry: "/login?return_to=%2Fdashboard&popup=1"},
		{name: "callback without a login attempt", method: "GET", target: "/callback?code=x&state=y", wantStatus: 400, wantTestID: "try-again"},
		{name: "callback with a provider error but no attempt", method: "GET", target: "/callback?error=access_denied&error_description=%3Cscript%3E", wantStatus: 400, wantTestID: "error"},
		{name: "logout confirmation changes nothing", method: "GET", target: "/logout", signedIn: true, wantStatus: 200, wantTestID: "logout-form"},
		{name: "logout without the form's token", method: "POST", target: "/logout", signedIn: true, body: form(nil), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 403, wantTestID: "error"},
		{name: "htmx logout without the form's token", method: "POST", target: "/logout", signedIn: true, body: form(url.Values{"csrf": {"forged"}}), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}, wantStatus: 403, wantTestID: "error", wantHeader: map[string]string{"HX-Redirect": ""}},
		{name: "refresh without the form's token", method: "POST", target: "/profile/refresh", signedIn: true, body: form(url.Values{"csrf": {"forged"}}), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 403, wantTestID: "error"},
		{name: "logout from another site", method: "POST", target: "/logout", signedIn: true, body: form(url.Values{"csrf": {csrf}}), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, wantStatus: 403, wantTestID: "error"},
		{name: "logout", method: "POST", target: "/logout", signedIn: true, body: form(url.Values{"csrf": {csrf}}), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}, wantStatus: 303},
		{name: "logout without a session goes home", method: "POST", target: "/logout", body: form(nil), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 303, wantHeader: map[string]string{"Location": "/"}},
		{name: "htmx logout without a session goes home", method: "POST", target: "/logout", body: form(nil), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}, wantStatus: 204, wantHeader: map[string]string{"HX-Redirect": "/", "Location": ""}},
		{name: "logout refuses other methods", method: "DELETE", target: "/logout", wantStatus: 405, wantTestID: "error", wantHeader: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "unknown page", method: "GET", target: "/nope", wantStatus: 404, wantTestID: "error"},
		{name: "healthz", method: "GET", target: "/healthz", wantStatus: 200},
		{name: "an asset", method: "GET", target: "/assets/app.css", wantStatus: 200, wantHeader: map[string]string{"Content-Type": "text/css; charset=utf-8"}},
		{name: "an asset's headers", method: "HEAD", target: "/assets/app.css", wantStatus: 200, wantHeader: map[string]string{"Content-Type": "text/css; charset=utf-8"}},
		{name: "an unknown asset", method: "GET", target: "/assets/nope.js", wantStatus: 404},
		{name: "an asset posted to", method: "POST", target: "/assets/app.css", wantStatus: 405, wantTestID: "error", wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "readyz before discovery", method: "GET", target: "/readyz", wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, tt.body)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.signedIn {
				req.AddCookie(cookie)
			}
			resp := f.serve(req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
			doc, err := goquery.NewDocumentFromReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantTestID != "" && doc.Find(`[data-testid="`+tt.wantTestID+`"]`).Length() == 0 {
				html, _ := doc.Html()
				t.Errorf("page lacks %s:\n%s", tt.wantTestID, html)
			}
			if tt.wantAbsent != "" && doc.Find(`[data-testid="`+tt.wantAbsent+`"]`).Length() != 0 {
				t.Errorf("page should not contain %s", tt.wantAbsent)
			}
			if tt.wantRetry != "" {
				if got, _ := doc.Find(`[data-testid="try-again"]`).Attr("href"); got != tt.wantRetry {
					t.Errorf("Try again = %q, want %q", got, tt.wantRetry)
				}
			}
			if strings.Contains(doc.Text(), "<script>") {
				t.Error("page echoes provider text")
			}
		})
	}
}

func TestHTMXFragmentIsNotAPage(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("HX-Request", "true")
	body, _ := io.ReadAll(f.serve(req).Body)
	if strings.Contains(string(body), "<html") || !strings.HasPrefix(string(body), `<div id="auth-box"`) {
		t.Errorf("htmx should get the auth box alone, got:\n%s", body)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := f.signIn(t)
	req := httptest.NewRequest("POST", "/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	if resp := f.serve(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout status = %d", resp.StatusCode)
	}
	replay := httptest.NewRequest("GET", "/dashboard", nil)
	replay.AddCookie(cookie)
	if resp := f.serve(replay); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old cookie after logout: status %d, want a redirect to log in", resp.StatusCode)
	}
}

func TestAssets(t *testing.T) {
	f := newFixture(t)
	home := f.serve(httptest.NewRequest("GET", "/", nil))
	doc, err := goquery.NewDocumentFromReader(home.Body)
	if err != nil {
		t.Fatal(err)
	}
	css, ok := doc.Find(`link[rel="stylesheet"]`).Attr("href")
	if !ok || !strings.HasPrefix(css, "/assets/app.") {
		t.Fatalf("stylesheet href = %q", css)
	}

	req := httptest.NewRequest("GET", css, nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	resp := f.serve(req)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("hashed asset: status %d, encoding %q, type %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("hashed asset Cache-Control = %q, want immutable", cc)
	}
	etag := resp.Header.Get("ETag")

	req = httptest.NewRequest("GET", css, nil)
	req.Header.Set("If-None-Match", etag)
	if resp := f.serve(req); resp.StatusCode != http.StatusNotModified {
		t.Errorf("matching If-None-Match: status %d, want 304", resp.StatusCode)
	}

	plain := f.serve(httptest.NewRequest("GET", "/assets/app.css", nil))
	if plain.StatusCode != 200 || plain.Header.Get("Cache-Control") != "no-cache" || plain.Header.Get("Content-Encoding") != "" {
		t.Errorf("plain asset: status %d, Cache-Control %q, encoding %q", plain.StatusCode, plain.Header.Get("Cache-Control"), plain.Header.Get("Content-Encoding"))
	}
	if resp := f.serve(httptest.NewRequest("GET", "/assets/nope.js", nil)); resp.StatusCode != 404 {
		t.Errorf("missing asset: status %d", resp.StatusCode)
	}
}
