package auth

import (
	"cmp"
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
	// ProviderSID is the provider's session id (the ID token's sid claim),
	// by which back-channel logout names sessions.
	ProviderSID string
	// CSRFToken guards this session's state-changing forms. It is derived
	// from the id in the cookie and never stored: sessions from
	// Sessions.Start and Sessions.Load have it.
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

	// sealed holds the provider's tokens, sealed for the cookie's id (see
	// Seal): all the store keeps of them.
	sealed string
	// tokens are the tokens in the clear, when this process has them: from
	// the login, or from a record written before tokens were sealed.
	tokens *Tokens
	// keys open sealed. Only the cookie's id gives them, so only a session
	// loaded for a request that carries its cookie has them.
	keys *cookieKeys
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
	// EmailVerified is the provider's email_verified: rules that admit
	// users by email address trust only a verified one.
	EmailVerified     bool
	PreferredUsername string
	Picture           string
	// Groups are the user's groups, from the claim the provider was told
	// to read them from (see ProviderConfig.GroupsClaim).
	Groups []string
	// ClaimsJSON is the userinfo response, indented once at sign-in so
	// pages never re-encode it.
	ClaimsJSON string
}

// Tokens are the tokens the provider gave a session. They never reach a
// page, and the store keeps them only sealed (see Session.Tokens).
type Tokens struct {
	// IDToken is kept for id_token_hint at logout.
	IDToken      string
	AccessToken  string
	TokenType    string
	RefreshToken string
	Expiry       time.Time
}

// SessionStore keeps sessions on the server. A session past its Deadline
// is gone: no method returns it, and stores delete it in time. A record
// that cannot be decoded is no session either. Every implementation passes
// the suite in auth/storetest, and is safe for concurrent use, also by
// several processes when it says so. Errors from a backend that cannot be
// reached wrap ErrStoreUnavailable.
//
// An ended session stays ended: once a session has been deleted, by any of
// the Delete methods, or has passed its Deadline, no later call of any
// method, on any process sharing the store, brings it back. Only Create
// makes a session, and only under a key that was never used; every other
// write changes a session that is still there, or nothing.
type SessionStore interface {
	// Create stores the new session s under s.Key, and fails with
	// ErrSessionExists when the key is taken. Logins create sessions, each
	// under a key made from a fresh random id.
	Create(ctx context.Context, s *Session) error
	// Load returns the session stored under key, or ErrNoSession.
	Load(ctx context.Context, key string) (*Session, error)
	// Update applies change to the live session under key and stores the
	// result, in one atomic step: nothing that ends or changes the session
	// comes between the read and the write. It returns the session as
	// stored, or ErrNoSession (and writes nothing) when no live session is
	// under key. change runs on a copy of the current session, and may run
	// more than once when the session changed meanwhile; when it fails,
	// nothing is written and its error is returned. See ApplyUpdate for
	// what change may not touch.
	Update(ctx context.Context, key string, change func(*Session) error) (*Session, error)
	// Delete ends the session under key. An unknown key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteBySID ends every session with that ProviderSID and says how many.
	DeleteBySID(ctx context.Context, sid string) (int, error)
	// DeleteBySubject ends every session of the user with that subject,
	// except the one under keep ("" keeps none), and says how many.
	DeleteBySubject(ctx context.Context, subject, keep string) (int, error)
	// ListBySubject returns the user's live sessions, newest first (in
	// the order of NewestFirst).
	ListBySubject(ctx context.Context, subject string) ([]*Session, error)
	// Claim marks id as used until expires. It reports false when id was
	// already claimed and has not expired: a replay.
	Claim(ctx context.Context, id string, expires time.Time) (bool, error)
	// Sweep deletes what has expired and says how many sessions went.
	// A store whose backend expires entries by itself may do nothing.
	Sweep(ctx context.Context) (int, error)
}

// ErrSessionExists reports a Create under a key that is taken.
var ErrSessionExists = errors.New("a session already exists under this key")

// errUpdateChangesIdentity reports a change that touched what an update
// must keep.
var errUpdateChangesIdentity = errors.New("update changes the session's key, subject, provider session id, sign-in time or absolute limit")

// errUpdateEnds reports a change that would leave the session past its
// deadline; sessions end by being deleted.
var errUpdateEnds = errors.New("update would end the session")

// ApplyUpdate applies change to a copy of cur, the session a store holds,
// at now: the step every store's Update shares. The copy has no keys, so
// change cannot open the tokens; it may seal new ones. It returns ErrNoSession
// when cur has passed its deadline. change may alter the user's profile
// (not the subject), the tokens, LastSeen and IdleUntil; a change to what
// names and indexes the session (Key, User.Subject, ProviderSID,
// CreatedAt, ExpiresAt), or one that leaves the session past its
// deadline, is refused with an error.
func ApplyUpdate(cur *Session, now time.Time, change func(*Session) error) (*Session, error) {
	if !now.Before(cur.Deadline()) {
		return nil, ErrNoSession
	}
	next := *cur
	if err := change(&next); err != nil {
		return nil, err
	}
	if next.Key != cur.Key || next.User.Subject != cur.User.Subject || next.ProviderSID != cur.ProviderSID ||
		!next.CreatedAt.Equal(cur.CreatedAt) || !next.ExpiresAt.Equal(cur.ExpiresAt) {
		return nil, errUpdateChangesIdentity
	}
	if !now.Before(next.Deadline()) {
		return nil, errUpdateEnds
	}
	return &next, nil
}

// NewestFirst orders sessions as ListBySubject returns them: the newest
// first, and sessions begun at the same moment by key, so that every store
// lists them alike.
func NewestFirst(a, b *Session) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.Key, b.Key))
}
