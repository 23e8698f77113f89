package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNoSession reports that a request carries no live session.
var ErrNoSession = errors.New("no session")

// Session is one signed-in browser. Its data stays on the server; the
// browser holds only a sealed, random id.
type Session struct {
	// Key names the session in the store. It is a hash of the id in the
	// cookie, so the store's contents alone cannot be replayed as cookies.
	Key string
	// User is who signed in.
	User User
	// IDToken is kept for id_token_hint at logout; it never reaches a page.
	IDToken string
	// Tokens are the provider's access and refresh tokens.
	Tokens Tokens
	// ProviderSID is the provider's session id (the ID token's sid claim).
	ProviderSID string
	// CSRFToken guards this session's state-changing forms.
	CSRFToken string
	// CreatedAt is when the user signed in.
	CreatedAt time.Time
	// ExpiresAt is when the session ends, however active it is.
	ExpiresAt time.Time
	// UserAgent is the browser that signed in.
	UserAgent string
}

// User is the signed-in person as the provider described them.
type User struct {
	Subject string
	Name    string
	Email   string
	Picture string
	// ClaimsJSON is the userinfo response, indented once at sign-in so
	// pages never re-encode it.
	ClaimsJSON string
}

// Tokens are the OAuth tokens of a session.
type Tokens struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	Expiry       time.Time
}

// SessionStore keeps sessions by key. Implementations must be safe for
// concurrent use and return ErrNoSession for an unknown key.
type SessionStore interface {
	Save(ctx context.Context, s *Session) error
	Load(ctx context.Context, key string) (*Session, error)
	Delete(ctx context.Context, key string) error
}

// Sessions ties the session cookie to the session store.
type Sessions struct {
	store   SessionStore
	cookies *Cookies
	maxAge  time.Duration
	now     func() time.Time
}

// SessionsConfig configures Sessions.
type SessionsConfig struct {
	Store   SessionStore
	Cookies *Cookies
	// MaxAge is a session's absolute lifetime.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSessions returns Sessions over the given store and cookies.
func NewSessions(cfg SessionsConfig) *Sessions {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Sessions{store: cfg.Store, cookies: cfg.Cookies, maxAge: cfg.MaxAge, now: now}
}

const sessionCookie = "latchkey"

// Start stores a new session for user and sets its cookie. A fresh id is
// made every time, so a cookie planted before login never becomes a
// session (session fixation).
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, sess *Session) error {
	id := randomString(32)
	now := s.now()
	sess.Key = sessionKey(id)
	sess.CSRFToken = randomString(32)
	sess.CreatedAt = now
	sess.ExpiresAt = now.Add(s.maxAge)
	sess.UserAgent = r.UserAgent()
	if err := s.store.Save(ctx, sess); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return s.cookies.set(w, s.cookies.session, s.cookies.Name(sessionCookie), id, s.maxAge)
}

// Load returns the request's session, or ErrNoSession when the request
// carries none, a forged one, or one that has ended.
func (s *Sessions) Load(ctx context.Context, r *http.Request) (*Session, error) {
	var id string
	if err := s.cookies.get(r, s.cookies.session, s.cookies.Name(sessionCookie), &id); err != nil {
		return nil, ErrNoSession
	}
	sess, err := s.store.Load(ctx, sessionKey(id))
	if err != nil {
		return nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		_ = s.store.Delete(ctx, sess.Key) // best effort: the session is over either way
		return nil, ErrNoSession
	}
	return sess, nil
}

// End deletes the session and clears its cookie.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, sess *Session) error {
	s.cookies.clear(w, s.cookies.Name(sessionCookie))
	if sess == nil {
		return nil
	}
	if err := s.store.Delete(ctx, sess.Key); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// ClearCookie removes a session cookie that no longer names a session.
func (s *Sessions) ClearCookie(w http.ResponseWriter) {
	s.cookies.clear(w, s.cookies.Name(sessionCookie))
}

// HasCookie reports whether the request carries a session cookie at all,
// valid or not.
func (s *Sessions) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(s.cookies.Name(sessionCookie))
	return err == nil
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
