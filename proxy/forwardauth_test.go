package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestParseForwardAuth(t *testing.T) {
	navigate := []string{"Accept", chromeNavigationAccept, "Sec-Fetch-Mode", "navigate"}
	with := func(base []string, kv ...string) http.Header {
		return header(append(append([]string{}, base...), kv...)...)
	}
	tests := []struct {
		name            string
		header          http.Header
		wantMethod      string
		wantHost        string
		wantScheme      string
		wantKind        Kind
		wantRedirect    bool
		wantReturnTo    string
		wantChallenge   int
		wantLocationSet bool
	}{
		{
			name:       "Caddy, a page",
			header:     with(navigate, "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/page?x=1", "X-Forwarded-Host", "app.example", "X-Forwarded-Proto", "https"),
			wantMethod: "GET", wantHost: "app.example", wantScheme: "https", wantKind: Navigation, wantRedirect: true,
			wantReturnTo: "/page?x=1", wantChallenge: http.StatusSeeOther, wantLocationSet: true,
		},
		{
			name:       "Traefik, an htmx post",
			header:     header("X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/save", "X-Forwarded-Host", "app.example", "HX-Request", "true", "HX-Current-URL", "https://app.example/edit"),
			wantMethod: "POST", wantHost: "app.example", wantScheme: "http", wantKind: HTMX, wantRedirect: true,
			wantReturnTo: "/edit", wantChallenge: http.StatusUnauthorized,
		},
		{
			name:       "Caddy, an API call",
			header:     header("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/items", "Accept", "application/json"),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Other, wantRedirect: true,
			wantReturnTo: "/api/items", wantChallenge: http.StatusUnauthorized,
		},
		{
			name:       "nginx, a page",
			header:     with(navigate, "X-Original-URI", "/page?x=1", "X-Original-Method", "GET", "X-Forwarded-Host", "app.example"),
			wantMethod: "GET", wantHost: "app.example", wantScheme: "http", wantKind: Navigation,
			wantReturnTo: "/page?x=1", wantChallenge: http.StatusUnauthorized, wantLocationSet: true,
		},
		{
			name:       "nginx, a form post",
			header:     with(navigate, "X-Original-URI", "/save", "X-Original-Method", "POST", "Referer", "http://latchkey.internal/edit"),
			wantMethod: "POST", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Other,
			wantReturnTo: "/edit", wantChallenge: http.StatusUnauthorized,
		},
		{
			name:       "nginx without the original URI",
			header:     with(navigate),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Navigation,
			wantReturnTo: "/", wantChallenge: http.StatusUnauthorized, wantLocationSet: true,
		},
		{
			name:       "an absolute URI is not a local path",
			header:     with(navigate, "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "https://evil.example/x"),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Navigation, wantRedirect: true,
			wantReturnTo: "/", wantChallenge: http.StatusSeeOther, wantLocationSet: true,
		},
		{
			name:       "a protocol-relative URI stays on the site",
			header:     with(navigate, "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "//evil.example/x"),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Navigation, wantRedirect: true,
			wantReturnTo: "/evil.example/x", wantChallenge: http.StatusSeeOther, wantLocationSet: true,
		},
		{
			name:       "a refused path comes back home",
			header:     with(navigate, "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/static%2f..%2fadmin?x=1"),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Navigation, wantRedirect: true,
			wantReturnTo: "/", wantChallenge: http.StatusSeeOther, wantLocationSet: true,
		},
		{
			name:       "a fragment is dropped",
			header:     with(navigate, "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/page?x=1#top"),
			wantMethod: "GET", wantHost: "latchkey.internal", wantScheme: "http", wantKind: Navigation, wantRedirect: true,
			wantReturnTo: "/page?x=1", wantChallenge: http.StatusSeeOther, wantLocationSet: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://latchkey.internal/.latchkey/check", nil)
			r.Header = tt.header
			q := ParseForwardAuth(r)
			if q.Method != tt.wantMethod || q.Host != tt.wantHost || q.Scheme != tt.wantScheme || q.Kind != tt.wantKind || q.CanRedirect != tt.wantRedirect {
				t.Errorf("got %s %s://%s %v redirect=%v, want %s %s://%s %v redirect=%v",
					q.Method, q.Scheme, q.Host, q.Kind, q.CanRedirect, tt.wantMethod, tt.wantScheme, tt.wantHost, tt.wantKind, tt.wantRedirect)
			}
			if got := q.ReturnTo(); got != tt.wantReturnTo {
				t.Errorf("ReturnTo() = %q, want %q", got, tt.wantReturnTo)
			}
			h := http.Header{}
			if got := q.Challenge(h, "/.latchkey/login", ""); got != tt.wantChallenge {
				t.Errorf("Challenge status = %d, want %d", got, tt.wantChallenge)
			}
			if got := h.Get("Location") != ""; got != tt.wantLocationSet {
				t.Errorf("Location %q, want set: %v", h.Get("Location"), tt.wantLocationSet)
			}
		})
	}
}

// checkHandler is /.latchkey/check as the handlers build it from this
// package; the session lookup is theirs, here a map from cookie values.
func checkHandler(ids *IdentityHeaders, policy *Policy, sessions map[string]*Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := ParseForwardAuth(r)
		var id *Identity
		if c, err := r.Cookie("latchkey"); err == nil {
			id = sessions[c.Value]
		}
		if id == nil {
			q.WriteChallenge(w, "/.latchkey/login?return_to="+url.QueryEscape(q.ReturnTo()), "app.example")
			return
		}
		if ok, reason := policy.Allows(id); !ok {
			http.Error(w, "Signed in as "+id.Email+", but "+reason+".", http.StatusForbidden)
			return
		}
		ids.Set(w.Header(), id)
		w.WriteHeader(http.StatusOK)
	})
}

func TestForwardAuthDecision(t *testing.T) {
	signer := newSigner(t, secretA)
	ids := newIdentityHeaders(t, IdentityConfig{Signer: signer, Audience: "https://app.example"})
	policy, err := NewPolicy(PolicyConfig{EmailDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	eve := &Identity{SessionKey: "key-eve", Subject: "eve", Email: "eve@evil.example", EmailVerified: true}
	h := checkHandler(ids, policy, map[string]*Identity{"ada-cookie": ada, "eve-cookie": eve})
	caddy := []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/reports?y=2024", "X-Forwarded-Host", "app.example", "X-Forwarded-Proto", "https"}
	nginx := []string{"X-Original-Uri", "/reports?y=2024", "X-Original-Method", "GET", "X-Forwarded-Host", "app.example"}
	navigate := []string{"Accept", chromeNavigationAccept, "Sec-Fetch-Mode", "navigate"}
	const login = "/.latchkey/login?return_to=%2Freports%3Fy%3D2024"
	tests := []struct {
		name         string
		header       []string
		cookie       string
		wantStatus   int
		wantLocation string
		wantUser     string
	}{
		{name: "nginx, allowed", header: nginx, cookie: "ada-cookie", wantStatus: http.StatusOK, wantUser: "ada"},
		{name: "Caddy, allowed", header: caddy, cookie: "ada-cookie", wantStatus: http.StatusOK, wantUser: "ada"},
		{name: "nginx, a page without a session", header: append(nginx, navigate...), wantStatus: http.StatusUnauthorized, wantLocation: login},
		{name: "Caddy, a page without a session", header: append(caddy, navigate...), wantStatus: http.StatusSeeOther, wantLocation: login},
		{name: "Caddy, a script without a session", header: append(caddy, "Accept", "application/json"), wantStatus: http.StatusUnauthorized},
		{name: "a forged session", header: append(caddy, navigate...), cookie: "forged", wantStatus: http.StatusSeeOther, wantLocation: login},
		{name: "nginx, signed in but not allowed", header: nginx, cookie: "eve-cookie", wantStatus: http.StatusForbidden},
		{name: "Caddy, signed in but not allowed", header: append(caddy, navigate...), cookie: "eve-cookie", wantStatus: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://latchkey.internal/.latchkey/check", nil)
			r.Header = header(tt.header...)
			r.Header.Set("X-Forwarded-User", "mallory") // sent by the client, passed on by the front server
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "latchkey", Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if got := rec.Header().Get("X-Forwarded-User"); got != tt.wantUser {
				t.Errorf("X-Forwarded-User %q, want %q", got, tt.wantUser)
			}
			if tt.wantUser == "" {
				if rec.Header().Get("X-Latchkey-Assertion") != "" {
					t.Error("an assertion without an allowed session")
				}
				return
			}
			tok, err := jwt.ParseSigned(rec.Header().Get("X-Latchkey-Assertion"), []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			var c jwt.Claims
			if err := tok.Claims(fetchKeys(t, signer.JWKS()), &c); err != nil || c.Subject != "ada" {
				t.Errorf("assertion: %v, sub %q", err, c.Subject)
			}
		})
	}
}
