// Package boltstore is an auth.SessionStore kept in a bbolt database file:
// the embedded default store, whose sessions survive a restart of the
// program. One process at a time may open the file.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"latchkey/auth"
)

// The database holds one bucket per record kind. Index keys end in the
// session key and carry empty values; every index entry is checked against
// the session it names before it is trusted, so an entry left behind by a
// damaged record never ends the wrong session.
const (
	// bucketSessions maps a session key to the session's record (see
	// auth.MarshalSession).
	bucketSessions = "sessions"
	// bucketBySubject holds subject + "\x00" + key for every session.
	bucketBySubject = "by_subject"
	// bucketBySID holds sid + "\x00" + key for every session with a sid.
	bucketBySID = "by_sid"
	// bucketByDeadline holds timeKey(deadline) + key for every session, so
	// Sweep walks only the expired ones.
	bucketByDeadline = "by_deadline"
	// bucketClaims maps a claimed id to timeKey(expiry).
	bucketClaims = "claims"
	// bucketClaimsByExpiry holds timeKey(expiry) + id for every claim, so
	// Sweep walks only the expired ones. Files written before it existed
	// get it filled when opened.
	bucketClaimsByExpiry = "claims_by_expiry"
)

// Options tune a Store.
type Options struct {
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the wait for the database file's lock, so that a
	// second process opening the same file gets an error instead of
	// hanging; zero means one second.
	Timeout time.Duration
}

// Store is an auth.SessionStore in a bbolt database file. It is safe for
// concurrent use within one process.
type Store struct {
	db     *bolt.DB
	now    func() time.Time
	writes *committer
	memo   *memo
	closed atomic.Bool
}

var _ auth.SessionStore = (*Store)(nil)

// Open opens the store's database file at path, creating it (mode 0600)
// and its directory (mode 0700) when they do not exist.
func Open(path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open session store: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open session store %s: the file is locked, probably by another running instance: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open session store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		indexed := tx.Bucket([]byte(bucketClaimsByExpiry)) != nil
		for _, name := range []string{bucketSessions, bucketBySubject, bucketBySID, bucketByDeadline, bucketClaims, bucketClaimsByExpiry} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if !indexed {
			return indexClaims(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open session store %s: %w", path, err)
	}
	return &Store{db: db, now: opts.Now, writes: &committer{db: db}, memo: newMemo()}, nil
}

// Close closes the database file. Calls made after Close fail with an
// error wrapping auth.ErrStoreUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true) // nothing is answered from memory any more
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close session store: %w", err)
	}
	return nil
}

// Ping reports whether the database file is open.
func (s *Store) Ping(context.Context) error {
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fail("ping session store", err)
	}
	return nil
}

// fail wraps err with what was being done; a closed database counts as an
// unavailable store, so requests that race a shutdown get a 503.
func fail(doing string, err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%s: %w: %w", doing, auth.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// timeKey encodes t as 8 bytes whose byte order is time order: unix
// nanoseconds, big-endian, with the sign bit flipped. Times outside the
// range of int64 nanoseconds (years 1678 to 2262) are clamped to it.
func timeKey(t time.Time) [8]byte {
	var k [8]byte
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		// all zero bytes
	case t.After(time.Unix(0, math.MaxInt64)):
		binary.BigEndian.PutUint64(k[:], math.MaxUint64)
	default:
		binary.BigEndian.PutUint64(k[:], uint64(t.UnixNano())^(1<<63))
	}
	return k
}

// indexKey returns prefix + "\x00" + key.
func indexKey(prefix, key string) []byte {
	b := make([]byte, 0, len(prefix)+1+len(key))
	b = append(b, prefix...)
	b = append(b, 0)
	return append(b, key...)
}

// indexClaims fills claims_by_expiry from the claims of a file written
// before it existed.
func indexClaims(tx *bolt.Tx) error {
	byExpiry := tx.Bucket([]byte(bucketClaimsByExpiry))
	err := tx.Bucket([]byte(bucketClaims)).ForEach(func(id, until []byte) error {
		return byExpiry.Put(expiryKey(until, id), []byte{})
	})
	if err != nil {
		return fmt.Errorf("index claims by expiry: %w", err)
	}
	return nil
}

// expiryKey returns the claims_by_expiry entry of the claim of id until
// until (a timeKey).
func expiryKey(until, id []byte) []byte {
	b := make([]byte, 0, len(until)+len(id))
	b = append(b, until...)
	return append(b, id...)
}

// deadlineKey returns the by_deadline entry of the session under key.
func deadlineKey(deadline time.Time, key string) []byte {
	t := timeKey(deadline)
	return append(t[:], key...)
}
