package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
	"latchkey/auth/redisstore"
	"latchkey/auth/redisstore/redistest"
	"latchkey/auth/storetest"
)

func open(tb testing.TB, srv *redistest.Server, now func() time.Time, prefix string) *redisstore.Store {
	tb.Helper()
	st, err := redisstore.New(srv.URL(), redisstore.Options{Now: now, Prefix: prefix})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return st
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { raw.Close() })
	// One prefix per test: its stores share keys, as the app's instances
	// do, and see nothing of other tests.
	prefix := func(t *testing.T) string { return "test:" + t.Name() + ":" }
	t.Run("Suite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, clock *storetest.Clock) auth.SessionStore {
			return open(t, srv, clock.Now, prefix(t))
		}, storetest.Options{
			ExpiresItself: true,
			Damage: func(t *testing.T, _ auth.SessionStore, key string) {
				if err := raw.Do(context.Background(), "SET", prefix(t)+"s:"+key, "\x02\x01\x09cut", "KEEPTTL").Err(); err != nil {
					t.Fatalf("damage the record: %v", err)
				}
			},
		})
	})
	t.Run("SharedByInstances", func(t *testing.T) { testSharedByInstances(t, srv) })
	t.Run("KeyLayout", func(t *testing.T) { testKeyLayout(t, srv) })
}

// testSharedByInstances uses two Store values on one Redis, as two
// instances of the app would.
func testSharedByInstances(t *testing.T, srv *redistest.Server) {
	ctx := context.Background()
	clock := storetest.NewClock()
	a := open(t, srv, clock.Now, "shared:")
	b := open(t, srv, clock.Now, "shared:")

	sess := storetest.NewSession(clock, "ada")
	if err := a.Create(ctx, sess); err != nil {
		t.Fatalf("Save on A: %v", err)
	}
	got, err := b.Load(ctx, sess.Key)
	if err != nil {
		t.Fatalf("Load on B of a session saved on A: %v", err)
	}
	if got.Key != sess.Key || !bytes.Equal(auth.MarshalSession(got), auth.MarshalSession(sess)) {
		t.Fatalf("Load on B = %+v, want %+v", got, sess)
	}
	clock.Advance(time.Minute)
	if _, err := touch(ctx, b, sess.Key, clock.Now(), clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatalf("Update on B: %v", err)
	}
	if got, err := a.Load(ctx, sess.Key); err != nil || !got.LastSeen.Equal(clock.Now()) {
		t.Fatalf("Load on A after Update on B = %v, %v; want LastSeen %v", got, err, clock.Now())
	}
	if err := b.Delete(ctx, sess.Key); err != nil {
		t.Fatalf("Delete on B: %v", err)
	}
	endedOn(t, a, sess.Key, "Delete on B")
	if list, err := a.ListBySubject(ctx, "ada"); err != nil || len(list) != 0 {
		t.Fatalf("ListBySubject on A after Delete on B = %v, %v; want none", list, err)
	}

	// Back-channel logout reaching B ends the session begun on A.
	other := storetest.NewSession(clock, "ada")
	if err := a.Create(ctx, other); err != nil {
		t.Fatalf("Save on A: %v", err)
	}
	if n, err := b.DeleteBySID(ctx, other.ProviderSID); err != nil || n != 1 {
		t.Fatalf("DeleteBySID on B = %d, %v; want 1", n, err)
	}
	endedOn(t, a, other.Key, "DeleteBySID on B")
}

// endedOn waits until the session under key is gone for store, which an
// ending on another instance tells it about through Redis; it fails when
// that takes longer than invalidationBound.
func endedOn(t *testing.T, store *redisstore.Store, key, after string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := store.Load(context.Background(), key)
		if errors.Is(err, auth.ErrNoSession) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("Load after %s: %v", after, err)
		}
		if time.Since(start) > invalidationBound {
			t.Fatalf("the session still loads %v after %s", invalidationBound, after)
		}
		time.Sleep(time.Millisecond) // the poll of a readiness check
	}
}

// invalidationBound is how long an ending may take to reach another
// instance in these tests: far above what it takes (a millisecond or two,
// see BenchmarkInvalidation), far below the 30 s an instance keeps a
// session it never hears about.
const invalidationBound = 2 * time.Second

// testKeyLayout checks what the store leaves in Redis: the keys, their
// contents and their expiry times.
func testKeyLayout(t *testing.T, srv *redistest.Server) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st, err := redisstore.New(srv.URL(), redisstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer st.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()

	sess := storetest.NewSession(clock, "layout-user")
	sess.ExpiresAt = clock.Now().Add(40 * time.Minute)
	if err := st.Create(ctx, sess); err != nil {
		t.Fatalf("Save: %v", err)
	}
	sessionKey := "latchkey:s:" + sess.Key
	subjectKey := "latchkey:u:layout-user"
	sidKey := "latchkey:sid:" + sess.ProviderSID
	expireTime := func(key string) int64 {
		t.Helper()
		ms, err := rdb.Do(ctx, "PEXPIRETIME", key).Int64()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", key, err)
		}
		return ms
	}
	data, err := rdb.Get(ctx, sessionKey).Bytes()
	if err != nil {
		t.Fatalf("GET %s: %v", sessionKey, err)
	}
	if got, err := auth.UnmarshalSession(sess.Key, data); err != nil || !reflect.DeepEqual(got.User, sess.User) {
		t.Errorf("%s holds %q (%v), want the session's record", sessionKey, data, err)
	}
	if got, want := expireTime(sessionKey), sess.IdleUntil.UnixMilli(); got != want {
		t.Errorf("%s expires at %d, want %d (the idle limit)", sessionKey, got, want)
	}
	for _, set := range []string{subjectKey, sidKey} {
		if ok, err := rdb.SIsMember(ctx, set, sess.Key).Result(); err != nil || !ok {
			t.Errorf("SISMEMBER %s = %v, %v; want true", set, ok, err)
		}
		if got, want := expireTime(set), sess.ExpiresAt.UnixMilli(); got != want {
			t.Errorf("%s expires at %d, want %d (the absolute limit)", set, got, want)
		}
	}

	// An update moves the expiry, but not past the absolute limit.
	clock.Advance(20 * time.Minute)
	if _, err := touch(ctx, st, sess.Key, clock.Now(), clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, want := expireTime(sessionKey), sess.ExpiresAt.UnixMilli(); got != want {
		t.Errorf("after Update %s expires at %d, want %d (the absolute limit)", sessionKey, got, want)
	}

	until := clock.Now().Add(10 * time.Minute)
	if ok, err := st.Claim(ctx, "jti-layout", until); err != nil || !ok {
		t.Fatalf("Claim = %v, %v; want true", ok, err)
	}
	if got, want := expireTime("latchkey:c:jti-layout"), until.UnixMilli(); got != want {
		t.Errorf("claim expires at %d, want %d", got, want)
	}

	if err := st.Delete(ctx, sess.Key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n, err := rdb.Exists(ctx, sessionKey, subjectKey, sidKey).Result(); err != nil || n != 0 {
		t.Errorf("after Delete, %d of the session's keys remain (%v); want 0", n, err)
	}
}

// touch records a use of the session under key, as auth.Sessions does.
func touch(ctx context.Context, st *redisstore.Store, key string, seen, idle time.Time) (*auth.Session, error) {
	return st.Update(ctx, key, func(sess *auth.Session) error {
		sess.LastSeen, sess.IdleUntil = seen, idle
		return nil
	})
}

func TestOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	srv.Stop()

	// The app starts while Redis is down.
	st := open(t, srv, time.Now, "outage:")
	if err := st.Ping(ctx); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Fatalf("Ping before Redis is up = %v; want ErrStoreUnavailable", err)
	}
	srv.Restart()
	waitUntilServing(t, st)

	clock := storetest.NewClock()
	sess := storetest.NewSession(clock, "ada")
	if err := st.Create(ctx, sess); err != nil {
		t.Fatalf("Save: %v", err)
	}

	srv.Stop()
	operations := []struct {
		name string
		do   func() error
	}{
		{"Load", func() error { _, err := st.Load(ctx, sess.Key); return err }},
		{"Create", func() error { return st.Create(ctx, storetest.NewSession(clock, "ada")) }},
		{"Update", func() error { _, err := touch(ctx, st, sess.Key, clock.Now(), clock.Now().Add(time.Hour)); return err }},
		{"Delete", func() error { return st.Delete(ctx, sess.Key) }},
		{"DeleteBySID", func() error { _, err := st.DeleteBySID(ctx, sess.ProviderSID); return err }},
		{"DeleteBySubject", func() error { _, err := st.DeleteBySubject(ctx, "ada", ""); return err }},
		{"ListBySubject", func() error { _, err := st.ListBySubject(ctx, "ada"); return err }},
		{"Claim", func() error { _, err := st.Claim(ctx, "jti", clock.Now().Add(time.Minute)); return err }},
		{"Ping", func() error { return st.Ping(ctx) }},
	}
	for _, op := range operations {
		if err := op.do(); !errors.Is(err, auth.ErrStoreUnavailable) {
			t.Errorf("%s while Redis is down = %v; want an error wrapping ErrStoreUnavailable", op.name, err)
		}
	}

	// Redis comes back empty (it keeps nothing on disk); the same Store
	// value reconnects by itself.
	srv.Restart()
	waitUntilServing(t, st)
	if got, err := st.Load(ctx, sess.Key); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Load after restart = %v, %v; want ErrNoSession", got, err)
	}
	if err := st.Create(ctx, sess); err != nil {
		t.Fatalf("Save after restart: %v", err)
	}
	if _, err := st.Load(ctx, sess.Key); err != nil {
		t.Fatalf("Load after restart: %v", err)
	}
}

// waitUntilServing polls until the store stops reporting Redis as
// unavailable.
func waitUntilServing(t *testing.T, st *redisstore.Store) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(20 * time.Second)
	for {
		err := st.Ping(context.Background())
		if err == nil {
			return
		}
		if !errors.Is(err, auth.ErrStoreUnavailable) {
			t.Fatalf("Ping after restart: %v", err)
		}
		select {
		case <-giveUp:
			t.Fatalf("store still unavailable after Redis restarted: %v", err)
		case <-tick.C:
		}
	}
}

func TestNewRejectsMalformedURL(t *testing.T) {
	const password = "s3cret-pw"
	tests := []struct {
		name string
		url  string
	}{
		{"empty", ""},
		{"not a URL", password},
		{"wrong scheme", "http://user:" + password + "@localhost:6379/0"},
		{"no host", "redis://user:" + password + "@/0"},
		{"bad port", "redis://user:" + password + "@localhost:port/0"},
		{"bad host", "redis://user:" + password + "@local host:6379/0"},
		{"bad database", "redis://user:" + password + "@localhost:6379/zero"},
		{"bad escape in password", "redis://user:" + password + "%zz@localhost:6379/0"},
		{"unknown option", "redis://user:" + password + "@localhost:6379/0?colour=blue"},
		{"bad option value", "redis://user:" + password + "@localhost:6379/0?dial_timeout=" + password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := redisstore.New(tt.url, redisstore.Options{})
			if err == nil {
				st.Close()
				t.Fatalf("New(%q) succeeded, want an error", tt.url)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "session store URL") {
				t.Errorf("error %q does not say it is about the session store URL", err)
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Start(b)
	st := open(b, srv, time.Now, "bench:")
	sess := storetest.NewSession(storetest.NewClock(), "ada")
	if err := st.Create(ctx, sess); err != nil {
		b.Fatalf("Save: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, sess.Key); err != nil {
			b.Fatalf("Load: %v", err)
		}
	}
}

// TestRedisRefusingWrites: a Redis that is up but cannot take writes for
// now — a replica after a failover, a server at its memory limit — is an
// unavailable store (503, try again), not a broken one.
func TestRedisRefusingWrites(t *testing.T) {
	ctx := context.Background()
	refusals := []struct {
		name   string
		refuse func(t *testing.T, raw *redis.Client)
	}{
		{"read-only replica", func(t *testing.T, raw *redis.Client) {
			primary := redistest.Start(t)
			host, port, _ := strings.Cut(primary.Addr(), ":")
			if err := raw.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
				t.Fatalf("REPLICAOF: %v", err)
			}
		}},
		{"out of memory", func(t *testing.T, raw *redis.Client) {
			for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
				if err := raw.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
					t.Fatalf("CONFIG SET %s: %v", kv[0], err)
				}
			}
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
			t.Cleanup(func() { raw.Close() })
			st := open(t, srv, time.Now, "refusing:")
			clock := storetest.NewClock()
			tc.refuse(t, raw)
			err := st.Create(ctx, storetest.NewSession(clock, "ada"))
			if !errors.Is(err, auth.ErrStoreUnavailable) {
				t.Errorf("Create = %v; want an error wrapping ErrStoreUnavailable", err)
			}
			if _, err := st.Claim(ctx, "state", clock.Now().Add(time.Minute)); !errors.Is(err, auth.ErrStoreUnavailable) {
				t.Errorf("Claim = %v; want an error wrapping ErrStoreUnavailable", err)
			}
		})
	}
}
