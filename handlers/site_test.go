package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"latchkey/auth"
	"latchkey/handlers"
)

// newPrefixedFixture is the app with its own routes under /.latchkey.
func newPrefixedFixture(t *testing.T) *fixture {
	t.Helper()
	provider := auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard})
	return newFixtureWith(t, provider, func(d *handlers.Deps) { d.Prefix = "/.latchkey" })
}

// TestRoutesUnderPrefix: under a prefix, the same routes answer there, and
// every link, form and redirect of latchkey's stays under it.
func TestRoutesUnderPrefix(t *testing.T) {
	f := newPrefixedFixture(t)
	cookie, csrf := f.signIn(t)
	form := url.Values{"csrf": {csrf}}.Encode()

	tests := []struct {
		name         string
		method       string
		target       string
		body         string
		header       map[string]string
		signedIn     bool
		wantStatus   int
		wantLocation string
		wantHeader   map[string]string
		// wantLinks are the href, action and src attributes the page must
		// have, by CSS selector.
		wantLinks map[string]string
	}{
		{name: "home", method: "GET", target: "/.latchkey/", wantStatus: 200,
			wantLinks: map[string]string{`[data-testid="login-button"]`: "/.latchkey/login"}},
		{name: "home for a user", method: "GET", target: "/.latchkey/", signedIn: true, wantStatus: 200,
			wantLinks: map[string]string{`[data-testid="dashboard-link"]`: "/.latchkey/account", `[data-testid="nav-dashboard"]`: "/.latchkey/account"}},
		{name: "the account page for a user", method: "GET", target: "/.latchkey/account", signedIn: true, wantStatus: 200,
			wantLinks: map[string]string{
				`[data-testid="logout-form"]`:          "/.latchkey/logout",
				`[data-testid="refresh-profile-form"]`: "/.latchkey/profile/refresh",
				`link[rel="stylesheet"]`:               "/.latchkey/assets/app.",
				`script[src*="htmx"]`:                  "/.latchkey/assets/vendor/htmx/htmx.min.",
			}},
		{name: "the account page sends a visitor to log in", method: "GET", target: "/.latchkey/account", wantStatus: 303,
			wantLocation: "/.latchkey/login?return_to=%2F.latchkey%2Faccount"},
		{name: "htmx without a session", method: "POST", target: "/.latchkey/profile/refresh", body: "",
			header:     map[string]string{"HX-Request": "true", "HX-Current-URL": "http://app.test/.latchkey/account", "Content-Type": "application/x-www-form-urlencoded"},
			wantStatus: 401, wantHeader: map[string]string{"HX-Redirect": "/.latchkey/login?return_to=%2F.latchkey%2Faccount"}},
		{name: "login while the provider is unreachable", method: "GET", target: "/.latchkey/login", wantStatus: 503,
			wantLinks: map[string]string{`[data-testid="try-again"]`: "/.latchkey/login"}},
		{name: "logout without a session", method: "POST", target: "/.latchkey/logout", body: "",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 303, wantLocation: "/.latchkey/"},
		{name: "logout", method: "POST", target: "/.latchkey/logout", body: form, signedIn: true,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}, wantStatus: 303, wantLocation: "/.latchkey/?state="},
		{name: "health", method: "GET", target: "/.latchkey/healthz", wantStatus: 200},
		{name: "the root routes are not latchkey's", method: "GET", target: "/dashboard", wantStatus: 404},
		{name: "nor is the root login", method: "GET", target: "/login", wantStatus: 404},
		{name: "a plain asset", method: "GET", target: "/.latchkey/assets/app.css", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
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
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tt.wantLocation) || (tt.wantLocation == "") != (loc == "") {
				t.Errorf("Location = %q, want %q", loc, tt.wantLocation)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			doc, err := goquery.NewDocumentFromReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for sel, want := range tt.wantLinks {
				el := doc.Find(sel).First()
				got := el.AttrOr("href", el.AttrOr("action", el.AttrOr("src", "")))
				if !strings.HasPrefix(got, want) {
					t.Errorf("%s links to %q, want %q", sel, got, want)
				}
			}
		})
	}
}

// TestOwnURLs: the URLs registered at the provider follow the prefix.
func TestOwnURLs(t *testing.T) {
	base, _ := url.Parse("https://app.example.com")
	for _, tt := range []struct {
		prefix string
		want   handlers.URLs
	}{
		{"", handlers.URLs{
			Callback:          "https://app.example.com/callback",
			PostLogout:        "https://app.example.com/",
			BackChannelLogout: "https://app.example.com/backchannel-logout",
			DevIdP:            "https://app.example.com/dev-idp",
			Avatars:           "https://app.example.com/assets/avatars/",
		}},
		{"/.latchkey", handlers.URLs{
			Callback:          "https://app.example.com/.latchkey/callback",
			PostLogout:        "https://app.example.com/.latchkey/",
			BackChannelLogout: "https://app.example.com/.latchkey/backchannel-logout",
			DevIdP:            "https://app.example.com/.latchkey/dev-idp",
			Avatars:           "https://app.example.com/.latchkey/assets/avatars/",
		}},
	} {
		if got := handlers.OwnURLs(base, tt.prefix); got != tt.want {
			t.Errorf("OwnURLs(%q) = %+v, want %+v", tt.prefix, got, tt.want)
		}
	}
}

// TestBoxAndScript: the box an app's page embeds comes back to that
// page, alone; to latchkey's own pages it comes with the header's session
// links, and large on latchkey's home page. latchkey's script is served
// where app pages load it.
func TestBoxAndScript(t *testing.T) {
	f := newPrefixedFixture(t)
	cookie, _ := f.signIn(t)
	for _, tt := range []struct {
		name      string
		header    map[string]string
		signedIn  bool
		wantID    string
		wantLogin string
		wantNav   bool // the header's session links come along
		wantHero  bool // drawn large, for the home page
	}{
		{name: "from an htmx request of the app's page", header: map[string]string{"HX-Request": "true", "HX-Current-URL": "http://app.test/notes?x=1"}, wantID: "login-box", wantLogin: "/.latchkey/login?return_to=%2Fnotes%3Fx%3D1"},
		{name: "from the Referer", header: map[string]string{"Referer": "http://app.test/board"}, wantID: "login-box", wantLogin: "/.latchkey/login?return_to=%2Fboard"},
		{name: "from a page of another site", header: map[string]string{"HX-Current-URL": "https://evil.example/x", "Referer": "http://app.test.evil.example/y"}, wantID: "login-box", wantLogin: "/.latchkey/login"},
		{name: "from latchkey's home page", header: map[string]string{"HX-Current-URL": "http://app.test/.latchkey/"}, wantID: "login-box", wantLogin: "/.latchkey/login", wantNav: true, wantHero: true},
		{name: "from latchkey's account page", header: map[string]string{"HX-Current-URL": "http://app.test/.latchkey/logout"}, signedIn: true, wantID: "profile-card", wantNav: true},
		{name: "signed in", signedIn: true, wantID: "profile-card"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/.latchkey/box", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.signedIn {
				req.AddCookie(cookie)
			}
			resp := f.serve(req)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `<div id="auth-box"`) || strings.Contains(string(body), "<html") {
				t.Fatalf("box = %d:\n%s", resp.StatusCode, body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
			if doc.Find(`[data-testid="`+tt.wantID+`"]`).Length() != 1 {
				t.Errorf("box lacks %s:\n%s", tt.wantID, body)
			}
			if got := doc.Find(`[data-testid="login-button"]`).AttrOr("href", ""); got != tt.wantLogin {
				t.Errorf("Log In = %q, want %q", got, tt.wantLogin)
			}
			if tt.signedIn && doc.Find(`[data-testid="dashboard-link"]`).AttrOr("href", "") != "/.latchkey/account" {
				t.Error("the profile card does not link to the account page")
			}
			nav := doc.Find(`[data-latchkey-nav]`)
			if (nav.Length() == 1) != tt.wantNav {
				t.Errorf("%d header session links in the answer, want them: %v", nav.Length(), tt.wantNav)
			}
			if tt.wantNav && tt.signedIn && nav.Find(`a[href="/.latchkey/account"]`).Length() != 1 {
				t.Errorf("the header's links lack the account page:\n%s", body)
			}
			if got := doc.Find(`#auth-box.hero`).Length() == 1; got != tt.wantHero {
				t.Errorf("the box is drawn large: %v, want %v", got, tt.wantHero)
			}
		})
	}

	script := f.serve(httptest.NewRequest("GET", "/.latchkey/latchkey.js", nil))
	body, _ := io.ReadAll(script.Body)
	want, err := os.ReadFile("../assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if script.StatusCode != 200 || string(body) != string(want) || !strings.Contains(script.Header.Get("Content-Type"), "javascript") ||
		script.Header.Get("Cache-Control") != "no-cache" || script.Header.Get("ETag") == "" {
		t.Errorf("latchkey.js = %d %q %q, or not the script latchkey's pages use", script.StatusCode, script.Header.Get("Content-Type"), script.Header.Get("Cache-Control"))
	}
	if css := f.serve(httptest.NewRequest("GET", "/.latchkey/assets/box.css", nil)); css.StatusCode != 200 {
		t.Errorf("box.css = %d", css.StatusCode)
	}
}
