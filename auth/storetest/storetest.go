// Package storetest is the test suite every auth.SessionStore must pass.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey/auth"
)

// Clock is a fake clock the suite moves; stores under test must read time
// from it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to the real time, so that deadlines it
// makes are in the real future too (for stores whose backend expires
// entries by the real clock).
func NewClock() *Clock { return &Clock{now: time.Now().Truncate(time.Millisecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Options describe the store under test.
type Options struct {
	// ExpiresItself says the backend deletes expired entries by itself, by
	// the real clock, so Sweep may do nothing.
	ExpiresItself bool
	// Damage, when the backend can hold bytes that are not a record,
	// replaces the record of the session under key in s with such bytes,
	// keeping its expiry.
	Damage func(t *testing.T, s auth.SessionStore, key string)
}

// Open returns a new, empty store that reads time from clock. Several
// calls in one test must return stores sharing one backend when the store
// is meant to be shared by several processes; otherwise independent ones.
type Open func(t *testing.T, clock *Clock) auth.SessionStore

// Run runs the suite against stores made by open.
func Run(t *testing.T, open Open, opts Options) {
	tests := []struct {
		name string
		test func(t *testing.T, s auth.SessionStore, clock *Clock)
	}{
		{"CreateLoad", testCreateLoad},
		{"CreateTakenKey", testCreateTakenKey},
		{"LoadUnknown", testLoadUnknown},
		{"Update", testUpdate},
		{"UpdateNeverCreates", testUpdateNeverCreates},
		{"UpdateKeepsIdentity", testUpdateKeepsIdentity},
		{"UpdateTouch", testUpdateTouch},
		{"Delete", testDelete},
		{"DeleteBySID", testDeleteBySID},
		{"DeleteBySubject", testDeleteBySubject},
		{"ListBySubject", testListBySubject},
		{"IdleExpiry", testIdleExpiry},
		{"AbsoluteExpiry", testAbsoluteExpiry},
		{"Claim", testClaim},
		{"Concurrent", testConcurrent},
		{"ConcurrentUpdatesAllCount", testConcurrentUpdatesAllCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			tt.test(t, open(t, clock), clock)
		})
	}
	t.Run("Sweep", func(t *testing.T) {
		clock := NewClock()
		testSweep(t, open(t, clock), clock, opts)
	})
	// A session that was ended stays ended, whatever updates race the
	// ending: the updates of a refresh in flight, or of a stolen cookie.
	for _, ending := range endings {
		t.Run("EndingRacesUpdates/"+ending.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			testEndingRacesUpdates(t, open(t, clock), clock, ending)
		})
	}
	if opts.Damage != nil {
		t.Run("DamagedRecord", func(t *testing.T) {
			clock := NewClock()
			testDamagedRecord(t, open(t, clock), clock, opts.Damage)
		})
	}
}

var seq atomic.Int64

// NewSession returns a live session of subject with a unique key and
// sealed tokens, as the app would create it at login.
func NewSession(clock *Clock, subject string) *auth.Session {
	now := clock.Now()
	n := seq.Add(1)
	sess := &auth.Session{
		Key:         fmt.Sprintf("key-%d-%d", now.UnixNano(), n),
		User:        auth.User{Subject: subject, Name: "User " + subject, Email: subject + "@example.com", ClaimsJSON: `{"sub": "` + subject + `"}`},
		ProviderSID: fmt.Sprintf("sid-%d", n),
		UserAgent:   "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		CreatedAt:   now.Add(time.Duration(n) * time.Millisecond),
		LastSeen:    now,
		IdleUntil:   now.Add(30 * time.Minute),
		ExpiresAt:   now.Add(24 * time.Hour),
	}
	sess.Seal(fmt.Sprintf("cookie-id-%d", n), auth.Tokens{
		IDToken:      "id-token",
		AccessToken:  "access",
		TokenType:    "Bearer",
		RefreshToken: "refresh",
		Expiry:       now.Add(time.Hour),
	})
	return sess
}

func create(t *testing.T, s auth.SessionStore, sess *auth.Session) {
	t.Helper()
	if err := s.Create(context.Background(), sess); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

// touch records a use of the session under key, as auth.Sessions does.
func touch(s auth.SessionStore, key string, seen, idle time.Time) (*auth.Session, error) {
	return s.Update(context.Background(), key, func(sess *auth.Session) error {
		sess.LastSeen, sess.IdleUntil = seen, idle
		return nil
	})
}

func mustLoad(t *testing.T, s auth.SessionStore, key string) *auth.Session {
	t.Helper()
	got, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return got
}

func mustBeGone(t *testing.T, s auth.SessionStore, key string) {
	t.Helper()
	if got, err := s.Load(context.Background(), key); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Load(%s) = %v, %v; want ErrNoSession", key, got, err)
	}
}

// equal checks that got is want, field by field as the store keeps them.
func equal(t *testing.T, got, want *auth.Session) {
	t.Helper()
	if got.Key != want.Key || !bytes.Equal(auth.MarshalSession(got), auth.MarshalSession(want)) {
		t.Fatalf("session = %+v\nwant %+v", got, want)
	}
}

func testCreateLoad(t *testing.T, s auth.SessionStore, clock *Clock) {
	want := NewSession(clock, "ada")
	create(t, s, want)
	got := mustLoad(t, s, want.Key)
	equal(t, got, want)
	// What the store holds does not open the tokens: that takes the cookie.
	if tokens, err := got.Tokens(); err == nil {
		t.Fatalf("a session read from the store opens its tokens: %+v", tokens)
	}
	if got.CSRFToken != "" {
		t.Fatalf("a session read from the store has a CSRF token: %q", got.CSRFToken)
	}
}

func testCreateTakenKey(t *testing.T, s auth.SessionStore, clock *Clock) {
	first := NewSession(clock, "ada")
	create(t, s, first)
	second := NewSession(clock, "mallory")
	second.Key = first.Key
	if err := s.Create(context.Background(), second); !errors.Is(err, auth.ErrSessionExists) {
		t.Fatalf("Create under a taken key = %v; want ErrSessionExists", err)
	}
	equal(t, mustLoad(t, s, first.Key), first)
	if got := listKeys(t, s, "mallory"); len(got) != 0 {
		t.Fatalf("the refused Create left index entries: ListBySubject = %v", got)
	}
}

func testLoadUnknown(t *testing.T, s auth.SessionStore, _ *Clock) {
	mustBeGone(t, s, "no-such-key")
}

func testUpdate(t *testing.T, s auth.SessionStore, clock *Clock) {
	ctx := context.Background()
	sess := NewSession(clock, "ada")
	create(t, s, sess)
	got, err := s.Update(ctx, sess.Key, func(cur *auth.Session) error {
		cur.User.Name, cur.User.Picture = "Ada King", "https://example.com/ada.png"
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	sess.User.Name, sess.User.Picture = "Ada King", "https://example.com/ada.png"
	equal(t, got, sess)
	equal(t, mustLoad(t, s, sess.Key), sess)
	if list := listKeys(t, s, "ada"); len(list) != 1 || list[0] != sess.Key {
		t.Fatalf("ListBySubject after Update = %v, want [%s]", list, sess.Key)
	}

	// A change that fails writes nothing.
	refused := errors.New("refused")
	_, err = s.Update(ctx, sess.Key, func(cur *auth.Session) error {
		cur.User.Name = "not written"
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Update whose change fails = %v; want the change's error", err)
	}
	equal(t, mustLoad(t, s, sess.Key), sess)
}

func testUpdateNeverCreates(t *testing.T, s auth.SessionStore, clock *Clock) {
	ctx := context.Background()
	ran := false
	change := func(cur *auth.Session) error { ran = true; cur.User.Name = "revived"; return nil }
	if got, err := s.Update(ctx, "no-such-key", change); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Update of an unknown key = %v, %v; want ErrNoSession", got, err)
	}
	if ran {
		t.Error("Update ran the change with no session to change")
	}
	mustBeGone(t, s, "no-such-key")

	deleted := NewSession(clock, "ada")
	create(t, s, deleted)
	if err := s.Delete(ctx, deleted.Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, err := s.Update(ctx, deleted.Key, change); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Update after Delete = %v, %v; want ErrNoSession", got, err)
	}
	mustBeGone(t, s, deleted.Key)
	if got := listKeys(t, s, "ada"); len(got) != 0 {
		t.Fatalf("ListBySubject after Update of a deleted session = %v", got)
	}

	over := NewSession(clock, "grace")
	create(t, s, over)
	clock.Advance(31 * time.Minute)
	if got, err := touch(s, over.Key, clock.Now(), clock.Now().Add(30*time.Minute)); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Update past the deadline = %v, %v; want ErrNoSession", got, err)
	}
	mustBeGone(t, s, over.Key)
}

func testUpdateKeepsIdentity(t *testing.T, s auth.SessionStore, clock *Clock) {
	sess := NewSession(clock, "ada")
	create(t, s, sess)
	for name, change := range map[string]func(*auth.Session){
		"Key":          func(cur *auth.Session) { cur.Key = "other-key" },
		"User.Subject": func(cur *auth.Session) { cur.User.Subject = "mallory" },
		"ProviderSID":  func(cur *auth.Session) { cur.ProviderSID = "other-sid" },
		"CreatedAt":    func(cur *auth.Session) { cur.CreatedAt = cur.CreatedAt.Add(-time.Hour) },
		"ExpiresAt":    func(cur *auth.Session) { cur.ExpiresAt = cur.ExpiresAt.Add(time.Hour) },
		"deadline":     func(cur *auth.Session) { cur.IdleUntil = clock.Now() },
	} {
		_, err := s.Update(context.Background(), sess.Key, func(cur *auth.Session) error { change(cur); return nil })
		if err == nil {
			t.Errorf("an Update changing %s succeeded", name)
		}
	}
	equal(t, mustLoad(t, s, sess.Key), sess)
	mustBeGone(t, s, "other-key")
}

func testUpdateTouch(t *testing.T, s auth.SessionStore, clock *Clock) {
	sess := NewSession(clock, "ada")
	create(t, s, sess)
	clock.Advance(20 * time.Minute)
	seen, idle := clock.Now(), clock.Now().Add(30*time.Minute)
	if _, err := touch(s, sess.Key, seen, idle); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := mustLoad(t, s, sess.Key)
	if !got.LastSeen.Equal(seen) || !got.IdleUntil.Equal(idle) {
		t.Fatalf("after Update: LastSeen %v, IdleUntil %v; want %v, %v", got.LastSeen, got.IdleUntil, seen, idle)
	}
	// Past the first idle limit, alive thanks to the use.
	clock.Advance(20 * time.Minute)
	mustLoad(t, s, sess.Key)
	if got := listKeys(t, s, "ada"); len(got) != 1 {
		t.Fatalf("ListBySubject past the first idle limit = %v, want the session", got)
	}
}

func testDelete(t *testing.T, s auth.SessionStore, clock *Clock) {
	a, b := NewSession(clock, "ada"), NewSession(clock, "ada")
	create(t, s, a)
	create(t, s, b)
	if err := s.Delete(context.Background(), a.Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeGone(t, s, a.Key)
	mustLoad(t, s, b.Key)
	if err := s.Delete(context.Background(), a.Key); err != nil {
		t.Fatalf("Delete again: %v", err)
	}
	if list := listKeys(t, s, "ada"); len(list) != 1 || list[0] != b.Key {
		t.Fatalf("ListBySubject after Delete = %v, want [%s]", list, b.Key)
	}
}

func testDeleteBySID(t *testing.T, s auth.SessionStore, clock *Clock) {
	a, b, other := NewSession(clock, "ada"), NewSession(clock, "ada"), NewSession(clock, "grace")
	b.ProviderSID = a.ProviderSID
	for _, sess := range []*auth.Session{a, b, other} {
		create(t, s, sess)
	}
	n, err := s.DeleteBySID(context.Background(), a.ProviderSID)
	if err != nil || n != 2 {
		t.Fatalf("DeleteBySID = %d, %v; want 2", n, err)
	}
	mustBeGone(t, s, a.Key)
	mustBeGone(t, s, b.Key)
	mustLoad(t, s, other.Key)
	if n, err := s.DeleteBySID(context.Background(), "no-such-sid"); err != nil || n != 0 {
		t.Fatalf("DeleteBySID of an unknown sid = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteBySID(context.Background(), ""); err != nil || n != 0 {
		t.Fatalf(`DeleteBySID("") = %d, %v; want 0`, n, err)
	}
}

func testDeleteBySubject(t *testing.T, s auth.SessionStore, clock *Clock) {
	a, b, c, other := NewSession(clock, "ada"), NewSession(clock, "ada"), NewSession(clock, "ada"), NewSession(clock, "grace")
	for _, sess := range []*auth.Session{a, b, c, other} {
		create(t, s, sess)
	}
	n, err := s.DeleteBySubject(context.Background(), "ada", b.Key)
	if err != nil || n != 2 {
		t.Fatalf("DeleteBySubject keeping one = %d, %v; want 2", n, err)
	}
	mustBeGone(t, s, a.Key)
	mustLoad(t, s, b.Key)
	mustBeGone(t, s, c.Key)
	mustLoad(t, s, other.Key)
	n, err = s.DeleteBySubject(context.Background(), "ada", "")
	if err != nil || n != 1 {
		t.Fatalf("DeleteBySubject = %d, %v; want 1", n, err)
	}
	mustBeGone(t, s, b.Key)
	if list := listKeys(t, s, "ada"); len(list) != 0 {
		t.Fatalf("ListBySubject after DeleteBySubject = %v", list)
	}
}

func listKeys(t *testing.T, s auth.SessionStore, subject string) []string {
	t.Helper()
	list, err := s.ListBySubject(context.Background(), subject)
	if err != nil {
		t.Fatalf("ListBySubject: %v", err)
	}
	keys := make([]string, len(list))
	for i, sess := range list {
		keys[i] = sess.Key
	}
	return keys
}

func testListBySubject(t *testing.T, s auth.SessionStore, clock *Clock) {
	older := NewSession(clock, "ada")
	clock.Advance(time.Second)
	newer := NewSession(clock, "ada")
	create(t, s, older)
	create(t, s, newer)
	create(t, s, NewSession(clock, "grace"))
	if got := listKeys(t, s, "ada"); len(got) != 2 || got[0] != newer.Key || got[1] != older.Key {
		t.Fatalf("ListBySubject = %v, want [%s %s] (newest first)", got, newer.Key, older.Key)
	}
	list, _ := s.ListBySubject(context.Background(), "ada")
	equal(t, list[0], newer)
	if got := listKeys(t, s, "nobody"); len(got) != 0 {
		t.Fatalf("ListBySubject of an unknown user = %v", got)
	}
}

func testIdleExpiry(t *testing.T, s auth.SessionStore, clock *Clock) {
	sess := NewSession(clock, "ada")
	create(t, s, sess)
	clock.Advance(30*time.Minute - time.Second)
	mustLoad(t, s, sess.Key)
	clock.Advance(time.Second)
	mustBeGone(t, s, sess.Key)
	if got := listKeys(t, s, "ada"); len(got) != 0 {
		t.Fatalf("ListBySubject lists an idle session: %v", got)
	}
}

func testAbsoluteExpiry(t *testing.T, s auth.SessionStore, clock *Clock) {
	sess := NewSession(clock, "ada")
	sess.ExpiresAt = clock.Now().Add(10 * time.Minute)
	create(t, s, sess)
	clock.Advance(5 * time.Minute)
	// Activity cannot carry a session past its absolute limit.
	if _, err := touch(s, sess.Key, clock.Now(), clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	clock.Advance(5 * time.Minute)
	mustBeGone(t, s, sess.Key)
}

func testClaim(t *testing.T, s auth.SessionStore, clock *Clock) {
	ctx := context.Background()
	until := clock.Now().Add(10 * time.Minute)
	if first, err := s.Claim(ctx, "jti-1", until); err != nil || !first {
		t.Fatalf("first Claim = %v, %v; want true", first, err)
	}
	if again, err := s.Claim(ctx, "jti-1", until); err != nil || again {
		t.Fatalf("second Claim = %v, %v; want false (a replay)", again, err)
	}
	if other, err := s.Claim(ctx, "jti-2", until); err != nil || !other {
		t.Fatalf("Claim of another id = %v, %v; want true", other, err)
	}
	clock.Advance(10 * time.Minute)
	if later, err := s.Claim(ctx, "jti-1", clock.Now().Add(time.Minute)); err != nil || !later {
		t.Fatalf("Claim after expiry = %v, %v; want true", later, err)
	}
}

func testConcurrent(t *testing.T, s auth.SessionStore, clock *Clock) {
	ctx := context.Background()
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	claimed := make(chan bool, workers)
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			subject := fmt.Sprintf("user-%d", w%2)
			for range rounds {
				sess := NewSession(clock, subject)
				if err := s.Create(ctx, sess); err != nil {
					errs <- err
					continue
				}
				if _, err := s.Load(ctx, sess.Key); err != nil {
					errs <- err
				}
				if _, err := touch(s, sess.Key, clock.Now(), clock.Now().Add(time.Hour)); err != nil {
					errs <- err
				}
				if _, err := s.ListBySubject(ctx, subject); err != nil {
					errs <- err
				}
				if err := s.Delete(ctx, sess.Key); err != nil {
					errs <- err
				}
			}
			ok, err := s.Claim(ctx, "shared", clock.Now().Add(time.Minute))
			if err != nil {
				errs <- err
			}
			claimed <- ok
		})
	}
	wg.Wait()
	close(errs)
	close(claimed)
	for err := range errs {
		t.Errorf("concurrent use: %v", err)
	}
	winners := 0
	for ok := range claimed {
		if ok {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent claims of one id succeeded, want exactly 1", winners)
	}
}

func testSweep(t *testing.T, s auth.SessionStore, clock *Clock, opts Options) {
	stale, live := NewSession(clock, "ada"), NewSession(clock, "ada")
	live.IdleUntil = clock.Now().Add(2 * time.Hour)
	create(t, s, stale)
	create(t, s, live)
	clock.Advance(time.Hour)
	n, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	mustLoad(t, s, live.Key)
	if opts.ExpiresItself {
		mustBeGone(t, s, stale.Key)
		return
	}
	if n != 1 {
		t.Errorf("Sweep removed %d sessions, want 1", n)
	}
	// Swept means deleted: turning the clock back does not revive it.
	clock.Advance(-time.Hour)
	mustBeGone(t, s, stale.Key)
	mustLoad(t, s, live.Key)
}

// testDamagedRecord: a record that cannot be decoded is no session, to
// every method, and never an error: the browser that holds its cookie is
// signed out, like one whose session ended.
func testDamagedRecord(t *testing.T, s auth.SessionStore, clock *Clock, damage func(*testing.T, auth.SessionStore, string)) {
	ctx := context.Background()
	damaged, intact := NewSession(clock, "ada"), NewSession(clock, "ada")
	create(t, s, damaged)
	create(t, s, intact)
	damage(t, s, damaged.Key)

	mustBeGone(t, s, damaged.Key)
	if got := listKeys(t, s, "ada"); len(got) != 1 || got[0] != intact.Key {
		t.Fatalf("ListBySubject = %v, want only the intact session %s", got, intact.Key)
	}
	if got, err := touch(s, damaged.Key, clock.Now(), clock.Now().Add(time.Hour)); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Update of a damaged record = %v, %v; want ErrNoSession", got, err)
	}
	mustBeGone(t, s, damaged.Key)
	if n, err := s.DeleteBySID(ctx, damaged.ProviderSID); err != nil || n != 0 {
		t.Fatalf("DeleteBySID of a damaged session's sid = %d, %v; want 0 (nothing live)", n, err)
	}
	if n, err := s.DeleteBySubject(ctx, "ada", ""); err != nil || n != 1 {
		t.Fatalf("DeleteBySubject = %d, %v; want 1, the intact session", n, err)
	}
	if err := s.Delete(ctx, damaged.Key); err != nil {
		t.Fatalf("Delete of a damaged record: %v", err)
	}
	mustBeGone(t, s, damaged.Key)
}

// testConcurrentUpdatesAllCount: updates racing on one session each apply
// to the session as the others left it; none is lost.
func testConcurrentUpdatesAllCount(t *testing.T, s auth.SessionStore, clock *Clock) {
	const workers, rounds = 8, 20
	sess := NewSession(clock, "ada")
	sess.User.Name = "0"
	create(t, s, sess)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range rounds {
				_, err := s.Update(context.Background(), sess.Key, func(cur *auth.Session) error {
					n, err := strconv.Atoi(cur.User.Name)
					cur.User.Name = strconv.Itoa(n + 1)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	if got := mustLoad(t, s, sess.Key).User.Name; got != strconv.Itoa(workers*rounds) {
		t.Fatalf("after %d updates that each count one, the count is %s", workers*rounds, got)
	}
}

// ending is one way a session ends: a logout or a Sign out (Delete), a
// back-channel logout (DeleteBySID, DeleteBySubject), Sign out everywhere
// else (DeleteBySubject keeping one).
type ending struct {
	name string
	// end ends victim; other is another session of the same user, which
	// must outlive it when keep says so.
	end  func(ctx context.Context, s auth.SessionStore, victim, other *auth.Session) error
	keep bool
}

var endings = []ending{
	{name: "Delete", end: func(ctx context.Context, s auth.SessionStore, victim, _ *auth.Session) error {
		return s.Delete(ctx, victim.Key)
	}},
	{name: "DeleteBySID", end: func(ctx context.Context, s auth.SessionStore, victim, _ *auth.Session) error {
		_, err := s.DeleteBySID(ctx, victim.ProviderSID)
		return err
	}},
	{name: "DeleteBySubject", end: func(ctx context.Context, s auth.SessionStore, victim, _ *auth.Session) error {
		_, err := s.DeleteBySubject(ctx, victim.User.Subject, "")
		return err
	}},
	{name: "DeleteBySubjectKeepingOne", keep: true, end: func(ctx context.Context, s auth.SessionStore, victim, other *auth.Session) error {
		_, err := s.DeleteBySubject(ctx, victim.User.Subject, other.Key)
		return err
	}},
}

// endingTrials is how often each ending races the updates: enough that a
// store whose updates can bring an ended session back fails every run (a
// store that wrote updates with Load and then a create-or-replace brought
// the session back in 31 to 40 of 40 trials).
const endingTrials = 25

// testEndingRacesUpdates ends a session while updates of it are in flight
// on several goroutines, again and again; every time, the session must be
// gone afterwards, from Load and from the user's list.
func testEndingRacesUpdates(t *testing.T, s auth.SessionStore, clock *Clock, e ending) {
	const updaters = 4
	ctx := context.Background()
	revived := 0
	for trial := range endingTrials {
		victim, other := NewSession(clock, "ada"), NewSession(clock, "ada")
		create(t, s, victim)
		create(t, s, other)

		var wg sync.WaitGroup
		var stop atomic.Bool
		running := make(chan struct{}, updaters)
		errs := make(chan error, updaters)
		for u := range updaters {
			wg.Go(func() {
				for i := 0; ; i++ {
					_, err := s.Update(ctx, victim.Key, func(cur *auth.Session) error {
						cur.User.Name = fmt.Sprintf("update %d.%d.%d", trial, u, i)
						return nil
					})
					if i == 0 {
						running <- struct{}{}
					}
					if errors.Is(err, auth.ErrNoSession) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					if stop.Load() {
						return
					}
				}
			})
		}
		for range updaters {
			<-running
		}
		err := e.end(ctx, s, victim, other)
		stop.Store(true)
		wg.Wait()
		close(errs)
		if err != nil {
			t.Fatalf("trial %d: %s: %v", trial, e.name, err)
		}
		for err := range errs {
			t.Fatalf("trial %d: Update: %v", trial, err)
		}

		if got, err := s.Load(ctx, victim.Key); !errors.Is(err, auth.ErrNoSession) {
			revived++
			t.Errorf("trial %d: after %s with updates in flight, Load = %v, %v; want ErrNoSession", trial, e.name, got, err)
		}
		list := listKeys(t, s, "ada")
		if slices.Contains(list, victim.Key) {
			t.Errorf("trial %d: after %s with updates in flight, the user's sessions list the ended one: %v", trial, e.name, list)
		}
		if n, err := s.DeleteBySID(ctx, victim.ProviderSID); err != nil || n != 0 {
			t.Errorf("trial %d: after %s, DeleteBySID of the ended session's sid = %d, %v; want 0", trial, e.name, n, err)
		}
		if e.keep {
			mustLoad(t, s, other.Key)
		}
		if err := s.Delete(ctx, other.Key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if revived > 0 {
		t.Errorf("%s: the ended session came back in %d of %d trials", e.name, revived, endingTrials)
	}
}
