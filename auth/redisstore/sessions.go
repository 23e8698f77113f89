package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
)

// updateAttempts bounds how often Update starts again when the session
// changed between its read and its write.
const updateAttempts = 50

// createScript stores the record ARGV[1] under KEYS[1] unless the key is
// taken, expiring at ARGV[2] (Unix ms), and then adds the session's key
// ARGV[3] to the index sets KEYS[2:], each living at least until ARGV[4]
// (NX gives a new set its expiry, GT only ever extends it), and publishes
// the user's subject ARGV[6] on the users' channel ARGV[5]. It answers 0
// when the key was taken, and then changes nothing.
const createScript = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then
	return 0
end
for i = 2, #KEYS do
	redis.call('SADD', KEYS[i], ARGV[3])
	redis.call('PEXPIREAT', KEYS[i], ARGV[4], 'NX')
	redis.call('PEXPIREAT', KEYS[i], ARGV[4], 'GT')
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`

// Create stores the new session sess under sess.Key, expiring at its
// Deadline, and indexes it by subject and provider session id.
func (s *Store) Create(ctx context.Context, sess *auth.Session) error {
	keys := []string{s.sessionKey(sess.Key), s.subjectKey(sess.User.Subject)}
	if sess.ProviderSID != "" {
		keys = append(keys, s.providerSIDKey(sess.ProviderSID))
	}
	// Updates never carry a session past ExpiresAt, so index sets that live
	// until then outlive every member.
	n, err := s.create.Run(ctx, s.client, keys, auth.MarshalSession(sess), unixMilliCeil(sess.Deadline()),
		sess.Key, unixMilliCeil(sess.ExpiresAt), s.userInvalidations(), sess.User.Subject).Int()
	// Whatever the script's fate, this instance's list of the user's
	// sessions goes now, not when it hears of it.
	s.cache.forgetList(sess.User.Subject)
	if err != nil {
		return fail("create session", err)
	}
	if n == 0 {
		return fmt.Errorf("create session: %w", auth.ErrSessionExists)
	}
	return nil
}

// updateScript replaces the record under KEYS[1] with ARGV[2], expiring
// at ARGV[3] (Unix ms), if it still is ARGV[1]: the record the change was
// made to, and publishes the session's key ARGV[5] on the invalidation
// channel ARGV[4]. It answers 0, and changes nothing, when the record
// changed or went meanwhile.
const updateScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`

// Update changes the live session under key: it reads the record, applies
// change, and writes the result only if the record is still the one it
// read, starting again when it is not. A session deleted meanwhile is not
// there to read the next time, so no update brings it back. The record
// this instance remembers is tried first, which spares the read: a page
// view that records the session's use makes one round trip.
func (s *Store) Update(ctx context.Context, key string, change func(*auth.Session) error) (*auth.Session, error) {
	if cur, data, ok := s.cache.get(key); ok {
		// Anything but a write goes on as if nothing were remembered.
		if next, err := auth.ApplyUpdate(cur, s.now(), change); err == nil {
			written, err := s.write(ctx, key, data, next)
			if err != nil {
				return nil, err
			}
			if written {
				return next, nil
			}
		}
	}
	k := s.sessionKey(key)
	for attempt := range updateAttempts {
		data, err := s.client.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			return nil, auth.ErrNoSession
		}
		if err != nil {
			return nil, fail("update session", err)
		}
		cur, ok := s.decode(key, data)
		if !ok {
			return nil, auth.ErrNoSession
		}
		next, err := auth.ApplyUpdate(cur, s.now(), change)
		if err != nil {
			return nil, err
		}
		written, err := s.write(ctx, key, data, next)
		if err != nil {
			return nil, err
		}
		if written {
			return next, nil
		}
		// Another write won; let the writers of this session spread out.
		wait := time.Duration(rand.Int64N(int64(min(attempt+1, 10)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("update session: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("update session: it changed under every one of %d attempts", updateAttempts)
}

// write replaces the record under key with next if it still is data, and
// reports whether it did.
func (s *Store) write(ctx context.Context, key, data string, next *auth.Session) (bool, error) {
	n, err := s.update.Run(ctx, s.client, []string{s.sessionKey(key)}, data, auth.MarshalSession(next),
		unixMilliCeil(next.Deadline()), s.invalidations(), key).Int()
	if err != nil {
		return false, fail("update session", err)
	}
	if n == 0 {
		return false, nil
	}
	// This instance's own copy goes now, not when it hears of it.
	s.cache.forget(key)
	return true, nil
}

// Load returns the session stored under key, or auth.ErrNoSession when
// there is none, its record cannot be decoded, or it has passed its
// Deadline by the store's clock.
func (s *Store) Load(ctx context.Context, key string) (*auth.Session, error) {
	if sess, _, ok := s.cache.get(key); ok {
		if !s.now().Before(sess.Deadline()) {
			return nil, auth.ErrNoSession
		}
		return sess, nil
	}
	since := s.cache.begin()
	data, err := s.client.Get(ctx, s.sessionKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, auth.ErrNoSession
	}
	if err != nil {
		return nil, fail("load session", err)
	}
	sess, ok := s.decode(key, data)
	if !ok || !s.now().Before(sess.Deadline()) {
		return nil, auth.ErrNoSession
	}
	s.cache.remember(key, sess, data, since)
	return sess, nil
}

// Delete ends the session under key and drops it from its indexes.
func (s *Store) Delete(ctx context.Context, key string) error {
	data, err := s.client.Get(ctx, s.sessionKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fail("delete session", err)
	}
	sess, ok := s.decode(key, data)
	if !ok {
		// Unreadable, so its indexes are unknown; they drop it when met.
		sess = &auth.Session{Key: key}
	}
	if _, err := s.remove(ctx, []*auth.Session{sess}, "", nil); err != nil {
		return fail("delete session", err)
	}
	return nil
}

// DeleteBySID ends every session with the provider session id sid.
func (s *Store) DeleteBySID(ctx context.Context, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	n, err := s.deleteIndexed(ctx, s.providerSIDKey(sid), func(sess *auth.Session) bool { return sess.ProviderSID == sid }, "")
	if err != nil {
		return 0, fmt.Errorf("delete sessions by sid: %w", err)
	}
	return n, nil
}

// DeleteBySubject ends every session of subject except the one under keep.
func (s *Store) DeleteBySubject(ctx context.Context, subject, keep string) (int, error) {
	n, err := s.deleteIndexed(ctx, s.subjectKey(subject), func(sess *auth.Session) bool { return sess.User.Subject == subject }, keep)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user: %w", err)
	}
	return n, nil
}

// deleteIndexed deletes the sessions listed in set that belong there, but
// keep, and counts those that were live.
func (s *Store) deleteIndexed(ctx context.Context, set string, belongs func(*auth.Session) bool, keep string) (int, error) {
	members, stale, err := s.members(ctx, set, belongs)
	if err != nil {
		return 0, err
	}
	var found []*auth.Session
	for _, m := range members {
		if m.sess.Key != keep {
			found = append(found, m.sess)
		}
	}
	deleted, err := s.remove(ctx, found, set, stale)
	if err != nil {
		return 0, fail("delete sessions", err)
	}
	now, n := s.now(), 0
	for i, sess := range found {
		// Another instance may have deleted it first; it counts there.
		if deleted[i] && now.Before(sess.Deadline()) {
			n++
		}
	}
	return n, nil
}

// members reads the sessions listed in set that belong there, and the
// members that name no such session (stale index entries), or one whose
// record cannot be decoded.
func (s *Store) members(ctx context.Context, set string, belongs func(*auth.Session) bool) (found []listed, stale []string, err error) {
	pairs, err := s.listSet.Run(ctx, s.client, []string{set}, s.sessionKey("")).Slice()
	if err != nil {
		return nil, nil, fail("read session index", err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		key, _ := pairs[i].(string)
		data, ok := pairs[i+1].(string)
		if !ok {
			stale = append(stale, key)
			continue
		}
		sess, ok := s.decode(key, data)
		if !ok || !belongs(sess) {
			stale = append(stale, key)
			continue
		}
		found = append(found, listed{sess: sess, data: data})
	}
	return found, stale, nil
}

// listSetScript answers the members of the set KEYS[1], each followed by
// the session it names under the prefix ARGV[1] (nil when there is none):
// one round trip, where SMEMBERS and then MGET take two. It reads keys it
// is not given, which a single Redis server allows.
const listSetScript = `
local out = {}
for i, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	out[2*i-1] = key
	out[2*i] = redis.call('GET', ARGV[1] .. key)
end
return out
`

// remove deletes sessions with their index entries and drops stale
// members from set, in one transaction; it reports which sessions were
// still there to delete.
func (s *Store) remove(ctx context.Context, sessions []*auth.Session, set string, stale []string) ([]bool, error) {
	if len(sessions) == 0 && len(stale) == 0 {
		return nil, nil
	}
	dels := make([]*redis.IntCmd, len(sessions))
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, sess := range sessions {
			dels[i] = p.Del(ctx, s.sessionKey(sess.Key))
			p.SRem(ctx, s.subjectKey(sess.User.Subject), sess.Key)
			if sess.ProviderSID != "" {
				p.SRem(ctx, s.providerSIDKey(sess.ProviderSID), sess.Key)
			}
			p.Publish(ctx, s.invalidations(), sess.Key)
		}
		if len(stale) > 0 {
			p.SRem(ctx, set, anySlice(stale)...)
		}
		return nil
	})
	for _, sess := range sessions {
		// Whatever the transaction's fate, this instance's copy goes.
		s.cache.forget(sess.Key)
	}
	if err != nil {
		return nil, err
	}
	deleted := make([]bool, len(sessions))
	for i, del := range dels {
		deleted[i] = del.Val() == 1
	}
	return deleted, nil
}

// ListBySubject returns subject's live sessions, newest first, and drops
// index entries whose session has gone. A list this instance remembers
// needs no round trip (see cache.go).
func (s *Store) ListBySubject(ctx context.Context, subject string) ([]*auth.Session, error) {
	now := s.now()
	ended := func(sess *auth.Session) bool { return !now.Before(sess.Deadline()) }
	if list, ok := s.cache.list(subject); ok {
		// Redis drops a session at its Deadline without a word.
		return slices.DeleteFunc(list, ended), nil
	}
	since := s.cache.begin()
	set := s.subjectKey(subject)
	found, stale, err := s.members(ctx, set, func(sess *auth.Session) bool { return sess.User.Subject == subject })
	if err != nil {
		return nil, fmt.Errorf("list sessions of user: %w", err)
	}
	if len(stale) > 0 {
		if err := s.client.SRem(ctx, set, anySlice(stale)...).Err(); err != nil {
			return nil, fail("list sessions of user: drop stale index entries", err)
		}
	}
	found = slices.DeleteFunc(found, func(m listed) bool { return ended(m.sess) })
	slices.SortFunc(found, func(a, b listed) int { return auth.NewestFirst(a.sess, b.sess) })
	s.cache.rememberList(subject, found, since)
	list := make([]*auth.Session, len(found))
	for i, m := range found {
		list[i] = m.sess
	}
	return list, nil
}

// Sweep does nothing: Redis deletes each session at its Deadline.
func (s *Store) Sweep(context.Context) (int, error) {
	return 0, nil
}

// decodedSessions bounds how many decoded sessions a Store remembers.
const decodedSessions = 256

// decode returns the session under key that data holds, as a copy the
// caller may change; false when data cannot be decoded, which every
// method takes as no session. The same bytes always decode to the same
// session, and the requests of a session read the same bytes until the
// session changes, so most of them are spared decoding it again.
func (s *Store) decode(key, data string) (*auth.Session, bool) {
	sess, ok := s.decoded.Get(data)
	if !ok {
		var err error
		sess, err = auth.UnmarshalSession("", []byte(data))
		if err != nil {
			return nil, false
		}
		s.decoded.Put(data, sess)
	}
	c := *sess
	c.Key = key
	return &c, true
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
