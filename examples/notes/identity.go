package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// user is who is asking, as latchkey's signed assertion says.
type user struct {
	jwt.Claims
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	SessionID         string   `json:"sid"`
}

// Name is what the page calls the user.
func (u *user) Name() string {
	if u.PreferredUsername != "" {
		return u.PreferredUsername
	}
	if u.Email != "" {
		return u.Email
	}
	return u.Subject
}

// assertionHeader is where latchkey sends the assertion.
const assertionHeader = "X-Latchkey-Assertion"

// verifier checks latchkey's assertions against the keys latchkey
// publishes at /.latchkey/jwks.json. It fetches them when it first needs
// them, and again when an assertion names a key it does not know (latchkey
// rotated its keys), at most once every refetchEvery.
type verifier struct {
	issuer, audience, jwksURL string
	client                    *http.Client

	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time
}

const refetchEvery = 10 * time.Second

func newVerifier(issuer, audience string) *verifier {
	return &verifier{
		issuer:   issuer,
		audience: audience,
		jwksURL:  strings.TrimSuffix(issuer, "/") + "/.latchkey/jwks.json",
		client:   &http.Client{Timeout: 5 * time.Second},
	}
}

// errNoAssertion reports a request that did not come through latchkey.
var errNoAssertion = errors.New("no assertion: the request did not come through latchkey")

// verify returns the user r's assertion names, once it is checked: signed
// with one of latchkey's keys (ES256), by latchkey (iss), for this app
// (aud), and not expired.
func (v *verifier) verify(ctx context.Context, r *http.Request) (*user, error) {
	raw := r.Header.Get(assertionHeader)
	if raw == "" {
		return nil, errNoAssertion
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("parse the assertion: %w", err)
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("the assertion has more than one signature")
	}
	keys, err := v.keysFor(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var u user
	if err := tok.Claims(keys, &u); err != nil {
		return nil, fmt.Errorf("check the assertion's signature: %w", err)
	}
	if err := u.Validate(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.audience}, Time: time.Now()}); err != nil {
		return nil, fmt.Errorf("check the assertion's claims: %w", err)
	}
	return &u, nil
}

// keysFor returns latchkey's keys, fetched again if none is kid.
func (v *verifier) keysFor(ctx context.Context, kid string) (*jose.JSONWebKeySet, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys != nil && (len(v.keys.Key(kid)) > 0 || time.Since(v.fetched) < refetchEvery) {
		return v.keys, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch latchkey's keys: %w", err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch latchkey's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch latchkey's keys: %s answered %s", v.jwksURL, resp.Status)
	}
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&keys); err != nil {
		return nil, fmt.Errorf("read latchkey's keys: %w", err)
	}
	v.keys, v.fetched = &keys, time.Now()
	return v.keys, nil
}
