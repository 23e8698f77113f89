package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthMethod: the configured method when discovery offers it (or
// lists nothing, or it is none), else a misconfiguration; by default
// basic, post when that is all discovery offers, none without a secret.
func TestAuthMethod(t *testing.T) {
	both := []string{AuthMethodBasic, AuthMethodPost}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, err := NewClientKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, configured, secret string
		key                      *ClientKey
		offered                  []string
		want                     string // "" for a misconfiguration
	}{
		{name: "a client key", key: ck, offered: []string{AuthMethodPrivateKeyJWT}, want: AuthMethodPrivateKeyJWT},
		{name: "a client key, private_key_jwt chosen", configured: AuthMethodPrivateKeyJWT, key: ck, want: AuthMethodPrivateKeyJWT},
		{name: "a client key, private_key_jwt not offered", key: ck, offered: both},
		{name: "default", secret: "s", offered: both, want: AuthMethodBasic},
		{name: "default, nothing listed", secret: "s", want: AuthMethodBasic},
		{name: "default, only post offered", secret: "s", offered: []string{AuthMethodPost, "private_key_jwt"}, want: AuthMethodPost},
		{name: "default without a secret", offered: both, want: AuthMethodNone},
		{name: "post chosen", configured: AuthMethodPost, secret: "s", offered: both, want: AuthMethodPost},
		{name: "post chosen, nothing listed", configured: AuthMethodPost, secret: "s", want: AuthMethodPost},
		{name: "post chosen, not offered", configured: AuthMethodPost, secret: "s", offered: []string{AuthMethodBasic}},
		{name: "basic chosen, not offered", configured: AuthMethodBasic, secret: "s", offered: []string{AuthMethodPost}},
		{name: "none chosen, not listed", configured: AuthMethodNone, offered: both, want: AuthMethodNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProvider(ProviderConfig{ClientSecret: tc.secret, AuthMethod: tc.configured, ClientKey: tc.key})
			got, err := p.authMethod(tc.offered)
			switch {
			case tc.want == "" && !errors.Is(err, ErrProviderMisconfigured):
				t.Errorf("authMethod = %q, %v; want a misconfiguration", got, err)
			case tc.want != "" && (err != nil || got != tc.want):
				t.Errorf("authMethod = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestPrintableList: what a provider lists shows on one line of bounded
// length.
func TestPrintableList(t *testing.T) {
	long := make([]string, 40)
	for i := range long {
		long[i] = strings.Repeat("m", 100) + "\n"
	}
	got := printableList(long)
	if strings.ContainsAny(got, "\n\r") || len(got) > 16*70+20 || !strings.HasSuffix(got, "and 24 more") {
		t.Errorf("printableList = %q", got)
	}
	if got := printableList([]string{"client_secret_basic", "private_key_jwt"}); got != "client_secret_basic, private_key_jwt" {
		t.Errorf("printableList = %q", got)
	}
}

// TestClientKeyAlgorithmOffered: a client key whose algorithm the
// provider's discovery does not accept for client assertions is a
// misconfiguration that names it.
func TestClientKeyAlgorithmOffered(t *testing.T) {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks",
			"token_endpoint_auth_methods_supported":            []string{AuthMethodPrivateKeyJWT},
			"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "PS256"},
		})
	}))
	defer srv.Close()
	issuer = srv.URL
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, err := NewClientKey(key, "k1")
	if err != nil {
		t.Fatal(err)
	}
	p := NewProvider(ProviderConfig{Issuer: issuer, ClientID: "c", ClientKey: ck, HTTPClient: srv.Client(), Logger: slog.New(slog.DiscardHandler)})
	err = p.Discover(t.Context())
	if !errors.Is(err, ErrProviderMisconfigured) || !strings.Contains(err.Error(), "ES256") || !strings.Contains(err.Error(), "RS256, PS256") {
		t.Errorf("Discover = %v, want a misconfiguration naming ES256 and what discovery accepts", err)
	}
	if p.Misconfiguration() == nil {
		t.Error("Misconfiguration = nil")
	}
}
