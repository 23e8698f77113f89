package auth

import (
	"context"
	"errors"
	"time"
)

// ErrStoreUnavailable reports a session store that cannot be reached; the
// app answers 503 and tries again on the next request.
var ErrStoreUnavailable = errors.New("session store unavailable")

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
	// ProviderSID is the provider's session id (the ID token's sid claim),
	// by which back-channel logout names sessions.
	ProviderSID string
	// CSRFToken guards this session's state-changing forms.
	CSRFToken string
	// UserAgent is the browser that signed in.
	UserAgent string
	// CreatedAt is when the user signed in.
	CreatedAt time.Time
	// LastSeen is when the session was last used, to within a minute.
	LastSeen time.Time
	// IdleUntil is when the session ends unless it is used again.
	IdleUntil time.Time
	// ExpiresAt is when the session ends, however active it is.
	ExpiresAt time.Time
}

// Deadline is when the session ends if nothing happens: the earlier of its
// idle and absolute limits.
func (s *Session) Deadline() time.Time {
	if s.IdleUntil.Before(s.ExpiresAt) {
		return s.IdleUntil
	}
	return s.ExpiresAt
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

// SessionStore keeps sessions on the server. A session past its Deadline
// is gone: no method returns it, and stores delete it in time. Every
// implementation passes the suite in auth/storetest, and is safe for
// concurrent use, also by several processes when it says so. Errors from a
// backend that cannot be reached wrap ErrStoreUnavailable.
type SessionStore interface {
	// Save creates or replaces s, stored under s.Key.
	Save(ctx context.Context, s *Session) error
	// Load returns the session stored under key, or ErrNoSession.
	Load(ctx context.Context, key string) (*Session, error)
	// Touch records that the session under key was used at lastSeen and
	// moves its idle limit to idleUntil. An unknown key is not an error.
	Touch(ctx context.Context, key string, lastSeen, idleUntil time.Time) error
	// Delete ends the session under key. An unknown key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteBySID ends every session with that ProviderSID and says how many.
	DeleteBySID(ctx context.Context, sid string) (int, error)
	// DeleteBySubject ends every session of the user with that subject,
	// except the one under keep ("" keeps none), and says how many.
	DeleteBySubject(ctx context.Context, subject, keep string) (int, error)
	// ListBySubject returns the user's live sessions, newest first.
	ListBySubject(ctx context.Context, subject string) ([]*Session, error)
	// Claim marks id as used until expires. It reports false when id was
	// already claimed and has not expired: a replay.
	Claim(ctx context.Context, id string, expires time.Time) (bool, error)
	// Sweep deletes what has expired and says how many sessions went.
	// A store whose backend expires entries by itself may do nothing.
	Sweep(ctx context.Context) (int, error)
}
