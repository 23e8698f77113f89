package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/storetest"
)

// remembered loads sess and lists its user's sessions, so that the store
// has both in memory, and checks what it answers.
func remembered(t *testing.T, s *Store, sess *auth.Session) {
	t.Helper()
	for range 2 { // the first fills the memo, the second reads it
		got, err := s.Load(context.Background(), sess.Key)
		if err != nil || got.Key != sess.Key {
			t.Fatalf("Load = %v, %v; want the session", got, err)
		}
		if !slices.Contains(listKeys(t, s, sess.User.Subject), sess.Key) {
			t.Fatal("ListBySubject leaves out the session")
		}
	}
}

// Sessions read lately, and the lists that hold them, are answered from
// memory; every way a session ends must reach them.
func TestRememberedSessionsEnd(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		end  func(s *Store, victim *auth.Session) error
	}{
		{"Delete", func(s *Store, v *auth.Session) error { return s.Delete(ctx, v.Key) }},
		{"DeleteBySID", func(s *Store, v *auth.Session) error { _, err := s.DeleteBySID(ctx, v.ProviderSID); return err }},
		{"DeleteBySubject", func(s *Store, v *auth.Session) error {
			_, err := s.DeleteBySubject(ctx, v.User.Subject, "")
			return err
		}},
		{"Sweep", func(s *Store, _ *auth.Session) error { _, err := s.Sweep(ctx); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := storetest.NewClock()
			s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
			victim, other := storetest.NewSession(clock, "ada"), storetest.NewSession(clock, "grace")
			if tt.name == "Sweep" {
				victim.ExpiresAt = clock.Now().Add(time.Minute)
			}
			mustCreate(t, s, victim)
			mustCreate(t, s, other)
			remembered(t, s, victim)
			remembered(t, s, other)
			if tt.name == "Sweep" {
				// Past its deadline it is gone before the sweep, too.
				clock.Advance(time.Minute)
				mustBeGone(t, s, victim.Key)
			}
			if err := tt.end(s, victim); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			mustBeGone(t, s, victim.Key)
			if keys := listKeys(t, s, "ada"); len(keys) != 0 {
				t.Errorf("ListBySubject after %s = %v, want none", tt.name, keys)
			}
			if tt.name != "Sweep" {
				clock.Advance(time.Hour)
			}
			if _, err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			mustBeGone(t, s, victim.Key)
		})
	}
}

// An update shows at once in what the store answers from memory.
func TestRememberedSessionsUpdate(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	sess := storetest.NewSession(clock, "ada")
	mustCreate(t, s, sess)
	remembered(t, s, sess)
	clock.Advance(20 * time.Minute)
	seen := clock.Now()
	_, err := s.Update(ctx, sess.Key, func(cur *auth.Session) error {
		cur.LastSeen, cur.IdleUntil, cur.User.Name = seen, seen.Add(30*time.Minute), "Ada King"
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err := s.Load(ctx, sess.Key)
	if err != nil || !got.LastSeen.Equal(seen) || got.User.Name != "Ada King" {
		t.Fatalf("Load after Update = %+v, %v; want the update", got, err)
	}
	list, err := s.ListBySubject(ctx, "ada")
	if err != nil || len(list) != 1 || !list[0].LastSeen.Equal(seen) || list[0].User.Name != "Ada King" {
		t.Fatalf("ListBySubject after Update = %v, %v; want the update", list, err)
	}
	// Past the first idle limit, alive thanks to the update.
	clock.Advance(20 * time.Minute)
	remembered(t, s, sess)
	// A new session of the user is listed.
	newer := storetest.NewSession(clock, "ada")
	mustCreate(t, s, newer)
	if keys := listKeys(t, s, "ada"); !slices.Equal(keys, []string{newer.Key, sess.Key}) {
		t.Errorf("ListBySubject after Create = %v, want the new session first", keys)
	}
}

// What the store answers is the caller's: changing it changes nothing
// the store remembers.
func TestRememberedSessionsAreCopies(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	sess := storetest.NewSession(clock, "ada")
	mustCreate(t, s, sess)
	remembered(t, s, sess)
	got, _ := s.Load(ctx, sess.Key)
	got.User.Name, got.IdleUntil = "Mallory", clock.Now().Add(48*time.Hour)
	list, _ := s.ListBySubject(ctx, "ada")
	list[0].User.Name = "Mallory"
	again, _ := s.Load(ctx, sess.Key)
	listed, _ := s.ListBySubject(ctx, "ada")
	if again.User.Name != sess.User.Name || !again.IdleUntil.Equal(sess.IdleUntil) || listed[0].User.Name != sess.User.Name {
		t.Errorf("the store answers a caller's change: %q, %v, %q", again.User.Name, again.IdleUntil, listed[0].User.Name)
	}
}

// Reads that race an ending may fill the memo with what they read before
// it; none of that may outlive the ending.
func TestReadsRacingEndingsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	for trial := range 25 {
		victim := storetest.NewSession(clock, "ada")
		mustCreate(t, s, victim)
		var wg sync.WaitGroup
		var stop atomic.Bool
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					if _, err := s.Load(ctx, victim.Key); err != nil && !errors.Is(err, auth.ErrNoSession) {
						errs <- err
						return
					}
					if _, err := s.ListBySubject(ctx, "ada"); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var err error
		if trial%2 == 0 {
			err = s.Delete(ctx, victim.Key)
		} else {
			_, err = s.DeleteBySubject(ctx, "ada", "")
		}
		if err != nil {
			t.Fatalf("end the session: %v", err)
		}
		stop.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("read: %v", err)
		}
		mustBeGone(t, s, victim.Key)
		if keys := listKeys(t, s, "ada"); len(keys) != 0 {
			t.Fatalf("trial %d: ListBySubject after the ending = %v, want none", trial, keys)
		}
	}
}

// After Close nothing is answered from memory.
func TestClosedStoreAnswersNothing(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), clock)
	sess := storetest.NewSession(clock, "ada")
	mustCreate(t, s, sess)
	remembered(t, s, sess)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, sess.Key); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("Load after Close: %v, want ErrStoreUnavailable", err)
	}
	if _, err := s.ListBySubject(ctx, "ada"); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("ListBySubject after Close: %v, want ErrStoreUnavailable", err)
	}
}

// A read begun before a write was committed may have seen the record as
// it was before: what it read is not remembered.
func TestReadBeforeWriteIsNotRemembered(t *testing.T) {
	clock := storetest.NewClock()
	sess := storetest.NewSession(clock, "ada")
	m := newMemo()
	gen := m.gen.Load() // a read begins
	changed := &touched{}
	changed.add(sess)
	m.forget(changed) // a write of the session is committed
	m.fillSession(gen, sess.Key, sess)
	m.fillList(gen, "ada", []*auth.Session{sess})
	if _, ok := m.session(sess.Key); ok {
		t.Error("a session read before a write is remembered")
	}
	if _, ok := m.list("ada"); ok {
		t.Error("a list read before a write is remembered")
	}
	// A read begun after the write is.
	gen = m.gen.Load()
	m.fillSession(gen, sess.Key, sess)
	m.fillList(gen, "ada", []*auth.Session{sess})
	if _, ok := m.session(sess.Key); !ok {
		t.Error("a session read after the write is not remembered")
	}
	if _, ok := m.list("ada"); !ok {
		t.Error("a list read after the write is not remembered")
	}
}
