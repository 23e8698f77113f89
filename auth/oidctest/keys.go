package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// signingKey is one of the provider's key pairs.
type signingKey struct {
	kid     string
	alg     jose.SignatureAlgorithm
	private crypto.Signer
}

// newSigningKey makes a key pair for alg with a fresh key ID.
func newSigningKey(alg jose.SignatureAlgorithm) (*signingKey, error) {
	var (
		private crypto.Signer
		err     error
	)
	switch alg {
	case jose.RS256, jose.PS256:
		private, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		private, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return &signingKey{kid: strings.ToLower(rand.Text()), alg: alg, private: private}, nil
}

// publicJWK describes the public half for the JWKS, with or without its key ID.
func (k *signingKey) publicJWK(withKid bool) jose.JSONWebKey {
	jwk := jose.JSONWebKey{Key: k.private.Public(), Algorithm: string(k.alg), Use: "sig"}
	if withKid {
		jwk.KeyID = k.kid
	}
	return jwk
}

// RotateKey makes a new signing key with a new kid. Tokens issued from now on are signed with
// it; the JWKS publishes it after the earlier keys, which stay published. Call it from the
// goroutine running the test.
func (p *Provider) RotateKey() {
	p.tb.Helper()
	key, err := newSigningKey(p.settings.alg)
	if err != nil {
		p.tb.Fatalf("oidctest: rotate key: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, key)
}

// KeyID returns the kid of the key that currently signs tokens.
func (p *Provider) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].kid
}

// SignJWT signs any claims the way mode says, with the typ header unless typ is empty. Tests use
// it to build tokens the provider would send elsewhere, such as back-channel logout tokens.
func (p *Provider) SignJWT(claims map[string]any, mode SignMode, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	if mode == SignNone {
		header := map[string]string{"alg": "none"}
		if typ != "" {
			header["typ"] = typ
		}
		h, err := json.Marshal(header)
		if err != nil {
			return "", fmt.Errorf("encode header: %w", err)
		}
		enc := base64.RawURLEncoding
		return enc.EncodeToString(h) + "." + enc.EncodeToString(payload) + ".", nil
	}

	key, err := p.signingKeyFor(mode)
	if err != nil {
		return "", err
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", fmt.Errorf("create %s signer: %w", key.Algorithm, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize token: %w", err)
	}
	if mode == SignBadSignature {
		return corruptSignature(token)
	}
	return token, nil
}

// signingKeyFor picks the key, and whether the kid header is set, for a sign mode.
func (p *Provider) signingKeyFor(mode SignMode) (jose.SigningKey, error) {
	switch mode {
	case SignValid, SignBadSignature, SignNoKid:
		p.mu.Lock()
		k := p.keys[len(p.keys)-1]
		p.mu.Unlock()
		if mode == SignNoKid {
			return jose.SigningKey{Algorithm: k.alg, Key: k.private}, nil
		}
		return jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.kid}}, nil
	case SignUnknownKey:
		k, err := p.unpublishedKey()
		if err != nil {
			return jose.SigningKey{}, err
		}
		return jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.kid}}, nil
	case SignHS256:
		return jose.SigningKey{Algorithm: jose.HS256, Key: []byte(p.settings.clientSecret)}, nil
	}
	return jose.SigningKey{}, fmt.Errorf("unknown sign mode %v", mode)
}

// unpublishedKey returns the key that is never in the JWKS, making it on first use.
func (p *Provider) unpublishedKey() (*signingKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.strayKey == nil {
		k, err := newSigningKey(p.settings.alg)
		if err != nil {
			return nil, fmt.Errorf("create unpublished key: %w", err)
		}
		p.strayKey = k
	}
	return p.strayKey, nil
}

// corruptSignature flips bits in the last bytes of a compact JWS's signature.
func corruptSignature(token string) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", errors.New("corrupt signature: not a compact JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || len(sig) < 2 {
		return "", errors.New("corrupt signature: unreadable signature")
	}
	sig[len(sig)-1] ^= 0xff
	sig[len(sig)-2] ^= 0x55
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig), nil
}

// handleJWKS publishes every key's public half.
func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet, http.MethodHead)
		return
	}
	b := p.currentBehavior()
	if b.JWKSStatus != 0 {
		writeOAuthError(w, b.JWKSStatus, errorCodeForStatus(b.JWKSStatus, "invalid_request", "invalid_request"), SecretErrorDescription)
		return
	}
	withKid := b.Sign != SignNoKid
	p.mu.Lock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(p.keys))}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, k.publicJWK(withKid))
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}
