package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/oidctest"
)

func newTestProvider(idp *oidctest.Provider) *auth.Provider {
	return auth.NewProvider(auth.ProviderConfig{
		Issuer:       idp.Issuer(),
		ClientID:     idp.ClientID(),
		ClientSecret: idp.ClientSecret(),
		RedirectURI:  "http://app.test/callback",
		HTTPClient:   idp.Client(),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// TestDiscover: one attempt makes the provider ready, or leaves it as it
// was when the provider cannot be reached.
func TestDiscover(t *testing.T) {
	idp := oidctest.New(t)
	p := newTestProvider(idp)

	idp.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	if err := p.Discover(t.Context()); err == nil || p.Ready() {
		t.Fatalf("Discover with discovery down = %v, ready %v; want an error and not ready", err, p.Ready())
	}
	if _, err := p.AuthCodeURL(t.Context(), auth.NewLoginAttempt("", false)); !errors.Is(err, auth.ErrProviderUnavailable) {
		t.Errorf("AuthCodeURL before discovery = %v, want ErrProviderUnavailable", err)
	}
	if got := p.EndSessionOrigin(); got != "" {
		t.Errorf("EndSessionOrigin before discovery = %q", got)
	}

	idp.SetBehavior(oidctest.Behavior{})
	if err := p.Discover(t.Context()); err != nil || !p.Ready() {
		t.Fatalf("Discover = %v, ready %v; want ready", err, p.Ready())
	}
	target, err := p.AuthCodeURL(t.Context(), auth.NewLoginAttempt("", false))
	if err != nil || !strings.HasPrefix(target, idp.AuthorizationEndpoint()+"?") {
		t.Errorf("AuthCodeURL = %q, %v; want the provider's authorization endpoint", target, err)
	}
}

// TestProviderOrigins: the origins a browser is sent to, for the page's
// Content-Security-Policy.
func TestProviderOrigins(t *testing.T) {
	idp := oidctest.New(t)
	p := newTestProvider(idp)
	if err := p.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(idp.Issuer(), "/")
	if got := p.Origin(); got != want {
		t.Errorf("Origin = %q, want %q", got, want)
	}
	if got := p.EndSessionOrigin(); got != want {
		t.Errorf("EndSessionOrigin = %q, want %q", got, want)
	}

	for issuer, want := range map[string]string{
		"https://Tenant.EU.Auth0.com/":            "https://tenant.eu.auth0.com",
		"https://login.example.com:8443/realms/a": "https://login.example.com:8443",
		"http://localhost:3000/dev-idp":           "http://localhost:3000",
		"not a URL":                               "",
	} {
		p := auth.NewProvider(auth.ProviderConfig{Issuer: issuer, HTTPClient: http.DefaultClient})
		if got := p.Origin(); got != want {
			t.Errorf("Origin of %q = %q, want %q", issuer, got, want)
		}
	}

	noEndSession := newTestProvider(oidctest.New(t, oidctest.WithoutEndSession()))
	if err := noEndSession.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := noEndSession.EndSessionOrigin(); got != "" {
		t.Errorf("EndSessionOrigin without an end-session endpoint = %q, want none", got)
	}
}

// TestLoginWaitsForDiscovery: while Run retries discovery, a login asks
// for an attempt and waits for it, so the first login after the provider
// comes back succeeds; with a provider that does not answer, the login
// gives up after LoginWait, and when its request ends.
func TestLoginWaitsForDiscovery(t *testing.T) {
	t.Parallel()
	idp := oidctest.New(t)
	idp.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	p := newTestProvider(idp)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go p.Run(ctx)
	for idp.DiscoveryCalls() == 0 {
		time.Sleep(time.Millisecond)
	}
	idp.SetBehavior(oidctest.Behavior{})
	if target, err := p.AuthCodeURL(t.Context(), auth.NewLoginAttempt("", false)); err != nil || !strings.HasPrefix(target, idp.AuthorizationEndpoint()+"?") {
		t.Errorf("AuthCodeURL once the provider is back = %q, %v; want the authorization endpoint", target, err)
	}

	hung := make(chan struct{})
	var asked atomic.Int32
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(hung) // before the server closes, which waits for its handler
	p = auth.NewProvider(auth.ProviderConfig{
		Issuer: silent.URL, ClientID: "c", HTTPClient: &http.Client{Timeout: time.Minute},
		Logger: slog.New(slog.DiscardHandler),
	})
	go p.Run(ctx)
	for asked.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := p.AuthCodeURL(t.Context(), auth.NewLoginAttempt("", false)); !errors.Is(err, auth.ErrProviderUnavailable) {
		t.Errorf("AuthCodeURL while discovery hangs = %v, want ErrProviderUnavailable after the wait", err)
	}
	gone, stop := context.WithCancel(t.Context())
	stop()
	if _, err := p.AuthCodeURL(gone, auth.NewLoginAttempt("", false)); !errors.Is(err, auth.ErrProviderUnavailable) {
		t.Errorf("AuthCodeURL for a request that ended = %v, want ErrProviderUnavailable", err)
	}
}
