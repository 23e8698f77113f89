package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A session's tokens are bearer credentials, so the store keeps them only
// sealed, with a key it never holds: the key is derived from the random id
// in the session's cookie, and the store knows the session only by a hash
// of that id. Neither a copy of the store nor a copy plus SESSION_SECRET
// (which seals cookies, not ids) opens them; only a request carrying the
// cookie does. The CSRF token is derived from the id the same way, so it is
// not stored at all.

// errTokensSealed reports tokens asked of a session read without its
// cookie (a list of the user's sessions, say), which cannot open them.
var errTokensSealed = errors.New("session tokens are sealed: only a request with the session's cookie opens them")

// errTokensUnreadable reports sealed tokens that do not open: sealed for
// another cookie or another key, or damaged.
var errTokensUnreadable = errors.New("session tokens do not open")

// sealFormat starts every sealed value: AES-256-GCM with a random nonce.
const sealFormat = 1

// cookieKeys are what the id in a session cookie gives, besides the store
// key: the key that seals the session's tokens, and its CSRF token.
type cookieKeys struct {
	tokens [32]byte
	csrf   string
	// gcm seals and opens with tokens; like every AEAD of the standard
	// library it holds no state that a Seal or Open changes.
	gcm cipher.AEAD
	// last is the last value opened with these keys, and what it held.
	// The requests of a session open the same value again and again
	// (every proxied request with PASS_ACCESS_TOKEN), and opening costs
	// about 5 µs and 8 KB; the keys live as long as the opened cookie.
	last atomic.Pointer[openedTokens]
}

// openedTokens are tokens opened from sealed under the session key key.
type openedTokens struct {
	sealed, key string
	tokens      Tokens
}

// deriveKeys derives the keys of the session whose cookie holds id.
func deriveKeys(id string) *cookieKeys {
	k := new(cookieKeys)
	// HKDF-SHA256 returns an error only for a length beyond 255 hashes.
	tokens, _ := hkdf.Key(sha256.New, []byte(id), nil, "latchkey session tokens", len(k.tokens))
	copy(k.tokens[:], tokens)
	csrf, _ := hkdf.Key(sha256.New, []byte(id), nil, "latchkey session csrf", 32)
	k.csrf = base64.RawURLEncoding.EncodeToString(csrf)
	block, err := aes.NewCipher(k.tokens[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	if k.gcm, err = cipher.NewGCMWithRandomNonce(block); err != nil {
		panic(err) // AES's block size is always valid
	}
	return k
}

// seal returns tokens sealed for the session under key: the key is the
// associated data, so a sealed value copied to another session's record
// does not open there.
func (k *cookieKeys) seal(tokens Tokens, key string) string {
	plain := appendFields(make([]byte, 0, fieldsSize(&tokens, tokenFields)), &tokens, tokenFields)
	return string(k.gcm.Seal([]byte{sealFormat}, nil, plain, []byte(key)))
}

// open opens tokens sealed for the session under key.
func (k *cookieKeys) open(sealed, key string) (Tokens, error) {
	if sealed == "" || sealed[0] != sealFormat {
		return Tokens{}, errTokensUnreadable
	}
	if last := k.last.Load(); last != nil && last.sealed == sealed && last.key == key {
		return last.tokens, nil
	}
	plain, err := k.gcm.Open(nil, nil, []byte(sealed[1:]), []byte(key))
	if err != nil {
		return Tokens{}, errTokensUnreadable
	}
	var t Tokens
	r := recordReader{rest: string(plain)}
	readFields(&r, &t, tokenFields)
	if r.bad {
		return Tokens{}, errTokensUnreadable
	}
	k.last.Store(&openedTokens{sealed: sealed, key: key, tokens: t})
	return t, nil
}

// tokenFields are the fields of sealed tokens, in the record's tagged form.
// Rows are only ever added at the end.
var tokenFields = []field[Tokens]{
	{tag: 1, name: "IDToken", str: func(t *Tokens) *string { return &t.IDToken }},
	{tag: 2, name: "AccessToken", str: func(t *Tokens) *string { return &t.AccessToken }},
	{tag: 3, name: "TokenType", str: func(t *Tokens) *string { return &t.TokenType }},
	{tag: 4, name: "RefreshToken", str: func(t *Tokens) *string { return &t.RefreshToken }},
	{tag: 5, name: "Expiry", time: func(t *Tokens) *time.Time { return &t.Expiry }},
}

// Seal keeps tokens in s: sealed, as the store will hold them, with a key
// derived from id, the random id in the session's cookie (HKDF-SHA256, then
// AES-256-GCM with s.Key as associated data); and in the clear, for this
// process. Sessions.Start seals every new session; tests of stores use it
// to make sessions without a login.
func (s *Session) Seal(id string, tokens Tokens) {
	s.keys = deriveKeys(id)
	s.sealed = s.keys.seal(tokens, s.Key)
	s.tokens = &tokens
}

// Tokens returns the session's tokens in the clear. Only a session from
// Sessions.Start or Sessions.Load (a request that carries its cookie) can
// open them; one read from the store alone (such as the user's other
// sessions) cannot.
func (s *Session) Tokens() (Tokens, error) {
	switch {
	case s.keys != nil && s.sealed != "":
		t, err := s.keys.open(s.sealed, s.Key)
		if err != nil {
			return Tokens{}, fmt.Errorf("open session tokens: %w", err)
		}
		return t, nil
	case s.tokens != nil:
		// Just signed in, or a record from before tokens were sealed.
		return *s.tokens, nil
	case s.keys != nil:
		return Tokens{}, nil // a session without tokens
	default:
		return Tokens{}, errTokensSealed
	}
}

// IDTokenHint returns the session's ID token, for logout's id_token_hint,
// or "" when its tokens do not open: the logout then goes without a hint.
func (s *Session) IDTokenHint() string {
	t, err := s.Tokens()
	if err != nil {
		return ""
	}
	return t.IDToken
}

// legacyTokens returns the tokens of a record from before sealing, which
// held them in the clear; decoding such a record fills them in.
func (s *Session) legacyTokens() *Tokens {
	if s.tokens == nil {
		s.tokens = new(Tokens)
	}
	return s.tokens
}

// stored returns the session as a store keeps it: without what only the
// cookie gives (the keys, the CSRF token) and without tokens in the clear.
func (s *Session) stored() Session {
	c := *s
	c.keys, c.tokens, c.CSRFToken = nil, nil, ""
	return c
}
