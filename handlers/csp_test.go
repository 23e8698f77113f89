package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"latchkey/auth"
)

// formAction returns the sources of the form-action directive of a
// Content-Security-Policy, and whether it has one.
func formAction(policy string) ([]string, bool) {
	for directive := range strings.SplitSeq(policy, ";") {
		fields := strings.Fields(directive)
		if len(fields) > 0 && fields[0] == "form-action" {
			return fields[1:], true
		}
	}
	return nil, false
}

// allows reports whether form-action sources let a form post, or a
// redirect after one, reach target from the app.
func allows(sources []string, target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	if u.Host == "" || u.Scheme+"://"+u.Host == fixtureBase {
		return slices.Contains(sources, "'self'")
	}
	return slices.Contains(sources, u.Scheme+"://"+u.Host) || slices.Contains(sources, u.Scheme+":")
}

// TestFormActionAllowsTheProvider: forms may post to the app only, and the
// logout form's redirect may go on to the provider, on every response.
func TestFormActionAllowsTheProvider(t *testing.T) {
	t.Run("issuer", func(t *testing.T) {
		f := newFixture(t) // issuer https://idp.invalid
		for _, target := range []string{"/", "/nope", "/assets/app.css", "/healthz"} {
			sources, ok := formAction(f.serve(httptest.NewRequest(http.MethodGet, target, nil)).Header.Get("Content-Security-Policy"))
			if !ok || !slices.Equal(sources, []string{"'self'", "https://idp.invalid"}) {
				t.Errorf("%s: form-action %v (present %v), want 'self' https://idp.invalid", target, sources, ok)
			}
		}
	})

	t.Run("issuer a source expression cannot name", func(t *testing.T) {
		f := newFixtureFor(t, auth.NewProvider(auth.ProviderConfig{Issuer: "http://[::1]:9000", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard}))
		sources, _ := formAction(f.serve(httptest.NewRequest(http.MethodGet, "/", nil)).Header.Get("Content-Security-Policy"))
		if !slices.Equal(sources, []string{"'self'", "http:"}) {
			t.Errorf("form-action %v, want 'self' http:", sources)
		}
	})

	t.Run("provider on this site", func(t *testing.T) {
		f := newFixtureFor(t, auth.NewProvider(auth.ProviderConfig{Issuer: fixtureBase + "/dev-idp", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard}))
		sources, _ := formAction(f.serve(httptest.NewRequest(http.MethodGet, "/", nil)).Header.Get("Content-Security-Policy"))
		if !slices.Equal(sources, []string{"'self'"}) {
			t.Errorf("form-action %v, want 'self' alone", sources)
		}
	})

	t.Run("end-session endpoint on another origin", func(t *testing.T) {
		const endSession = "https://logout.example.com/oidc/logout"
		var issuer string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/openid-configuration" {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{
				"issuer":                                issuer,
				"authorization_endpoint":                issuer + "/authorize",
				"token_endpoint":                        issuer + "/token",
				"jwks_uri":                              issuer + "/jwks",
				"end_session_endpoint":                  endSession,
				"response_types_supported":              []string{"code"},
				"id_token_signing_alg_values_supported": []string{"RS256"},
			})
		}))
		defer srv.Close()
		issuer = srv.URL
		provider := auth.NewProvider(auth.ProviderConfig{Issuer: issuer, ClientID: "c", RedirectURI: fixtureBase + "/callback", HTTPClient: srv.Client(), Logger: discard})
		f := newFixtureFor(t, provider)

		before, _ := formAction(f.serve(httptest.NewRequest(http.MethodGet, "/", nil)).Header.Get("Content-Security-Policy"))
		if !slices.Equal(before, []string{"'self'", issuer}) {
			t.Errorf("before discovery: form-action %v, want 'self' %s", before, issuer)
		}
		if err := provider.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		cookie, csrf := f.signIn(t)
		req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		resp := f.serve(req)
		target := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(target, endSession+"?") {
			t.Fatalf("logout = %d to %q, want 303 to %s", resp.StatusCode, target, endSession)
		}
		sources, _ := formAction(resp.Header.Get("Content-Security-Policy"))
		if !allows(sources, target) || !allows(sources, "/logout") {
			t.Errorf("form-action %v does not allow the logout form's post and redirect to %s", sources, target)
		}
	})
}
