package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"latchkey/auth"
	"latchkey/auth/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) auth.SessionStore {
		return openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	}, storetest.Options{Damage: func(t *testing.T, s auth.SessionStore, key string) {
		err := s.(*Store).db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(bucketSessions)).Put([]byte(key), []byte("\x02\x01\x09cut"))
		})
		if err != nil {
			t.Fatalf("damage the record: %v", err)
		}
	}})
}

// openStore opens a store at path reading time from clock, closed when the
// test ends.
func openStore(tb testing.TB, path string, clock *storetest.Clock) *Store {
	tb.Helper()
	s, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCreate(tb testing.TB, s *Store, sess *auth.Session) {
	tb.Helper()
	if err := s.Create(context.Background(), sess); err != nil {
		tb.Fatalf("Create: %v", err)
	}
}

func mustBeGone(t *testing.T, s *Store, key string) {
	t.Helper()
	if got, err := s.Load(context.Background(), key); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Load(%s) = %v, %v; want ErrNoSession", key, got, err)
	}
}

func listKeys(t *testing.T, s *Store, subject string) []string {
	t.Helper()
	list, err := s.ListBySubject(context.Background(), subject)
	if err != nil {
		t.Fatalf("ListBySubject: %v", err)
	}
	var keys []string
	for _, sess := range list {
		keys = append(keys, sess.Key)
	}
	return keys
}

// contents returns the keys of every bucket, by bucket name.
func contents(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	got := make(map[string][]string)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			got[string(name)] = []string{}
			return b.ForEach(func(k, _ []byte) error {
				got[string(name)] = append(got[string(name)], string(k))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatalf("read buckets: %v", err)
	}
	return got
}

func wantEmpty(t *testing.T, s *Store) {
	t.Helper()
	for name, keys := range contents(t, s) {
		if len(keys) != 0 {
			t.Errorf("bucket %s holds %q, want nothing", name, keys)
		}
	}
}

func TestSessionsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openStore(t, path, clock)
	a, b := storetest.NewSession(clock, "ada"), storetest.NewSession(clock, "ada")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	if ok, err := s.Claim(ctx, "jti-1", clock.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("Claim = %v, %v; want true", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openStore(t, path, clock)
	got, err := s.Load(ctx, a.Key)
	if err != nil {
		t.Fatalf("Load after reopen: %v", err)
	}
	if !reflect.DeepEqual(got.User, a.User) || !bytes.Equal(auth.MarshalSession(got), auth.MarshalSession(a)) {
		t.Errorf("Load after reopen = %+v, want %+v", got, a)
	}
	if keys := listKeys(t, s, "ada"); len(keys) != 2 {
		t.Errorf("ListBySubject after reopen = %v, want both sessions", keys)
	}
	if ok, err := s.Claim(ctx, "jti-1", clock.Now().Add(time.Minute)); err != nil || ok {
		t.Errorf("Claim of an id claimed before reopen = %v, %v; want false (a replay)", ok, err)
	}
	if n, err := s.DeleteBySID(ctx, b.ProviderSID); err != nil || n != 1 {
		t.Errorf("DeleteBySID after reopen = %d, %v; want 1", n, err)
	}
	mustBeGone(t, s, b.Key)
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	openStore(t, path, storetest.NewClock())

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		second, err := Open(path, Options{})
		if err == nil {
			second.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("second Open of a file in use succeeded")
		}
		if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another running instance") {
			t.Errorf("second Open: %v; want a timeout naming the file and the likely cause", err)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("second Open failed after %v, want about the 1s default timeout", elapsed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Open of a file in use still waiting after 10s")
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"directory under a file", filepath.Join(file, "data", "sessions.db"), "create directory"},
		{"database is a directory", dir, dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, Options{Timeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tt.path)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "open session store") || !strings.Contains(msg, tt.want) {
				t.Errorf("Open(%s): %q; want it to say it opens the session store and mention %q", tt.path, msg, tt.want)
			}
		})
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "sessions.db")
	openStore(t, path, storetest.NewClock())
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {path, 0o600}} {
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != c.want {
			t.Errorf("%s has mode %v, want %v", c.path, got, c.want)
		}
	}
}

func TestIndexesFollowSessions(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	sess := storetest.NewSession(clock, "ada")
	mustCreate(t, s, sess)

	_, err := s.Update(ctx, sess.Key, func(cur *auth.Session) error {
		cur.LastSeen, cur.IdleUntil = clock.Now(), clock.Now().Add(45*time.Minute)
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := contents(t, s)
	if want := []string{"ada\x00" + sess.Key}; !slices.Equal(got["by_subject"], want) {
		t.Errorf("by_subject = %q, want %q", got["by_subject"], want)
	}
	if want := []string{sess.ProviderSID + "\x00" + sess.Key}; !slices.Equal(got["by_sid"], want) {
		t.Errorf("by_sid = %q, want %q", got["by_sid"], want)
	}
	deadline := timeKey(clock.Now().Add(45 * time.Minute))
	if want := []string{string(deadline[:]) + sess.Key}; !slices.Equal(got["by_deadline"], want) {
		t.Errorf("by_deadline = %q, want %q (the deadline moved by the update)", got["by_deadline"], want)
	}

	if err := s.Delete(ctx, sess.Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantEmpty(t, s)
}

func TestDeletesLeaveNoEntries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		delete func(s *Store, clock *storetest.Clock, sess *auth.Session) (int, error)
	}{
		{"DeleteBySID", func(s *Store, _ *storetest.Clock, sess *auth.Session) (int, error) {
			return s.DeleteBySID(ctx, sess.ProviderSID)
		}},
		{"DeleteBySubject", func(s *Store, _ *storetest.Clock, sess *auth.Session) (int, error) {
			return s.DeleteBySubject(ctx, sess.User.Subject, "")
		}},
		{"Sweep", func(s *Store, clock *storetest.Clock, sess *auth.Session) (int, error) {
			if _, err := s.Claim(ctx, "jti", sess.IdleUntil); err != nil {
				return 0, err
			}
			clock.Advance(time.Hour)
			return s.Sweep(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := storetest.NewClock()
			s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
			sess := storetest.NewSession(clock, "ada")
			mustCreate(t, s, sess)
			if n, err := tt.delete(s, clock, sess); err != nil || n != 1 {
				t.Fatalf("%s = %d, %v; want 1", tt.name, n, err)
			}
			wantEmpty(t, s)
		})
	}
}

func TestSweepManySessions(t *testing.T) {
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	const stale = 2*sweepBatch + 500
	sessions := make([]*auth.Session, stale+1)
	for i := range sessions {
		sessions[i] = storetest.NewSession(clock, fmt.Sprintf("user-%d", i%10))
	}
	live := sessions[stale]
	live.IdleUntil = clock.Now().Add(2 * time.Hour)
	fill(t, s, sessions)

	clock.Advance(time.Hour)
	n, err := s.Sweep(context.Background())
	if err != nil || n != stale {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, stale)
	}
	if got := contents(t, s)["sessions"]; !slices.Equal(got, []string{live.Key}) {
		t.Errorf("sessions after Sweep = %d keys, want only the live one", len(got))
	}
	if n, err := s.Sweep(context.Background()); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0", n, err)
	}
}

func TestDamagedRecordIsGone(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	sess := storetest.NewSession(clock, "ada")
	mustCreate(t, s, sess)
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSessions)).Put([]byte(sess.Key), []byte(`{"key": "trunc`))
	})
	if err != nil {
		t.Fatal(err)
	}

	mustBeGone(t, s, sess.Key)
	if keys := listKeys(t, s, "ada"); len(keys) != 0 {
		t.Errorf("ListBySubject lists a damaged session: %v", keys)
	}
	if n, err := s.DeleteBySubject(ctx, "ada", ""); err != nil || n != 0 {
		t.Errorf("DeleteBySubject = %d, %v; want 0 (nothing live)", n, err)
	}
	clock.Advance(time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep = %d, %v; want 0", n, err)
	}
	if got := contents(t, s)["sessions"]; len(got) != 0 {
		t.Errorf("sessions after Sweep = %q, want the damaged record gone", got)
	}
}

func TestSubjectWithNULByte(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	ada, other := storetest.NewSession(clock, "ada"), storetest.NewSession(clock, "ada\x00x")
	other.ProviderSID = ada.ProviderSID + "\x00x"
	mustCreate(t, s, ada)
	mustCreate(t, s, other)
	if n, err := s.DeleteBySubject(ctx, "ada", ""); err != nil || n != 1 {
		t.Fatalf("DeleteBySubject = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteBySID(ctx, ada.ProviderSID); err != nil || n != 0 {
		t.Fatalf("DeleteBySID = %d, %v; want 0", n, err)
	}
	if keys := listKeys(t, s, "ada\x00x"); !slices.Equal(keys, []string{other.Key}) {
		t.Errorf("ListBySubject of the other user = %v, want [%s]", keys, other.Key)
	}
	if n, err := s.DeleteBySID(ctx, other.ProviderSID); err != nil || n != 1 {
		t.Errorf("DeleteBySID of the other user's sid = %d, %v; want 1", n, err)
	}
}

func TestCreateRejectsBadKey(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), storetest.NewClock())
	for _, key := range []string{"", "a\x00b"} {
		sess := storetest.NewSession(storetest.NewClock(), "ada")
		sess.Key = key
		if err := s.Create(context.Background(), sess); err == nil {
			t.Errorf("Create with key %q succeeded", key)
		}
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), storetest.NewClock())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Load(context.Background(), "key"); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("Load after Close: %v; want ErrStoreUnavailable", err)
	}
}

// fill saves sessions in a few large transactions, much faster than one
// Save (and one fsync) each.
func fill(tb testing.TB, s *Store, sessions []*auth.Session) {
	tb.Helper()
	for chunk := range slices.Chunk(sessions, 10_000) {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := bucketsOf(tx)
			for _, sess := range chunk {
				if err := b.put(sess); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("fill store: %v", err)
		}
	}
}

// BenchmarkLoad reads sessions from the file, as a Load does that the
// memo cannot answer, in a file of 100 and of 100,000 sessions.
func BenchmarkLoad(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("sessions=%d", size), func(b *testing.B) {
			clock := storetest.NewClock()
			s := openStore(b, filepath.Join(b.TempDir(), "sessions.db"), clock)
			sessions := make([]*auth.Session, size)
			for i := range sessions {
				sessions[i] = storetest.NewSession(clock, fmt.Sprintf("user-%d", i%1000))
			}
			fill(b, s, sessions)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A prime stride visits keys all over the tree.
				i = (i + 7919) % size
				if sess, err := s.read(sessions[i].Key); err != nil || sess == nil {
					b.Fatalf("read = %v, %v", sess, err)
				}
			}
		})
	}
}

// fillClaims claims ids until until in one transaction, much faster than
// one Claim (and one fsync) each.
func fillClaims(tb testing.TB, s *Store, ids []string, until time.Time) {
	tb.Helper()
	k := timeKey(until)
	err := s.db.Update(func(tx *bolt.Tx) error {
		claims, byExpiry := tx.Bucket([]byte(bucketClaims)), tx.Bucket([]byte(bucketClaimsByExpiry))
		for _, id := range ids {
			if err := claims.Put([]byte(id), k[:]); err != nil {
				return err
			}
			if err := byExpiry.Put(expiryKey(k[:], []byte(id)), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("fill claims: %v", err)
	}
}

func TestSweepClaimsInBatches(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	const expired = 2*sweepBatch + 500
	ids := make([]string, expired)
	for i := range ids {
		ids[i] = fmt.Sprintf("login:state-%d", i)
	}
	fillClaims(t, s, ids, clock.Now().Add(10*time.Minute))
	if ok, err := s.Claim(ctx, "logout:live", clock.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	clock.Advance(10 * time.Minute)

	// One transaction removes one batch.
	more, err := s.sweepClaims(clock.Now())
	if err != nil || !more {
		t.Fatalf("sweepClaims = %v, %v; want more to do", more, err)
	}
	if n := len(contents(t, s)[bucketClaims]); n != expired+1-sweepBatch {
		t.Fatalf("after one batch %d claims remain, want %d", n, expired+1-sweepBatch)
	}

	if _, err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	got := contents(t, s)
	if !slices.Equal(got[bucketClaims], []string{"logout:live"}) || len(got[bucketClaimsByExpiry]) != 1 {
		t.Errorf("after Sweep: %d claims and %d expiry entries, want only the live claim", len(got[bucketClaims]), len(got[bucketClaimsByExpiry]))
	}
	if ok, err := s.Claim(ctx, "logout:live", clock.Now().Add(time.Hour)); err != nil || ok {
		t.Errorf("Claim of the live id after Sweep = %v, %v; want false (a replay)", ok, err)
	}
	if ok, err := s.Claim(ctx, ids[0], clock.Now().Add(time.Hour)); err != nil || !ok {
		t.Errorf("Claim of a swept id = %v, %v; want true", ok, err)
	}
}

func TestClaimAgainMovesItsExpiry(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	if ok, err := s.Claim(ctx, "jti", clock.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	clock.Advance(2 * time.Minute)
	if ok, err := s.Claim(ctx, "jti", clock.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("Claim after expiry = %v, %v", ok, err)
	}
	if n := len(contents(t, s)[bucketClaimsByExpiry]); n != 1 {
		t.Fatalf("%d expiry entries for one claim, want 1", n)
	}
	clock.Advance(time.Minute)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, "jti", clock.Now().Add(time.Hour)); err != nil || ok {
		t.Errorf("Claim after a Sweep before the new expiry = %v, %v; want false", ok, err)
	}
}

// TestClaimsOfOlderFilesAreIndexed: a file written before claims were
// indexed by expiry has its claims indexed when opened, so they are swept.
func TestClaimsOfOlderFilesAreIndexed(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openStore(t, path, clock)
	expired, live := timeKey(clock.Now().Add(time.Minute)), timeKey(clock.Now().Add(time.Hour))
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketClaimsByExpiry)); err != nil {
			return err
		}
		claims := tx.Bucket([]byte(bucketClaims))
		return errors.Join(claims.Put([]byte("old"), expired[:]), claims.Put([]byte("live"), live[:]))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, clock)
	clock.Advance(2 * time.Minute)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if got := contents(t, s)[bucketClaims]; !slices.Equal(got, []string{"live"}) {
		t.Errorf("claims after Sweep = %q, want only the live one", got)
	}
	if ok, err := s.Claim(ctx, "live", clock.Now().Add(time.Hour)); err != nil || ok {
		t.Errorf("Claim of the live id = %v, %v; want false (a replay)", ok, err)
	}
}
