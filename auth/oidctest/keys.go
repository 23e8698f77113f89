package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	mathrand "math/rand/v2"
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

// rsaTestKeys are fixed 2048-bit RSA keys, PKCS #8 in PEM. Generating an
// RSA key takes a large share of a test's CPU time; these keys were made
// once instead. They are public: never use them outside tests.
//
//go:embed testdata/rsa-2048-*.pem
var rsaTestKeys embed.FS

// keyRing hands out one provider's signing keys. RSA keys are the fixed
// test keys, taken in turn from a place the provider picks at random, so
// each rotation changes the key; every key handed out gets a fresh kid, so
// two providers that happen to hold the same key never share a kid. One
// fixed key is kept back for the key that is never published, so it
// differs from every published one; once the others are used up, further
// rotations generate keys. ES256 keys are cheap to make and always
// generated. The provider's mutex guards the ring.
type keyRing struct {
	alg   jose.SignatureAlgorithm
	fixed int // how many fixed test keys there are for alg
	start int // the first fixed key this provider publishes
	used  int // how many keys it has published
}

// newKeyRing returns the key ring of a provider signing with alg.
func newKeyRing(alg jose.SignatureAlgorithm) (*keyRing, error) {
	r := &keyRing{alg: alg}
	switch alg {
	case jose.RS256, jose.PS256:
		files, err := fs.Glob(rsaTestKeys, "testdata/rsa-2048-*.pem")
		if err != nil {
			return nil, fmt.Errorf("list the RSA test keys: %w", err)
		}
		r.fixed = len(files)
		r.start = mathrand.IntN(max(r.fixed, 1))
	case jose.ES256:
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	return r, nil
}

// next returns the next key to publish.
func (r *keyRing) next() (*signingKey, error) {
	i := r.used
	r.used++
	if i < r.fixed-1 {
		return fixedKey(r.alg, (r.start+i)%r.fixed)
	}
	return newSigningKey(r.alg)
}

// unpublished returns a key that is never published: the fixed key that
// next's walk would reach last, and never hands out.
func (r *keyRing) unpublished() (*signingKey, error) {
	if r.fixed < 2 {
		return newSigningKey(r.alg)
	}
	return fixedKey(r.alg, (r.start+r.fixed-1)%r.fixed)
}

// fixedKey is fixed test key i for alg, with a fresh kid.
func fixedKey(alg jose.SignatureAlgorithm, i int) (*signingKey, error) {
	name := fmt.Sprintf("testdata/rsa-2048-%d.pem", i+1)
	data, err := rsaTestKeys.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read test key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("test key %s: no PRIVATE KEY block", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("test key %s: %w", name, err)
	}
	private, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("test key %s is a %T, not an RSA key", name, key)
	}
	return &signingKey{kid: strings.ToLower(rand.Text()), alg: alg, private: private}, nil
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

// RotateKey makes the provider sign with a new key under a new kid. Tokens issued from now on are
// signed with it; the JWKS publishes it after the earlier keys, which stay published. Call it from
// the goroutine running the test.
func (p *Provider) RotateKey() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	key, err := p.keyRing.next()
	if err != nil {
		p.tb.Fatalf("oidctest: rotate key: %v", err)
	}
	p.keys = append(p.keys, key)
}

// UnpublishOldKeys takes every key but the one that currently signs tokens out of the JWKS, as a
// provider does some time after a rotation. Call it from the goroutine running the test.
func (p *Provider) UnpublishOldKeys() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = p.keys[len(p.keys)-1:]
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
	return p.signJWT(claims, mode, typ, "")
}

// signJWT is SignJWT, with kid, when not empty, in place of the signing key's kid.
func (p *Provider) signJWT(claims map[string]any, mode SignMode, typ, kid string) (string, error) {
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
	if jwk, ok := key.Key.(jose.JSONWebKey); ok && kid != "" {
		jwk.KeyID = kid
		key.Key = jwk
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
		k, err := p.keyRing.unpublished()
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
