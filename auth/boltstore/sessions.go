package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"latchkey/auth"
)

// sweepBatch bounds the sessions one Sweep transaction removes, so a large
// sweep does not hold the write lock for long.
const sweepBatch = 1000

// Create stores the new session sess under sess.Key, with its index
// entries.
func (s *Store) Create(_ context.Context, sess *auth.Session) error {
	if sess.Key == "" || strings.IndexByte(sess.Key, 0) >= 0 {
		return fmt.Errorf("create session: key %q is empty or holds a NUL byte", sess.Key)
	}
	var taken bool
	changed := &touched{}
	err := s.writes.update(func(tx *bolt.Tx) error {
		b := writing(tx, changed)
		if taken = b.sessions.Get([]byte(sess.Key)) != nil; taken {
			return nil
		}
		return b.put(sess)
	})
	s.memo.forget(changed)
	if err != nil {
		return fail("create session", err)
	}
	if taken {
		return fmt.Errorf("create session: %w", auth.ErrSessionExists)
	}
	return nil
}

// Load returns the live session stored under key, or auth.ErrNoSession.
// A record that cannot be decoded counts as no session.
func (s *Store) Load(_ context.Context, key string) (*auth.Session, error) {
	sess, ok := s.memo.session(key)
	if !ok || s.closed.Load() {
		gen := s.memo.gen.Load()
		var err error
		if sess, err = s.read(key); err != nil {
			return nil, err
		}
		s.memo.fillSession(gen, key, sess)
	}
	if sess == nil || !s.now().Before(sess.Deadline()) {
		return nil, auth.ErrNoSession
	}
	return sess, nil
}

// read reads the session under key from the file, live or not; nil when
// there is none or its record cannot be decoded.
func (s *Store) read(key string) (*auth.Session, error) {
	var sess *auth.Session
	err := s.db.View(func(tx *bolt.Tx) error {
		sess = decode(key, tx.Bucket([]byte(bucketSessions)).Get([]byte(key)))
		return nil
	})
	if err != nil {
		return nil, fail("load session", err)
	}
	return sess, nil
}

// Update changes the live session under key in one write transaction,
// which no ending can come into the middle of.
func (s *Store) Update(_ context.Context, key string, change func(*auth.Session) error) (*auth.Session, error) {
	var updated *auth.Session
	var refused error
	changed := &touched{}
	err := s.writes.update(func(tx *bolt.Tx) error {
		// This may run more than once: every result is set afresh. A
		// refused change is not an error of the transaction, which other
		// writes may share.
		updated, refused = nil, nil
		b := writing(tx, changed)
		cur := b.load(key)
		if cur == nil {
			refused = auth.ErrNoSession
			return nil
		}
		changed.add(cur)
		next, err := auth.ApplyUpdate(cur, s.now(), change)
		if err != nil {
			refused = err
			return nil
		}
		// Only the deadline of what is indexed may change.
		if err := b.byDeadline.Delete(deadlineKey(cur.Deadline(), key)); err != nil {
			return err
		}
		if err := b.sessions.Put([]byte(key), auth.MarshalSession(next)); err != nil {
			return err
		}
		updated = next
		return b.byDeadline.Put(deadlineKey(next.Deadline(), key), []byte{})
	})
	s.memo.forget(changed)
	if err != nil {
		return nil, fail("update session", err)
	}
	if refused != nil {
		return nil, refused
	}
	return updated, nil
}

// Delete removes the session under key and its index entries, if any.
func (s *Store) Delete(_ context.Context, key string) error {
	changed := &touched{}
	err := s.writes.update(func(tx *bolt.Tx) error {
		b := writing(tx, changed)
		changed.addKey(key)
		if sess := b.load(key); sess != nil {
			if err := b.unindex(sess); err != nil {
				return err
			}
		}
		return b.sessions.Delete([]byte(key))
	})
	s.memo.forget(changed)
	if err != nil {
		return fail("delete session", err)
	}
	return nil
}

// DeleteBySID removes every session with the provider session id sid and
// says how many of them were live.
func (s *Store) DeleteBySID(_ context.Context, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	n, err := s.deleteIndexed(bucketBySID, sid, "", func(sess *auth.Session) bool { return sess.ProviderSID == sid })
	if err != nil {
		return 0, fail("delete sessions by sid", err)
	}
	return n, nil
}

// DeleteBySubject removes every session of subject but the one under keep
// and says how many of them were live.
func (s *Store) DeleteBySubject(_ context.Context, subject, keep string) (int, error) {
	n, err := s.deleteIndexed(bucketBySubject, subject, keep, func(sess *auth.Session) bool { return sess.User.Subject == subject })
	if err != nil {
		return 0, fail("delete sessions by subject", err)
	}
	return n, nil
}

// deleteIndexed removes the sessions that the index bucket lists under
// value, but keep; belongs confirms that a listed session really has that
// value, and index entries it rejects are removed as stale.
func (s *Store) deleteIndexed(index, value, keep string, belongs func(*auth.Session) bool) (int, error) {
	now, n := s.now(), 0
	changed := &touched{}
	defer s.memo.forget(changed)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := writing(tx, changed)
		idx := tx.Bucket([]byte(index))
		// Collect first: deleting under a cursor can make it skip entries.
		var entries [][]byte
		for k := range indexEntries(idx, value) {
			entries = append(entries, bytes.Clone(k))
		}
		for _, k := range entries {
			key := string(k[len(value)+1:])
			sess := b.load(key)
			if sess == nil || !belongs(sess) {
				if err := idx.Delete(k); err != nil {
					return err
				}
				continue
			}
			if key == keep {
				continue
			}
			if err := b.remove(sess); err != nil {
				return err
			}
			if now.Before(sess.Deadline()) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// ListBySubject returns subject's live sessions, newest first.
func (s *Store) ListBySubject(_ context.Context, subject string) ([]*auth.Session, error) {
	now := s.now()
	if all, ok := s.memo.list(subject); ok && !s.closed.Load() {
		// Those that have passed their deadline since are left out.
		return slices.DeleteFunc(all, func(sess *auth.Session) bool { return !now.Before(sess.Deadline()) }), nil
	}
	var list []*auth.Session
	gen := s.memo.gen.Load()
	err := s.db.View(func(tx *bolt.Tx) error {
		sessions := tx.Bucket([]byte(bucketSessions))
		for _, key := range indexEntries(tx.Bucket([]byte(bucketBySubject)), subject) {
			sess := decode(key, sessions.Get([]byte(key)))
			if sess != nil && sess.User.Subject == subject && now.Before(sess.Deadline()) {
				list = append(list, sess)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fail("list sessions", err)
	}
	slices.SortFunc(list, auth.NewestFirst)
	s.memo.fillList(gen, subject, list)
	return list, nil
}

// Claim marks id as used until expires; it reports false when id is
// already claimed and that claim has not expired.
func (s *Store) Claim(_ context.Context, id string, expires time.Time) (bool, error) {
	now, until := timeKey(s.now()), timeKey(expires)
	claimed := false
	err := s.writes.update(func(tx *bolt.Tx) error {
		claimed = false // a write may run more than once
		claims, byExpiry := tx.Bucket([]byte(bucketClaims)), tx.Bucket([]byte(bucketClaimsByExpiry))
		prev := claims.Get([]byte(id))
		if len(prev) == len(now) && bytes.Compare(now[:], prev) < 0 {
			return nil
		}
		if prev != nil {
			if err := byExpiry.Delete(expiryKey(prev, []byte(id))); err != nil {
				return err
			}
		}
		claimed = true
		if err := claims.Put([]byte(id), until[:]); err != nil {
			return err
		}
		return byExpiry.Put(expiryKey(until[:], []byte(id)), []byte{})
	})
	if err != nil {
		return false, fail("claim id", err)
	}
	return claimed, nil
}

// Sweep removes expired sessions, with their index entries, and expired
// claims, and says how many sessions it removed. Each write transaction
// removes at most sweepBatch entries, so a large sweep holds the write
// lock for a moment at a time and logins go on meanwhile.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now, total := s.now(), 0
	for {
		n, more, err := s.sweepSessions(now)
		total += n
		if err != nil {
			return total, fail("sweep sessions", err)
		}
		if !more {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("sweep sessions: %w", err)
		}
	}
	for {
		more, err := s.sweepClaims(now)
		if err != nil {
			return total, fail("sweep claims", err)
		}
		if !more {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("sweep claims: %w", err)
		}
	}
	return total, nil
}

// sweepSessions removes up to sweepBatch sessions whose deadline is not
// after now, walking by_deadline from its start; more says whether
// expired entries remain.
func (s *Store) sweepSessions(now time.Time) (n int, more bool, err error) {
	// An entry sorts before timeKey(now+1ns) exactly when its deadline is
	// not after now: an entry with that very prefix is longer, so greater.
	end := timeKey(now.Add(time.Nanosecond))
	changed := &touched{}
	defer s.memo.forget(changed)
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := writing(tx, changed)
		var entries [][]byte
		c := b.byDeadline.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end[:]) < 0; k, _ = c.Next() {
			if len(entries) == sweepBatch {
				more = true
				break
			}
			entries = append(entries, bytes.Clone(k))
		}
		for _, k := range entries {
			if err := b.byDeadline.Delete(k); err != nil {
				return err
			}
			key := k[len(end):]
			record := b.sessions.Get(key)
			if record == nil {
				continue
			}
			switch sess := decode(string(key), record); {
			case sess == nil:
				// A record that cannot be decoded is already gone for
				// Load; drop it with its last known deadline entry.
				changed.addKey(string(key))
				if err := b.sessions.Delete(key); err != nil {
					return err
				}
			case !now.Before(sess.Deadline()):
				if err := b.remove(sess); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, more, err
}

// sweepClaims removes up to sweepBatch claims that have expired by now,
// walking claims_by_expiry from its start; more says whether expired
// entries remain.
func (s *Store) sweepClaims(now time.Time) (more bool, err error) {
	end := timeKey(now.Add(time.Nanosecond)) // as in sweepSessions
	err = s.db.Update(func(tx *bolt.Tx) error {
		claims, byExpiry := tx.Bucket([]byte(bucketClaims)), tx.Bucket([]byte(bucketClaimsByExpiry))
		var entries [][]byte
		c := byExpiry.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end[:]) < 0; k, _ = c.Next() {
			if len(entries) == sweepBatch {
				more = true
				break
			}
			entries = append(entries, bytes.Clone(k))
		}
		for _, k := range entries {
			if err := byExpiry.Delete(k); err != nil {
				return err
			}
			until, id := k[:len(end)], k[len(end):]
			// A claim made again since has an entry of its own.
			if bytes.Equal(claims.Get(id), until) {
				if err := claims.Delete(id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return more, err
}

// buckets are the store's buckets within one transaction.
type buckets struct {
	sessions, bySubject, bySID, byDeadline *bolt.Bucket
	// changed collects the sessions a write transaction changes, for the
	// memo to forget; nil in a read transaction.
	changed *touched
}

// writing returns the buckets of the write transaction tx, noting in
// changed the sessions it changes.
func writing(tx *bolt.Tx, changed *touched) buckets {
	b := bucketsOf(tx)
	b.changed = changed
	return b
}

func bucketsOf(tx *bolt.Tx) buckets {
	return buckets{
		sessions:   tx.Bucket([]byte(bucketSessions)),
		bySubject:  tx.Bucket([]byte(bucketBySubject)),
		bySID:      tx.Bucket([]byte(bucketBySID)),
		byDeadline: tx.Bucket([]byte(bucketByDeadline)),
	}
}

// load decodes the session stored under key, live or not; nil when there
// is none or its record cannot be decoded.
func (b buckets) load(key string) *auth.Session {
	return decode(key, b.sessions.Get([]byte(key)))
}

// decode decodes the record of the session under key; nil when there is
// no record or it cannot be decoded.
func decode(key string, data []byte) *auth.Session {
	if data == nil {
		return nil
	}
	sess, err := auth.UnmarshalSession(key, data)
	if err != nil {
		return nil
	}
	return sess
}

// put stores sess, a session new under its key, and its index entries.
func (b buckets) put(sess *auth.Session) error {
	b.changed.add(sess)
	if err := b.sessions.Put([]byte(sess.Key), auth.MarshalSession(sess)); err != nil {
		return err
	}
	return b.index(sess)
}

// index adds the index entries of sess.
func (b buckets) index(sess *auth.Session) error {
	if err := b.bySubject.Put(indexKey(sess.User.Subject, sess.Key), []byte{}); err != nil {
		return err
	}
	if sess.ProviderSID != "" {
		if err := b.bySID.Put(indexKey(sess.ProviderSID, sess.Key), []byte{}); err != nil {
			return err
		}
	}
	return b.byDeadline.Put(deadlineKey(sess.Deadline(), sess.Key), []byte{})
}

// unindex removes the index entries of sess.
func (b buckets) unindex(sess *auth.Session) error {
	b.changed.add(sess)
	return errors.Join(
		b.bySubject.Delete(indexKey(sess.User.Subject, sess.Key)),
		b.bySID.Delete(indexKey(sess.ProviderSID, sess.Key)),
		b.byDeadline.Delete(deadlineKey(sess.Deadline(), sess.Key)),
	)
}

// remove deletes sess and its index entries.
func (b buckets) remove(sess *auth.Session) error {
	if err := b.unindex(sess); err != nil {
		return err
	}
	return b.sessions.Delete([]byte(sess.Key))
}

// indexEntries yields the entries of the index bucket idx for value, each
// with the session key it names.
func indexEntries(idx *bolt.Bucket, value string) iter.Seq2[[]byte, string] {
	prefix := indexKey(value, "")
	return func(yield func([]byte, string) bool) {
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			key := k[len(prefix):]
			// Keys hold no NUL byte, so this entry is one of a longer
			// value that starts with value and a NUL.
			if bytes.IndexByte(key, 0) >= 0 {
				continue
			}
			if !yield(k, string(key)) {
				return
			}
		}
	}
}
