package auth

import (
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestIDTokenTimes: a token is good until ExpiryLeeway after exp, however
// short-lived, and from ClockSkew before its iat and nbf.
func TestIDTokenTimes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) oidc.Time { return oidc.FromTime(now.Add(d)) }
	for _, tc := range []struct {
		name          string
		exp, iat, nbf oidc.Time
		ok            bool
	}{
		{name: "a one-hour token", exp: at(time.Hour), iat: at(0), ok: true},
		{name: "one second left", exp: at(time.Second), iat: at(-59 * time.Second), ok: true},
		{name: "expired, within the leeway", exp: at(-ExpiryLeeway + time.Second), iat: at(-time.Minute), ok: true},
		{name: "expired, the leeway over", exp: at(-ExpiryLeeway), iat: at(-time.Minute)},
		{name: "no exp", iat: at(0)},
		{name: "no iat", exp: at(time.Hour)},
		{name: "iat a skew ahead", exp: at(time.Hour), iat: at(ClockSkew), ok: true},
		{name: "iat beyond the skew", exp: at(time.Hour), iat: at(ClockSkew + time.Second)},
		{name: "nbf a skew ahead", exp: at(time.Hour), iat: at(0), nbf: at(ClockSkew), ok: true},
		{name: "nbf beyond the skew", exp: at(time.Hour), iat: at(0), nbf: at(ClockSkew + time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := &oidc.IDTokenClaims{NotBefore: tc.nbf}
			claims.Expiration, claims.IssuedAt = tc.exp, tc.iat
			err := checkIDTokenTimes(claims, now)
			if (err == nil) != tc.ok {
				t.Errorf("checkIDTokenTimes = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
