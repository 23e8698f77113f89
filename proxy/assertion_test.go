package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	secretA = "first-secret-of-at-least-32-characters"
	secretB = "second-secret-of-at-least-32-characters"
	issuer  = "https://login.example.com"
	app     = "http://127.0.0.1:8080"
)

func newSigner(t *testing.T, secrets ...string) *Signer {
	t.Helper()
	keys, err := SigningKeysFromSecrets(secrets)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(issuer, keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fetchKeys reads a key set from a JWKS handler, as an app would.
func fetchKeys(t *testing.T, h http.Handler) *jose.JSONWebKeySet {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/.latchkey/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		t.Fatal(err)
	}
	return &keys
}

type appClaims struct {
	jwt.Claims
	SessionID         string   `json:"sid"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

// verify checks an assertion as the app would, with go-jose.
func verify(token string, keys *jose.JSONWebKeySet, now time.Time) (*appClaims, *jose.Header, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, nil, err
	}
	var c appClaims
	if err := tok.Claims(keys, &c); err != nil {
		return nil, nil, err
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{app}, Time: now}, 0); err != nil {
		return nil, nil, err
	}
	return &c, &tok.Headers[0], nil
}

func TestAssertionVerifies(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	signer := newSigner(t, secretA, secretB)
	ih := newIdentityHeaders(t, IdentityConfig{Signer: signer, Audience: app, Now: func() time.Time { return now }})
	h := http.Header{}
	ih.Set(h, ada)
	token := h.Get("X-Latchkey-Assertion")
	if token == "" {
		t.Fatal("no assertion")
	}
	keys := fetchKeys(t, signer.JWKS())
	if len(keys.Keys) != 2 {
		t.Errorf("the key set has %d keys, want both secrets'", len(keys.Keys))
	}

	c, header, err := verify(token, keys, now)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if header.KeyID != signer.KeyID() || header.KeyID != keys.Keys[0].KeyID || header.Algorithm != "ES256" || header.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header kid %q alg %q typ %v; want kid %q (the first secret's), ES256, JWT", header.KeyID, header.Algorithm, header.ExtraHeaders["typ"], keys.Keys[0].KeyID)
	}
	if c.Issuer != issuer || c.Subject != "ada" || !slices.Equal(c.Audience, jwt.Audience{app}) {
		t.Errorf("iss %q sub %q aud %q", c.Issuer, c.Subject, c.Audience)
	}
	if c.IssuedAt == nil || !c.IssuedAt.Time().Equal(now) || c.Expiry == nil || !c.Expiry.Time().Equal(now.Add(AssertionLifetime)) {
		t.Errorf("iat %v exp %v, want %v and %v", c.IssuedAt, c.Expiry, now, now.Add(AssertionLifetime))
	}
	if c.SessionID != SessionID(ada.SessionKey) || c.Email != "ada@example.com" || !c.EmailVerified ||
		c.PreferredUsername != "ada.l" || !slices.Equal(c.Groups, []string{"staff", "admins"}) {
		t.Errorf("claims %+v", c)
	}
	if c.SessionID == ada.SessionKey || strings.Contains(token, ada.SessionKey) {
		t.Error("the assertion carries the session's store key")
	}
	if strings.Contains(token, ada.AccessToken) {
		t.Error("the assertion carries the access token")
	}

	if _, _, err := verify(token, keys, now.Add(AssertionLifetime+time.Second)); !errors.Is(err, jwt.ErrExpired) {
		t.Errorf("verify after the lifetime: %v, want expired", err)
	}
	other := fetchKeys(t, newSigner(t, "another-secret-of-at-least-32-characters").JWKS())
	if _, _, err := verify(token, other, now); err == nil {
		t.Error("verified against another key set")
	}
}

func TestAssertionClaimsWithoutEmail(t *testing.T) {
	signer := newSigner(t, secretA)
	token, err := signer.Sign(&Identity{Subject: "svc"}, app, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	var raw map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["email_verified"]; ok {
		t.Error("email_verified without an email")
	}
	if groups, ok := raw["groups"].([]any); !ok || len(groups) != 0 {
		t.Errorf("groups = %v, want an empty list", raw["groups"])
	}
}

func TestAssertionRotation(t *testing.T) {
	now := time.Now()
	before := newSigner(t, secretA)
	after := newSigner(t, secretB, secretA) // a new secret put first
	token, err := before.Sign(ada, app, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := verify(token, fetchKeys(t, after.JWKS()), now); err != nil {
		t.Errorf("an assertion signed before the rotation does not verify after it: %v", err)
	}
	if after.KeyID() == before.KeyID() {
		t.Error("the new secret does not sign")
	}
}

func TestSigningKeysAreShared(t *testing.T) {
	// Two instances with the same secrets publish the same keys.
	a, b := newSigner(t, secretA, secretB), newSigner(t, secretA, secretB)
	if string(a.jwks) != string(b.jwks) || a.etag != b.etag {
		t.Error("two signers from the same secrets publish different key sets")
	}
	// The derivation is part of the deployed contract: a change would
	// make instances of two versions disagree during a rolling update.
	// This value was computed from secretA outside Go, following the
	// derivation as documented (HKDF-SHA256, then the RFC 7638 thumbprint).
	if got, want := a.KeyID(), "wdsOMkrimCcC-dQ3rSJj8WOO8v_jaNvJmyDi4y7roEE"; got != want {
		t.Errorf("the key derived from a fixed secret changed: kid %q, was %q", got, want)
	}
}

func TestSigningKeysFromSecretsRefuses(t *testing.T) {
	if _, err := SigningKeysFromSecrets([]string{secretA, "short"}); err == nil || !strings.Contains(err.Error(), "secret 2") {
		t.Errorf("a short secret: %v", err)
	}
}

func TestParseSigningKeys(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8 := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	sec1 := func(k *ecdsa.PrivateKey) string {
		der, _ := x509.MarshalECPrivateKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	params := string(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}))
	tests := []struct {
		name    string
		pem     string
		want    []*ecdsa.PrivateKey
		wantErr string
	}{
		{name: "PKCS #8", pem: pkcs8(p256), want: []*ecdsa.PrivateKey{p256}},
		{name: "SEC 1 after EC PARAMETERS, as openssl ecparam writes it", pem: params + sec1(p256), want: []*ecdsa.PrivateKey{p256}},
		{name: "two keys, the signing one first", pem: pkcs8(other) + sec1(p256), want: []*ecdsa.PrivateKey{other, p256}},
		{name: "P-384", pem: pkcs8(p384), wantErr: "not a P-256 key"},
		{name: "RSA", pem: pkcs8(rsaKey), wantErr: "not a P-256 key"},
		{name: "RSA in PKCS #1", pem: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})), wantErr: `"RSA PRIVATE KEY"`},
		{name: "a certificate", pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), wantErr: "CERTIFICATE"},
		{name: "not PEM", pem: "hello", wantErr: "no PEM private key"},
		{name: "damaged", pem: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})), wantErr: "PEM block 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseSigningKeys([]byte(tt.pem))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(keys, tt.want, func(a, b *ecdsa.PrivateKey) bool { return a.Equal(b) }) {
				t.Errorf("got %d keys, not the ones written", len(keys))
			}
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	keys, _ := SigningKeysFromSecrets([]string{secretA})
	for name, f := range map[string]func() (*Signer, error){
		"no issuer": func() (*Signer, error) { return NewSigner("", keys) },
		"no key":    func() (*Signer, error) { return NewSigner(issuer, nil) },
		"P-384":     func() (*Signer, error) { return NewSigner(issuer, []*ecdsa.PrivateKey{p384}) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewIdentityHeaders(IdentityConfig{Signer: newSigner(t, secretA)}); err == nil {
		t.Error("an assertion without an audience was accepted")
	}
}

func TestJWKSHandler(t *testing.T) {
	signer := newSigner(t, secretA)
	srv := httptest.NewServer(signer.JWKS())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != JWKSCacheControl {
		t.Errorf("status %d, Content-Type %q, Cache-Control %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("body %s: %v", body, err)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != signer.KeyID() {
		t.Errorf("key %v", k)
	}
	if _, private := k["d"]; private {
		t.Fatal("the key set publishes the private key")
	}

	etag := resp.Header.Get("Etag")
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: status %d, want 304", etag, resp.StatusCode)
	}

	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// clock is a fake clock for the assertion cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestAssertionSignedOncePerMinute(t *testing.T) {
	clk := &clock{now: time.Now()}
	ih := newIdentityHeaders(t, IdentityConfig{Signer: newSigner(t, secretA), Audience: app, Now: clk.Now})
	assertion := func() string {
		h := http.Header{}
		ih.Set(h, ada)
		return h.Get("X-Latchkey-Assertion")
	}
	first := assertion()
	clk.advance(59 * time.Second)
	if assertion() != first {
		t.Fatal("signed again within the minute")
	}
	clk.advance(2 * time.Second) // 61 s: less than a minute of life left
	second := assertion()
	if second == first {
		t.Fatal("still sending an assertion with less than a minute to live")
	}
	changed := *ada
	changed.Groups = []string{"staff"}
	h := http.Header{}
	ih.Set(h, &changed)
	if h.Get("X-Latchkey-Assertion") == second {
		t.Error("the same assertion after the groups changed")
	}

	// A crowd of requests of one session, when its assertion is due,
	// signs once.
	clk.advance(2 * time.Minute)
	tokens := make(chan string, 64)
	var wg sync.WaitGroup
	for range cap(tokens) {
		wg.Go(func() { h := http.Header{}; ih.Set(h, &changed); tokens <- h.Get("X-Latchkey-Assertion") })
	}
	wg.Wait()
	close(tokens)
	distinct := map[string]bool{}
	for tok := range tokens {
		distinct[tok] = true
	}
	if len(distinct) != 1 {
		t.Errorf("%d requests made %d assertions, want 1", cap(tokens), len(distinct))
	}
}

func TestAssertionTooLarge(t *testing.T) {
	logs := &logRecords{}
	ih := newIdentityHeaders(t, IdentityConfig{Signer: newSigner(t, secretA), Audience: app, Log: slog.New(logs)})
	id := &Identity{SessionKey: "k", Subject: "ada"}
	for i := range 2000 {
		id.Groups = append(id.Groups, fmt.Sprintf("group-number-%d", i))
	}
	for range 3 {
		h := http.Header{}
		ih.Set(h, id)
		if h.Get("X-Latchkey-Assertion") != "" {
			t.Fatal("an assertion of more than the bound was sent")
		}
		if h.Get("X-Forwarded-User") != "ada" {
			t.Fatal("the other headers went missing")
		}
	}
	var errors int
	for _, line := range logs.lines() {
		if strings.HasPrefix(line, "assertion not sent") {
			errors++
		}
	}
	if errors != 1 {
		t.Errorf("logged %q, want the assertion's failure once", logs.lines())
	}
}

func TestForwardAssertion(t *testing.T) {
	signer := newSigner(t, secretA)
	upstream := newRecordingUpstream(t)
	f := newFront(t, upstream.URL, frontOptions{identity: IdentityConfig{Signer: signer, Audience: app}})
	f.signIn(ada)
	rawRequest(t, f.Server, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Latchkey-Assertion: forged\r\nX_Latchkey_Assertion: forged\r\n\r\n")
	got := upstream.got(t).Header
	if v := got.Values("X-Latchkey-Assertion"); len(v) != 1 || v[0] == "forged" {
		t.Fatalf("X-Latchkey-Assertion = %q", v)
	}
	if got.Get("X_latchkey_assertion") != "" {
		t.Error("the client's underscore copy arrived")
	}
	c, _, err := verify(got.Get("X-Latchkey-Assertion"), fetchKeys(t, signer.JWKS()), time.Now())
	if err != nil || c.Subject != "ada" {
		t.Errorf("the app could not verify what it received: %v %+v", err, c)
	}
}
