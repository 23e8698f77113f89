package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/handlers"
)

// newLimitsApp is the app over store, with the given login limit and
// trusted proxies.
func newLimitsApp(t *testing.T, store auth.SessionStore, perMinute int, trusted []netip.Prefix) http.Handler {
	t.Helper()
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{"KAqFZZo3Ty6mQJZk1p9cB2m8xVUwN4sRdHfEgLtYiOo"}, SessionMaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(fixtureBase)
	h, err := handlers.New(handlers.Deps{
		Logger:         discard,
		BaseURL:        base,
		Provider:       auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard}),
		Sessions:       auth.NewSessions(auth.SessionsConfig{Store: store, Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute}),
		Cookies:        cookies,
		Assets:         os.DirFS("../assets"),
		LoginRateLimit: perMinute,
		TrustedProxies: trusted,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLoginRateLimit: a client that starts too many logins gets 429, with
// Retry-After and a page in the app's look; other clients are not held
// back, and X-Forwarded-For counts only from a trusted proxy (L8).
func TestLoginRateLimit(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	h := newLimitsApp(t, auth.NewMemoryStore(nil), 5, loopback)
	login := func(remote, forwardedFor string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, "/login", nil)
		r.RemoteAddr = remote
		if forwardedFor != "" {
			r.Header.Set("X-Forwarded-For", forwardedFor)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result()
	}
	for i := range 5 {
		// The provider is never ready here: each login answers 503, and
		// counts all the same.
		if resp := login("203.0.113.9:4000", ""); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("login %d of 5 refused", i+1)
		}
	}
	resp := login("203.0.113.9:4000", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("6th login = %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(body), `data-testid="error-title"`) || !strings.Contains(string(body), "Too many login attempts") {
		t.Errorf("429 is not a page in the app's look:\n%s", body)
	}
	if resp := login("203.0.113.10:4000", ""); resp.StatusCode == http.StatusTooManyRequests {
		t.Error("another client was held back")
	}
	// A client that claims another address in X-Forwarded-For, not
	// through a trusted proxy, is still itself.
	if resp := login("203.0.113.9:4000", "198.51.100.77"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("an untrusted X-Forwarded-For got a fresh limit: %d", resp.StatusCode)
	}
	// Behind the trusted proxy, clients are told apart by it.
	for i := range 5 {
		if resp := login("127.0.0.1:4000", "198.51.100.1"); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("proxied client's login %d refused", i+1)
		}
	}
	if resp := login("127.0.0.1:4000", "198.51.100.2"); resp.StatusCode == http.StatusTooManyRequests {
		t.Error("a second client behind the proxy shares the first one's limit")
	}
}
