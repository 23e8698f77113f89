package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestParsePrivateKey: the PEM forms openssl writes, each key type with
// its algorithm; weak, encrypted and other things refused.
func TestParsePrivateKey(t *testing.T) {
	pkcs8, err := os.ReadFile("oidctest/testdata/rsa-2048-1.pem")
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := ParsePrivateKey(pkcs8)
	if err != nil {
		t.Fatalf("PKCS #8 RSA: %v", err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	encode := func(typ string, der []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		return encode("EC PRIVATE KEY", der, err)
	}
	pkcs8Of := func(k any) []byte { der, err := x509.MarshalPKCS8PrivateKey(k); return encode("PRIVATE KEY", der, err) }
	params := encode("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil)
	for _, tc := range []struct {
		name string
		pem  []byte
		alg  jose.SignatureAlgorithm // "" for refused
	}{
		{name: "PKCS #8 RSA", pem: pkcs8, alg: jose.RS256},
		{name: "PKCS #1 RSA", pem: encode("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey)), nil), alg: jose.RS256},
		{name: "SEC 1 P-256 after its parameters", pem: append(params, sec1(p256)...), alg: jose.ES256},
		{name: "PKCS #8 P-384", pem: pkcs8Of(p384), alg: jose.ES384},
		{name: "PKCS #8 Ed25519", pem: pkcs8Of(edKey), alg: jose.EdDSA},
		{name: "RSA of 1024 bits", pem: pkcs8Of(weak)},
		{name: "encrypted", pem: encode("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, nil)},
		{name: "a public key", pem: encode("PUBLIC KEY", []byte{1, 2, 3}, nil)},
		{name: "not PEM", pem: []byte("not a key")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParsePrivateKey(tc.pem)
			if tc.alg == "" {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if alg, err := keyAlgorithm(key); alg != tc.alg || err != nil {
				t.Errorf("algorithm = %s, %v; want %s", alg, err, tc.alg)
			}
		})
	}
}

// TestClientAssertionTransport: every token request, of any grant, gets
// a fresh assertion signed by the client key under its kid (by default
// the key's thumbprint), its other fields kept; other requests pass as
// they are.
func TestClientAssertionTransport(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, err := NewClientKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	thumb, _ := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if ck.KeyID != base64.RawURLEncoding.EncodeToString(thumb) || ck.Algorithm != "ES256" {
		t.Errorf("client key %s %s, want the thumbprint and ES256", ck.KeyID, ck.Algorithm)
	}
	var seen []*http.Request
	var bodies []url.Values
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		form := url.Values{}
		if r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			form, _ = url.ParseQuery(string(body))
		}
		seen, bodies = append(seen, r), append(bodies, form)
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	})
	tr := &clientAssertionTransport{next: next, tokenURL: "https://id.example/token", clientID: "c1", audience: "https://id.example/token", key: ck}
	for _, grant := range []string{"authorization_code", "refresh_token"} {
		req, _ := http.NewRequest(http.MethodPost, "https://id.example/token", strings.NewReader(url.Values{"grant_type": {grant}, "client_id": {"c1"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := http.NewRequest(http.MethodGet, "https://id.example/jwks", nil)
	if _, err := tr.RoundTrip(other); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[2] != other || len(bodies[2]) != 0 {
		t.Fatalf("the request to another URL was changed, or requests were lost: %d", len(seen))
	}
	jtis := map[string]bool{}
	for i, form := range bodies[:2] {
		if form.Get("grant_type") == "" || form.Get("client_id") != "c1" || form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			t.Errorf("token request %d = %v", i, form)
		}
		if seen[i].ContentLength != int64(len(form.Encode())) {
			t.Errorf("token request %d: Content-Length %d for a body of %d bytes", i, seen[i].ContentLength, len(form.Encode()))
		}
		jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if kid := jws.Signatures[0].Header.KeyID; kid != ck.KeyID {
			t.Errorf("kid = %q, want %q", kid, ck.KeyID)
		}
		payload, err := jws.Verify(key.Public())
		if err != nil {
			t.Fatalf("the client key does not verify the assertion: %v", err)
		}
		var claims struct {
			Iss, Sub, Jti string
			Aud           []string
			Exp, Iat      int64
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Iss != "c1" || claims.Sub != "c1" || len(claims.Aud) != 1 || claims.Aud[0] != "https://id.example/token" || claims.Exp-claims.Iat != int64(clientAssertionLifetime.Seconds()) {
			t.Errorf("assertion claims = %+v", claims)
		}
		jtis[claims.Jti] = true
	}
	if len(jtis) != 2 {
		t.Error("two assertions share a jti")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
