package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
