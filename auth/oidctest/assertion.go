package oidctest

import (
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// authPrivateKeyJWT is a client that signs an assertion with its own key (RFC 7523 §2.2, OpenID
// Connect Core §9).
const authPrivateKeyJWT = "private_key_jwt"

// clientAssertionType is the client_assertion_type of a JWT assertion (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime bounds how far in the future a client assertion's exp may be.
const maxAssertionLifetime = time.Hour

// assertionAlgs are the algorithms the provider accepts for client assertions, and advertises.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// clientKey is the public key the client is registered with, for private_key_jwt.
type clientKey struct {
	key crypto.PublicKey
	kid string
}

// WithClientKey registers the client's public key for private_key_jwt under kid: the token endpoint
// then accepts client assertions the key verifies, and, when kid is not empty, requires their kid
// header to be kid. Give WithTokenAuthMethods "private_key_jwt" to allow the method.
func WithClientKey(key crypto.PublicKey, kid string) Option {
	return func(s *settings) error {
		if !(&jose.JSONWebKey{Key: key}).Valid() {
			return fmt.Errorf("client key %T is not a public key go-jose knows", key)
		}
		s.clientKey = &clientKey{key: key, kid: kid}
		return nil
	}
}

// assertionClaims are the claims of a client assertion the provider reads.
type assertionClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   int64           `json:"exp"`
	IssuedAt int64           `json:"iat"`
	JWTID    string          `json:"jti"`
}

// authenticateAssertion checks a private_key_jwt client assertion: signed by the registered key
// under its kid, iss and sub the client, aud the issuer or the token endpoint, exp in the future and
// at most an hour away, iat not in the future, a jti never seen before.
func (p *Provider) authenticateAssertion(r *http.Request) (string, *oauthError) {
	form := r.PostForm
	refuse := func(why string) (string, *oauthError) {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client assertion: " + why}
	}
	switch {
	case !p.allowsAuthMethod(authPrivateKeyJWT) || p.settings.clientKey == nil:
		return refuse("private_key_jwt is not allowed")
	case r.Header.Get("Authorization") != "" || form.Has("client_secret"):
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "more than one client authentication method"}
	case len(form["client_assertion"]) != 1 || form.Get("client_assertion_type") != clientAssertionType:
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "one client_assertion of type " + clientAssertionType + " is required"}
	}
	jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return refuse("not a signed JWT")
	}
	if kid := p.settings.clientKey.kid; kid != "" && jws.Signatures[0].Header.KeyID != kid {
		return refuse(fmt.Sprintf("kid %q is not the registered key's", jws.Signatures[0].Header.KeyID))
	}
	payload, err := jws.Verify(p.settings.clientKey.key)
	if err != nil {
		return refuse("the registered key does not verify the signature")
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return refuse("unreadable claims")
	}
	now := time.Now()
	switch {
	case c.Issuer != p.settings.clientID || c.Subject != p.settings.clientID:
		return refuse("iss and sub must be the client_id")
	case form.Has("client_id") && form.Get("client_id") != c.Issuer:
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "client_id differs from the assertion's"}
	case !audienceHas(c.Audience, p.issuer, p.TokenEndpoint()):
		return refuse("aud names neither the issuer nor the token endpoint")
	case c.Expiry <= now.Unix() || time.Unix(c.Expiry, 0).After(now.Add(maxAssertionLifetime)):
		return refuse("exp is past, or more than an hour away")
	case c.IssuedAt > now.Add(time.Minute).Unix():
		return refuse("iat is in the future")
	case c.JWTID == "":
		return refuse("jti is missing")
	}
	p.mu.Lock()
	seen := p.assertionIDs[c.JWTID]
	p.assertionIDs[c.JWTID] = true
	p.mu.Unlock()
	if seen {
		return refuse("jti used before")
	}
	return c.Issuer, nil
}

// audienceHas reports whether an aud claim, a string or an array of them, holds one of want.
func audienceHas(raw json.RawMessage, want ...string) bool {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return false
		}
		list = []string{one}
	}
	return slices.ContainsFunc(list, func(a string) bool { return slices.Contains(want, a) })
}
