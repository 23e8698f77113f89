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
	"unicode/utf8"
)

// ErrNoSession reports that a request carries no live session.
var ErrNoSession = errors.New("no session")

// Sessions ties the session cookie to the session store and enforces the
// session's limits.
type Sessions struct {
	store   SessionStore
	cookies *Cookies
	maxAge  time.Duration
	idle    time.Duration
	now     func() time.Time
	touches touches
	// opened remembers the cookies opened lately, by their sealed value.
	opened *Cache[string, openedCookie]
}

// SessionsConfig configures Sessions.
type SessionsConfig struct {
	Store   SessionStore
	Cookies *Cookies
	// MaxAge is a session's absolute lifetime.
	MaxAge time.Duration
	// IdleTimeout ends a session that has not been used for that long.
	IdleTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MaxSessionsPerUser bounds the live sessions of one user: a login that
// would make more ends the user's oldest sessions (by sign-in time). Logins
// of one user that run at the same moment may each see the others' new
// sessions late, so for that moment the user may have one more session per
// login in flight; once they are done, at most MaxSessionsPerUser remain.
const MaxSessionsPerUser = 32

// MaxUserAgent bounds the bytes of the User-Agent a session keeps, to show
// the browser in the sessions panel: real browsers send far fewer.
const MaxUserAgent = 512

// touchInterval is how stale a session's last-seen time may get before a
// request records it: at most one store write per session per interval.
const touchInterval = time.Minute

// NewSessions returns Sessions over the given store and cookies.
func NewSessions(cfg SessionsConfig) *Sessions {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Sessions{
		store:   cfg.Store,
		cookies: cfg.Cookies,
		maxAge:  cfg.MaxAge,
		idle:    cfg.IdleTimeout,
		now:     now,
		opened:  NewCache[string, openedCookie](openedCookiesKept),
	}
}

const sessionCookie = "latchkey"

// Start stores a new session for user and sets its cookie. A fresh id is
// made every time, so a cookie planted before login never becomes a
// session (session fixation). The session's tokens are sealed with a key
// derived from that id, which only the cookie holds.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, sess *Session) error {
	id := randomString(32)
	now := s.now()
	sess.Key = sessionKey(id)
	var tokens Tokens
	if sess.tokens != nil {
		tokens = *sess.tokens
	}
	sess.Seal(id, tokens)
	sess.CSRFToken = sess.keys.csrf
	sess.UserAgent = truncate(r.UserAgent(), MaxUserAgent)
	sess.CreatedAt = now
	sess.LastSeen = now
	sess.IdleUntil = now.Add(s.idle)
	sess.ExpiresAt = now.Add(s.maxAge)
	if err := s.store.Create(ctx, sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := s.endOldest(ctx, sess); err != nil {
		return err
	}
	sealed, err := s.cookies.seal(w, s.cookies.session, s.cookies.Name(sessionCookie), id, s.maxAge, maxCookieSize)
	if err != nil {
		return err
	}
	// The browser comes straight back with this cookie (the login's
	// redirect): it is remembered as opened, as Load would, with the keys
	// just derived for the seal.
	s.opened.Put(sealed, openedCookie{key: sess.Key, keys: sess.keys, until: now.Add(openedFor)})
	return nil
}

// endOldest ends the oldest sessions of sess's user beyond
// MaxSessionsPerUser, sess, just created, aside. It runs after the create,
// so that of logins racing each other the last to list sees them all.
func (s *Sessions) endOldest(ctx context.Context, sess *Session) error {
	list, err := s.store.ListBySubject(ctx, sess.User.Subject)
	if err != nil {
		return fmt.Errorf("list sessions to bound them: %w", err)
	}
	others := 0
	for _, other := range list { // newest first
		if other.Key == sess.Key {
			continue
		}
		if others++; others < MaxSessionsPerUser {
			continue
		}
		if err := s.store.Delete(ctx, other.Key); err != nil {
			return fmt.Errorf("end the oldest session: %w", err)
		}
	}
	return nil
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Load returns the request's session, or ErrNoSession when the request
// carries none, a forged one, or one that has ended. A session used after
// more than touchInterval has its last-seen time and idle limit moved on.
// The session can open its tokens: the request carries its cookie.
func (s *Sessions) Load(ctx context.Context, r *http.Request) (*Session, error) {
	name := s.cookies.Name(sessionCookie)
	cookie, err := r.Cookie(name)
	if err != nil {
		return nil, ErrNoSession
	}
	now := s.now()
	opened, ok := s.opened.Get(cookie.Value)
	if !ok || !now.Before(opened.until) {
		var id string
		if err := s.cookies.open(s.cookies.session, name, cookie.Value, &id); err != nil {
			return nil, ErrNoSession
		}
		opened = openedCookie{key: sessionKey(id), keys: deriveKeys(id), until: now.Add(openedFor)}
		s.opened.Put(cookie.Value, opened)
	}
	sess, err := s.store.Load(ctx, opened.key)
	if err != nil {
		return nil, err
	}
	if !now.Before(sess.Deadline()) {
		if err := s.store.Delete(ctx, sess.Key); err != nil {
			return nil, fmt.Errorf("delete expired session: %w", err)
		}
		return nil, ErrNoSession
	}
	sess.keys, sess.CSRFToken = opened.keys, opened.keys.csrf
	// A record from before tokens were sealed is written again at once,
	// sealing them.
	unsealed := sess.sealed == "" && sess.tokens != nil
	if now.Sub(sess.LastSeen) < touchInterval && !unsealed {
		return sess, nil
	}
	// The requests of a page (or of several tabs) that find the session
	// due together write it once.
	if !s.touches.claim(sess.Key, now) && !unsealed {
		sess.LastSeen, sess.IdleUntil = now, now.Add(s.idle)
		return sess, nil
	}
	touched, err := s.update(ctx, sess, func(cur *Session) error {
		// Another instance, or a request of this one, may have recorded
		// the use since sess was read: then there is nothing to write.
		if near(now, cur.LastSeen) && !unsealed {
			return errUsedMeanwhile
		}
		cur.LastSeen, cur.IdleUntil = now, now.Add(s.idle)
		return nil
	})
	if errors.Is(err, errUsedMeanwhile) {
		sess.LastSeen, sess.IdleUntil = now, now.Add(s.idle)
		return sess, nil
	}
	if err != nil {
		s.touches.release(sess.Key)
		if errors.Is(err, ErrNoSession) {
			return nil, err // ended since it was read
		}
		return nil, fmt.Errorf("touch session: %w", err)
	}
	return touched, nil
}

// errUsedMeanwhile tells a touch that the session's use was recorded since
// it was read.
var errUsedMeanwhile = errors.New("session use recorded meanwhile")

// update applies change to sess as the store holds it now, through the
// store's Update, and returns the result with what sess's cookie gives.
// Tokens that a record from before sealing holds in the clear are sealed
// on the way.
func (s *Sessions) update(ctx context.Context, sess *Session, change func(*Session) error) (*Session, error) {
	keys := sess.keys
	if keys == nil {
		return nil, errTokensSealed
	}
	updated, err := s.store.Update(ctx, sess.Key, func(cur *Session) error {
		if cur.sealed == "" && cur.tokens != nil {
			cur.sealed = keys.seal(*cur.tokens, cur.Key)
		}
		return change(cur)
	})
	if err != nil {
		return nil, err
	}
	updated.keys, updated.CSRFToken = keys, keys.csrf
	return updated, nil
}

// List returns the live sessions of sess's user, newest first.
func (s *Sessions) List(ctx context.Context, sess *Session) ([]*Session, error) {
	list, err := s.store.ListBySubject(ctx, sess.User.Subject)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// EndOther ends the session under key if it belongs to sess's user; a key
// of someone else's session is left alone and reported as ErrNoSession.
func (s *Sessions) EndOther(ctx context.Context, sess *Session, key string) error {
	other, err := s.store.Load(ctx, key)
	if err != nil {
		return err
	}
	if other.User.Subject != sess.User.Subject {
		return ErrNoSession
	}
	if err := s.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// EndAllOthers ends every session of sess's user but sess.
func (s *Sessions) EndAllOthers(ctx context.Context, sess *Session) (int, error) {
	n, err := s.store.DeleteBySubject(ctx, sess.User.Subject, sess.Key)
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return n, nil
}

// EndBySID ends the sessions the provider knows by sid (back-channel logout).
func (s *Sessions) EndBySID(ctx context.Context, sid string) (int, error) {
	n, err := s.store.DeleteBySID(ctx, sid)
	if err != nil {
		return 0, fmt.Errorf("delete sessions by sid: %w", err)
	}
	return n, nil
}

// EndBySubject ends every session of the user with subject.
func (s *Sessions) EndBySubject(ctx context.Context, subject string) (int, error) {
	n, err := s.store.DeleteBySubject(ctx, subject, "")
	if err != nil {
		return 0, fmt.Errorf("delete sessions by subject: %w", err)
	}
	return n, nil
}

// Ping reports whether the session store can be reached, for stores that
// can fail to be; nil otherwise.
func (s *Sessions) Ping(ctx context.Context) error {
	if p, ok := s.store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ClaimOnce reports whether id is used for the first time within ttl; the
// store remembers it across processes, so a replay is caught anywhere.
func (s *Sessions) ClaimOnce(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	ok, err := s.store.Claim(ctx, id, s.now().Add(ttl))
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", id, err)
	}
	return ok, nil
}

// UpdateUser puts user, the profile read again from the provider, in
// sess as the store holds it now, and returns the result. A session that
// ended meanwhile stays ended: the answer is then ErrNoSession.
func (s *Sessions) UpdateUser(ctx context.Context, sess *Session, user User) (*Session, error) {
	updated, err := s.update(ctx, sess, func(cur *Session) error { cur.User = user; return nil })
	if err != nil && !errors.Is(err, ErrNoSession) {
		return nil, fmt.Errorf("update the user's profile: %w", err)
	}
	return updated, err
}

// updateTokens seals tokens, just refreshed, in sess as the store holds it
// now. A session that ended meanwhile stays ended: the answer is then
// ErrNoSession.
func (s *Sessions) updateTokens(ctx context.Context, sess *Session, tokens Tokens) (*Session, error) {
	if sess.keys == nil {
		return nil, errTokensSealed
	}
	sealed := sess.keys.seal(tokens, sess.Key)
	updated, err := s.update(ctx, sess, func(cur *Session) error { cur.sealed, cur.tokens = sealed, nil; return nil })
	if err != nil && !errors.Is(err, ErrNoSession) {
		return nil, fmt.Errorf("update the session's tokens: %w", err)
	}
	return updated, err
}

// Reload reads sess again from the store, as it is now; the result opens
// its tokens if sess does.
func (s *Sessions) Reload(ctx context.Context, sess *Session) (*Session, error) {
	again, err := s.store.Load(ctx, sess.Key)
	if err != nil {
		return nil, err
	}
	again.keys, again.CSRFToken = sess.keys, sess.CSRFToken
	return again, nil
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
