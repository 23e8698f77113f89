package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
	"latchkey/auth/redisstore/redistest"
	"latchkey/auth/storetest"
)

// openServing opens a store on srv and waits until its subscription to the
// invalidation channel is confirmed, so that it serves from memory.
func openServing(t *testing.T, srv *redistest.Server, prefix string) *Store {
	t.Helper()
	st, err := New(srv.URL(), Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	waitServing(t, st, true)
	return st
}

func waitServing(t *testing.T, st *Store, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.cache.mu.Lock()
		serving := st.cache.serving
		st.cache.mu.Unlock()
		if serving == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store's cache serving = %v, want %v", serving, want)
		}
		time.Sleep(time.Millisecond) // the poll of a readiness check
	}
}

// gets counts the GET commands Redis has answered.
func gets(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_get:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// TestCacheSpendsNoRoundTrip: the page views of a session read it from
// Redis once, not once each.
func TestCacheSpendsNoRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	st := openServing(t, srv, "cache:")
	ctx := context.Background()
	sess := storetest.NewSession(storetest.NewClock(), "ada")
	if err := st.Create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	before := gets(t, srv)
	for range 100 {
		if _, err := st.Load(ctx, sess.Key); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	if n := gets(t, srv) - before; n > 1 {
		t.Errorf("100 loads of one session made %d GETs, want 1", n)
	}
}

// TestCacheSeesItsOwnWrites: an update made on this instance is what its
// next load returns, at once.
func TestCacheSeesItsOwnWrites(t *testing.T) {
	srv := redistest.Start(t)
	st := openServing(t, srv, "own:")
	ctx := context.Background()
	clock := storetest.NewClock()
	sess := storetest.NewSession(clock, "ada")
	if err := st.Create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, sess.Key); err != nil {
		t.Fatal(err)
	}
	seen := clock.Now().Add(time.Minute)
	if _, err := st.Update(ctx, sess.Key, func(s *auth.Session) error { s.LastSeen = seen; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx, sess.Key)
	if err != nil || !got.LastSeen.Equal(seen) {
		t.Fatalf("Load after Update = %v, %v; want LastSeen %v", got, err, seen)
	}
	if err := st.Delete(ctx, sess.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, sess.Key); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("Load after Delete = %v; want ErrNoSession", err)
	}
}

// TestCacheStopsServingWithoutRedis: when the subscription fails, nothing
// is served from memory: a session ended meanwhile elsewhere must not
// linger, so reads go to Redis, and fail while it is down.
func TestCacheStopsServingWithoutRedis(t *testing.T) {
	srv := redistest.Start(t)
	st := openServing(t, srv, "down:")
	ctx := context.Background()
	sess := storetest.NewSession(storetest.NewClock(), "ada")
	if err := st.Create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, sess.Key); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	waitServing(t, st, false)
	if _, err := st.Load(ctx, sess.Key); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Fatalf("Load with Redis down = %v; want ErrStoreUnavailable, not the remembered session", err)
	}
	srv.Restart()
	waitServing(t, st, true)
	if _, err := st.Load(ctx, sess.Key); !errors.Is(err, auth.ErrNoSession) {
		// The restarted server has no data: the session is gone.
		t.Fatalf("Load after the restart = %v; want ErrNoSession", err)
	}
}

// TestInvalidationReachesOtherInstances: an ending on one instance is
// refused on another within milliseconds (target: 50 ms), never only
// when the remembered copy runs out.
func TestInvalidationReachesOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openServing(t, srv, "spread:"), openServing(t, srv, "spread:")
	ctx := context.Background()
	clock := storetest.NewClock()
	var delays []time.Duration
	for range 50 {
		sess := storetest.NewSession(clock, "ada")
		if err := a.Create(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Load(ctx, sess.Key); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, sess.Key); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			_, err := a.Load(ctx, sess.Key)
			if errors.Is(err, auth.ErrNoSession) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatal("a session ended on B still loads on A after 2 s")
			}
			time.Sleep(100 * time.Microsecond) // the poll of a readiness check
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	t.Logf("an ending on B reached A in %v at the median, %v at most (target 50 ms)", delays[len(delays)/2], delays[len(delays)-1])
}

// BenchmarkInvalidation measures how long an ending on one instance takes
// to be refused on another; the target is 50 ms.
func BenchmarkInvalidation(b *testing.B) {
	srv := redistest.Start(b)
	x, y := openServingB(b, srv), openServingB(b, srv)
	ctx := context.Background()
	clock := storetest.NewClock()
	for b.Loop() {
		b.StopTimer()
		sess := storetest.NewSession(clock, "ada")
		if err := x.Create(ctx, sess); err != nil {
			b.Fatal(err)
		}
		if _, err := x.Load(ctx, sess.Key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := y.Delete(ctx, sess.Key); err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := x.Load(ctx, sess.Key); errors.Is(err, auth.ErrNoSession) {
				break
			}
		}
	}
}

func openServingB(b *testing.B, srv *redistest.Server) *Store {
	st, err := New(srv.URL(), Options{Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	for {
		st.cache.mu.Lock()
		serving := st.cache.serving
		st.cache.mu.Unlock()
		if serving {
			return st
		}
		time.Sleep(time.Millisecond) // the poll of a readiness check
	}
}
