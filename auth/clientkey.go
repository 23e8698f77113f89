package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// AuthMethodPrivateKeyJWT authenticates the client with an assertion it
// signs with its own private key (RFC 7523, OpenID Connect Core 9): no
// shared secret at all.
const AuthMethodPrivateKeyJWT = "private_key_jwt"

// clientAssertionLifetime is how long a client assertion is good for: it
// is made for one token request, sent at once.
const clientAssertionLifetime = 2 * time.Minute

// ClientKey is the client's private key for private_key_jwt, and how its
// assertions name and sign with it.
type ClientKey struct {
	// KeyID is the kid of the assertions: the key's name at the provider.
	KeyID string
	// Algorithm is the signature algorithm the key type implies.
	Algorithm string
	signer    jose.Signer
}

// ParsePrivateKey reads a private key in PEM: PKCS #8 ("PRIVATE KEY"),
// PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"), as openssl
// writes them; RSA of at least 2048 bits, ECDSA on P-256, P-384 or P-521,
// or Ed25519.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		// Skip what openssl puts before the key, such as EC PARAMETERS.
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			break
		}
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("the private key is encrypted; latchkey needs it unencrypted")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("read the %s: %w", strings.ToLower(block.Type), err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	if _, err := keyAlgorithm(signer); err != nil {
		return nil, err
	}
	return signer, nil
}

// keyAlgorithm is the JWS algorithm for a key: RS256 for RSA, ES256, ES384
// or ES512 by the curve, EdDSA for Ed25519.
func keyAlgorithm(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("the RSA key has %d bits; at least 2048 are needed", k.N.BitLen())
		}
		return jose.RS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
		return "", fmt.Errorf("the EC key is on %s; P-256, P-384 or P-521 are needed", k.Curve.Params().Name)
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("a %T key is none of RSA, ECDSA or Ed25519", key)
}

// NewClientKey returns the ClientKey of key, named keyID in its
// assertions, or when keyID is empty by its RFC 7638 thumbprint (SHA-256).
func NewClientKey(key crypto.Signer, keyID string) (*ClientKey, error) {
	alg, err := keyAlgorithm(key)
	if err != nil {
		return nil, err
	}
	if keyID == "" {
		thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("client key thumbprint: %w", err)
		}
		keyID = base64.RawURLEncoding.EncodeToString(thumb)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: keyID}}, nil)
	if err != nil {
		return nil, fmt.Errorf("client key signer: %w", err)
	}
	return &ClientKey{KeyID: keyID, Algorithm: string(alg), signer: signer}, nil
}

// clientAssertionTransport authenticates the client at the token endpoint
// with private_key_jwt: it adds a fresh client assertion to every request
// to tokenURL, whatever grant it carries, the code exchange's and every
// refresh's alike.
type clientAssertionTransport struct {
	next     http.RoundTripper
	tokenURL string
	clientID string
	audience string
	key      *ClientKey
}

// maxTokenRequestBytes bounds the body of latchkey's own token requests,
// read again to add the assertion.
const maxTokenRequestBytes = 64 << 10

func (t *clientAssertionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != t.tokenURL || req.Body == nil {
		return t.next.RoundTrip(req)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxTokenRequestBytes))
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read token request: %w", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("read token request: %w", err)
	}
	assertion, err := client.SignedJWTProfileAssertion(t.clientID, []string{t.audience}, clientAssertionLifetime, t.key.signer)
	if err != nil {
		return nil, fmt.Errorf("sign client assertion: %w", err)
	}
	form.Set("client_assertion_type", oidc.ClientAssertionTypeJWTAssertion)
	form.Set("client_assertion", assertion)
	encoded := []byte(form.Encode())
	// A RoundTripper must not change the request it is given: send a copy.
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(encoded))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(encoded)), nil }
	out.ContentLength = int64(len(encoded))
	return t.next.RoundTrip(out)
}
