package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// backChannelLogoutEvent is the member of a logout token's events claim
// that makes it one (Back-Channel Logout 1.0, 2.4).
const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a verified back-channel logout token: which provider
// session, or which user, to log out.
type LogoutToken struct {
	Subject string
	SID     string
	JTI     string
	Expiry  time.Time
}

// MaxLogoutTokenLifetime bounds how far a logout token's exp may lie
// beyond its iat. Its jti is remembered until exp, to refuse a replay, so
// this bounds how long that takes; providers give their logout tokens
// minutes.
const MaxLogoutTokenLifetime = 10 * time.Minute

// maxJTILength bounds the jti remembered for each logout token.
const maxJTILength = 256

// ErrLogoutTokenInvalid reports a logout token that fails a check.
var ErrLogoutTokenInvalid = errors.New("invalid logout token")

// logoutClaims lets oidc.CheckSignature record the algorithm.
type logoutClaims struct {
	oidc.LogoutTokenClaims
	alg jose.SignatureAlgorithm
}

func (c *logoutClaims) SetSignatureAlgorithm(alg jose.SignatureAlgorithm) { c.alg = alg }

// VerifyLogoutToken checks a back-channel logout token as Back-Channel
// Logout 1.0, 2.6 asks: signature with the ID token's algorithms and keys,
// exact issuer, audience, iat and exp (at most MaxLogoutTokenLifetime
// apart, with the ClockSkew and ExpiryLeeway of ID tokens), a jti, the
// logout event, sub or sid, no nonce, and a typ of logout+jwt or JWT when
// there is one.
func (p *Provider) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	c := p.conn.Load()
	if c == nil {
		return nil, ErrProviderUnavailable
	}
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrLogoutTokenInvalid, fmt.Sprintf(format, a...))
	}
	jws, err := jose.ParseSignedCompact(raw, joseAlgs(c.algs))
	if err != nil {
		return nil, invalid("parse: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("%d signatures", len(jws.Signatures))
	}
	// Back-Channel Logout 1.0, 2.4: providers SHOULD type logout tokens
	// logout+jwt, and many (Keycloak, Ory Hydra) type them JWT. The events
	// claim and the absence of nonce, both checked below, keep an ID token
	// from passing for one; any other type is refused.
	if typ, ok := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); ok {
		if t := strings.ToLower(typ); t != "logout+jwt" && t != "application/logout+jwt" && t != "jwt" {
			return nil, invalid("typ %q", typ)
		}
	}
	var claims logoutClaims
	payload, err := oidc.ParseToken(raw, &claims.LogoutTokenClaims)
	if err != nil {
		return nil, invalid("claims: %v", err)
	}
	if err := oidc.CheckSignature(ctx, raw, payload, &claims, c.algs, c.keys); err != nil {
		return nil, invalid("signature: %v", err)
	}
	lt := claims.LogoutTokenClaims
	now := time.Now()
	switch {
	case lt.Issuer != p.cfg.Issuer:
		return nil, invalid("issuer %q", lt.Issuer)
	case !slices.Contains(lt.Audience, p.cfg.ClientID):
		return nil, invalid("audience %v", lt.Audience)
	case lt.IssuedAt.AsTime().IsZero() || lt.IssuedAt.AsTime().After(now.Add(ClockSkew)):
		return nil, invalid("iat missing or in the future")
	case lt.Expiration.AsTime().IsZero():
		return nil, invalid("exp missing (Back-Channel Logout 1.0, 2.4, requires it)")
	case !now.Before(lt.Expiration.AsTime().Add(ExpiryLeeway)):
		return nil, invalid("exp past")
	case lt.Expiration.AsTime().Sub(lt.IssuedAt.AsTime()) > MaxLogoutTokenLifetime:
		return nil, invalid("exp more than %v after iat", MaxLogoutTokenLifetime)
	case lt.JWTID == "":
		return nil, invalid("jti missing (Back-Channel Logout 1.0, 2.4, requires it)")
	case len(lt.JWTID) > maxJTILength:
		return nil, invalid("jti of %d bytes", len(lt.JWTID))
	case lt.Subject == "" && lt.SessionID == "":
		return nil, invalid("neither sub nor sid")
	case !isJSONObject(lt.Events[backChannelLogoutEvent]):
		return nil, invalid("no back-channel logout event")
	}
	if _, ok := lt.Claims["nonce"]; ok {
		return nil, invalid("nonce present")
	}
	return &LogoutToken{Subject: lt.Subject, SID: lt.SessionID, JTI: lt.JWTID, Expiry: lt.Expiration.AsTime()}, nil
}

// isJSONObject reports whether v was decoded from a JSON object.
func isJSONObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func joseAlgs(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}
