package auth

import (
	"errors"
	"strings"
	"testing"
)

// TestAuthMethod: the configured method when discovery offers it (or
// lists nothing, or it is none), else a misconfiguration; by default
// basic, post when that is all discovery offers, none without a secret.
func TestAuthMethod(t *testing.T) {
	both := []string{AuthMethodBasic, AuthMethodPost}
	for _, tc := range []struct {
		name, configured, secret string
		offered                  []string
		want                     string // "" for a misconfiguration
	}{
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
			p := NewProvider(ProviderConfig{ClientSecret: tc.secret, AuthMethod: tc.configured})
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
