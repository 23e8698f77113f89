package auth

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenedCookiesExpireAndStayBounded(t *testing.T) {
	var o openedCookies
	now := time.Now()
	o.remember("sealed", "key", now)
	if key, ok := o.key("sealed", now.Add(openedFor-time.Second)); !ok || key != "key" {
		t.Errorf("key within openedFor = %q, %v", key, ok)
	}
	if _, ok := o.key("sealed", now.Add(openedFor)); ok {
		t.Error("a cookie opened openedFor ago is still trusted without opening it again")
	}
	if _, ok := o.key("other", now); ok {
		t.Error("a cookie never opened has a key")
	}
	for i := range 2 * openedCookiesKept {
		o.remember(fmt.Sprint("sealed-", i), "key", now)
	}
	if n := len(o.keys); n > openedCookiesKept {
		t.Errorf("%d opened cookies kept, want at most %d", n, openedCookiesKept)
	}
}

// TestSessionTouchOnceForConcurrentRequests: requests that all find the
// session due at once, as the requests of a busy page do, write it once.
func TestSessionTouchOnceForConcurrentRequests(t *testing.T) {
	const requests = 32
	s := newTestSessionsWithIdle(t, 2*time.Hour, 30*time.Minute)
	store := &togetherStore{SessionStore: s.store}
	s.Sessions.store = store
	_, rec := s.start(t, "ada")
	reqs := make([]*http.Request, requests)
	for i := range reqs {
		reqs[i] = requestWith(rec)
	}
	for minute := 1; minute <= 3; minute++ {
		s.clock.Advance(touchInterval)
		store.loaded.Add(requests)
		var wg sync.WaitGroup
		for _, req := range reqs {
			wg.Go(func() {
				if _, err := s.Load(t.Context(), req); err != nil {
					t.Errorf("Load: %v", err)
				}
			})
		}
		wg.Wait()
		if n := store.touches.Load(); n != int64(minute) {
			t.Fatalf("after %d minutes of %d requests at once: %d store writes, want %d", minute, requests, n, minute)
		}
	}
}

// togetherStore counts touches, and holds each load back until all the
// loads expected have read the session: every request then sees it due.
type togetherStore struct {
	SessionStore
	loaded  sync.WaitGroup
	touches atomic.Int64
}

func (s *togetherStore) Load(ctx context.Context, key string) (*Session, error) {
	sess, err := s.SessionStore.Load(ctx, key)
	s.loaded.Done()
	s.loaded.Wait()
	return sess, err
}

func (s *togetherStore) Touch(ctx context.Context, key string, seen, idle time.Time) error {
	s.touches.Add(1)
	return s.SessionStore.Touch(ctx, key, seen, idle)
}
