package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// idTokenWant is what one verification expects of an ID token, beyond
// what every ID token from this provider must be.
type idTokenWant struct {
	// accessToken came with the ID token: its at_hash, when it has one,
	// must match it.
	accessToken string
	// nonce is the login attempt's nonce, which the token must carry.
	nonce string
	// refreshed says the token came from a refresh grant: it must then
	// name subject, and carry previous's nonce or none (OpenID Connect
	// Core 12.2).
	refreshed bool
	subject   string
	previous  string
}

// verifyIDToken is the one place ID tokens are verified, at login and at
// refresh, as OpenID Connect Core 3.1.3.7 asks: a non-empty sub, the exact
// issuer, an audience containing the client ID (and azp when there are
// several), a signature by one of the provider's keys with an algorithm it
// advertises, exp (with ExpiryLeeway), iat present and nbf, neither
// further than ClockSkew in the future, the nonce, and at_hash when
// present. The checks are zitadel/oidc's, but for the times and a
// refreshed token's stale kid (see verifyStaleKid), which are latchkey's
// own.
func (p *Provider) verifyIDToken(ctx context.Context, c *connection, raw string, want idTokenWant) (*oidc.IDTokenClaims, error) {
	var claims oidc.IDTokenClaims
	payload, err := oidc.ParseToken(raw, &claims)
	if err != nil {
		return nil, fmt.Errorf("parse ID token: %w", err)
	}
	if err := oidc.CheckSubject(&claims); err != nil {
		return nil, errors.New("ID token without sub")
	}
	if err := oidc.CheckIssuerWithISSVerifier(&claims, p.cfg.Issuer, nil); err != nil {
		return nil, err
	}
	if err := oidc.CheckAudience(&claims, p.cfg.ClientID); err != nil {
		return nil, err
	}
	if err := oidc.CheckAZPVerifier(&claims, oidc.DefaultAZPVerifier(p.cfg.ClientID)); err != nil {
		return nil, err
	}
	var stale *staleKid
	if err := oidc.CheckSignature(ctx, raw, payload, &claims, c.algs, c.keys); err != nil {
		if !want.refreshed || !errors.Is(err, oidc.ErrSignatureInvalid) {
			return nil, err
		}
		if stale = c.verifyStaleKid(ctx, raw, payload); stale == nil {
			return nil, err
		}
		claims.SetSignatureAlgorithm(stale.alg)
	}
	if err := checkIDTokenTimes(&claims, time.Now()); err != nil {
		return nil, err
	}
	nonce := want.nonce
	if want.refreshed {
		// A refreshed ID token carries the first one's nonce, or none.
		if claims.Nonce != "" && claims.Nonce != unverifiedNonce(want.previous) {
			return nil, errors.New("refreshed ID token has another nonce")
		}
		nonce = claims.Nonce
	}
	if err := oidc.CheckNonce(&claims, nonce); err != nil {
		return nil, err
	}
	if err := rp.VerifyAccessToken(want.accessToken, claims.GetAccessTokenHash(), claims.GetSignatureAlgorithm()); err != nil {
		return nil, err
	}
	if want.refreshed && claims.Subject != want.subject {
		return nil, errors.New("refreshed ID token names another user")
	}
	if stale != nil && stale.kid != stale.signedWith {
		p.cfg.Logger.WarnContext(ctx, "the identity provider sent a refreshed ID token with a stale kid: "+
			"its header names one key and another of the provider's published keys signed it; accepted",
			"issuer", p.cfg.Issuer, "kid", stale.kid, "signed_with", stale.signedWith, "alg", stale.alg)
	}
	return &claims, nil
}

// staleKid is a token whose kid named a key that does not verify it, and
// the published key that does.
type staleKid struct {
	kid, signedWith string
	alg             jose.SignatureAlgorithm
}

// verifyStaleKid tries the provider's other published keys of the token's
// algorithm on a token whose kid names a key that does not verify it: Ory
// Hydra and Authelia keep the original key's kid on ID tokens they refresh
// after a key change, but sign them with the current key. The keys kept
// are tried first, then those of the key set fetched again once (as far as
// its throttle allows). A token without a kid is not tried, as at login
// (see docs/security.md, rp-id_token-kid-absent-multiple-jwks); nil means
// no published key verifies the token.
func (c *connection) verifyStaleKid(ctx context.Context, raw string, payload []byte) *staleKid {
	jws, err := jose.ParseSignedCompact(raw, joseAlgs(c.algs))
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID == "" {
		return nil
	}
	header := jws.Signatures[0].Header
	alg := jose.SignatureAlgorithm(header.Algorithm)
	for _, refetch := range []bool{false, true} {
		keys, err := c.keySet.published(ctx, refetch)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if !signsWith(k, alg) {
				continue
			}
			if signed, err := jws.Verify(k); err == nil && bytes.Equal(signed, payload) {
				return &staleKid{kid: header.KeyID, signedWith: k.KeyID, alg: alg}
			}
		}
	}
	return nil
}

// signsWith reports whether the published key k is one for signatures with
// alg: its use and algorithm, when given, say so, and its type fits.
func signsWith(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if (k.Use != "" && k.Use != oidc.KeyUseSignature) || (k.Algorithm != "" && k.Algorithm != string(alg)) {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(string(alg), "RS") || strings.HasPrefix(string(alg), "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(string(alg), "ES")
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// checkIDTokenTimes checks exp, iat and nbf against now: the token is good
// until ExpiryLeeway after exp, and from ClockSkew before iat and nbf.
func checkIDTokenTimes(claims *oidc.IDTokenClaims, now time.Time) error {
	exp := claims.Expiration.AsTime()
	if exp.IsZero() {
		return errors.New("ID token without exp")
	}
	if !now.Before(exp.Add(ExpiryLeeway)) {
		return fmt.Errorf("%w: exp %v, %v ago", oidc.ErrExpired, exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))
	}
	iat := claims.IssuedAt.AsTime()
	if iat.IsZero() {
		return oidc.ErrIatMissing
	}
	if iat.After(now.Add(ClockSkew)) {
		return oidc.ErrIatInFuture
	}
	if nbf := claims.NotBefore.AsTime(); !nbf.IsZero() && nbf.After(now.Add(ClockSkew)) {
		return errors.New("ID token not valid yet (nbf)")
	}
	return nil
}

// unverifiedNonce reads the nonce of an ID token without checking it; only
// for comparing with one that is checked.
func unverifiedNonce(idToken string) string {
	var claims struct {
		Nonce string `json:"nonce"`
	}
	if _, err := oidc.ParseToken(idToken, &claims); err != nil {
		return ""
	}
	return claims.Nonce
}
