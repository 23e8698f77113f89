package proxy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// AssertionLifetime is how long a signed assertion is valid. It is short,
// so that an assertion that leaks (an app's log, a header echoed to a
// third party) is soon worthless, and long enough that a session's
// assertion is signed about once a minute (see assertionReuse) and that an
// app whose clock is a little off, or a slow request, still accepts it.
const AssertionLifetime = 2 * time.Minute

// assertionReuse is how much life an assertion must have left to be sent
// again: the app always receives one valid for at least a minute, and an
// active session costs one signature a minute, not one a request.
const assertionReuse = time.Minute

// maxAssertionBytes bounds an assertion. One that would be longer (a
// user in very many groups) is not sent at all, so that the app never
// sees a partial list of groups, signed.
const maxAssertionBytes = 16 << 10

// minSecretLength is the shortest secret a signing key is derived from.
const minSecretLength = 32

// Signer signs the assertions latchkey sends to the app, an ES256 JWT,
// and publishes its keys as a JSON Web Key Set. The first key signs;
// every key is published, so that assertions signed before a rotation
// still verify.
type Signer struct {
	issuer string
	signer jose.Signer
	kid    string
	jwks   []byte
	etag   string
}

// assertionClaims are the claims of an assertion.
type assertionClaims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          string   `json:"aud"`
	Expiry            int64    `json:"exp"`
	IssuedAt          int64    `json:"iat"`
	SessionID         string   `json:"sid,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups"`
}

// NewSigner returns a Signer whose assertions name issuer (BASE_URL) as
// iss. keys are P-256 keys, the signing one first.
func NewSigner(issuer string, keys []*ecdsa.PrivateKey) (*Signer, error) {
	if issuer == "" {
		return nil, errors.New("assertion signer: no issuer")
	}
	if len(keys) == 0 {
		return nil, errors.New("assertion signer: no key")
	}
	set := jose.JSONWebKeySet{}
	seen := map[string]bool{}
	var kid string
	for i, k := range keys {
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("assertion signer: key %d is not a P-256 key, which ES256 needs", i+1)
		}
		thumb, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("assertion signer: key %d: %w", i+1, err)
		}
		id := base64.RawURLEncoding.EncodeToString(thumb)
		if i == 0 {
			kid = id
		}
		if !seen[id] {
			seen[id] = true
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: id, Algorithm: string(jose.ES256), Use: "sig"})
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: keys[0], KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("assertion signer: %w", err)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("assertion signer: encode the key set: %w", err)
	}
	sum := sha256.Sum256(jwks)
	return &Signer{
		issuer: issuer,
		signer: signer,
		kid:    kid,
		jwks:   jwks,
		etag:   strconv.Quote(base64.RawURLEncoding.EncodeToString(sum[:16])),
	}, nil
}

// KeyID is the kid of the signing key: its RFC 7638 thumbprint.
func (s *Signer) KeyID() string { return s.kid }

// Sign returns the assertion for id, issued at now for the app named
// audience. Its sid is a one-way hash of id.SessionKey.
func (s *Signer) Sign(id *Identity, audience string, now time.Time) (string, error) {
	c := assertionClaims{
		Issuer:            s.issuer,
		Subject:           id.Subject,
		Audience:          audience,
		IssuedAt:          now.Unix(),
		Expiry:            now.Add(AssertionLifetime).Unix(),
		Email:             id.Email,
		PreferredUsername: id.PreferredUsername,
		Groups:            id.Groups,
	}
	if id.SessionKey != "" {
		c.SessionID = SessionID(id.SessionKey)
	}
	if id.Email != "" {
		verified := id.EmailVerified
		c.EmailVerified = &verified
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode assertion: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize assertion: %w", err)
	}
	if len(token) > maxAssertionBytes {
		return "", fmt.Errorf("the assertion is %d bytes, more than %d (too many groups?)", len(token), maxAssertionBytes)
	}
	return token, nil
}

// SessionID is the sid of the assertions of the session stored under
// key: stable for the session's life and the same on every instance, but
// neither its cookie nor its store key, and not reversible to either.
func SessionID(key string) string {
	sum := sha256.Sum256([]byte("latchkey session id\x00" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// JWKSCacheControl lets apps and their libraries cache the key set for
// five minutes. A new key is published as soon as it is configured; to
// rotate without a moment where an app lacks the signing key, add the
// new secret second (published, not signing), wait five minutes, then
// move it first. Verifiers that fetch again on an unknown kid (go-jose's
// users, most JWKS libraries) need no wait.
const JWKSCacheControl = "public, max-age=300"

// JWKS returns the handler of the key set (/.latchkey/jwks.json).
func (s *Signer) JWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", JWKSCacheControl)
		h.Set("Etag", s.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.jwks))
	})
}

// SigningKeysFromSecrets derives a P-256 key from each secret, with
// HKDF-SHA256, so that every instance sharing the secrets (SESSION_SECRET)
// signs with the same keys and publishes the same key set. A secret must
// have at least 32 bytes.
func SigningKeysFromSecrets(secrets []string) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, 0, len(secrets))
	for i, secret := range secrets {
		if len(secret) < minSecretLength {
			return nil, fmt.Errorf("secret %d has %d bytes; deriving a signing key needs at least %d", i+1, len(secret), minSecretLength)
		}
		k, err := deriveKey(secret)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// deriveKey turns a secret into a P-256 scalar. A derived value that is
// zero or not below the group order (odds about 2⁻³²) is skipped for the
// next counter value.
func deriveKey(secret string) (*ecdsa.PrivateKey, error) {
	for counter := range 64 {
		raw, err := hkdf.Key(sha256.New, []byte(secret), nil, "latchkey assertion signing key "+strconv.Itoa(counter), 32)
		if err != nil {
			return nil, fmt.Errorf("derive signing key: %w", err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("derive signing key: no valid scalar")
}

// ParseSigningKeys reads P-256 private keys from PEM: PKCS #8 ("PRIVATE
// KEY") or SEC 1 ("EC PRIVATE KEY") blocks, the signing key first. Make
// one with
//
//	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out assertion-key.pem
func ParseSigningKeys(data []byte) ([]*ecdsa.PrivateKey, error) {
	var keys []*ecdsa.PrivateKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS": // openssl ecparam -genkey writes them before the key
			continue
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %d is %q, not a P-256 private key", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("PEM block %d is not a P-256 key, which ES256 needs", n)
		}
		keys = append(keys, ec)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM private key found")
	}
	return keys, nil
}
