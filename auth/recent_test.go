package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenedCookiesTrustedForAMinute: a cookie opened once is trusted
// without opening it again for openedFor, then opened again.
func TestOpenedCookiesTrustedForAMinute(t *testing.T) {
	s := newTestSessionsWithIdle(t, 2*time.Hour, time.Hour)
	_, rec := s.start(t, "ada")
	if _, err := s.Load(t.Context(), requestWith(rec)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Cookies sealed with another secret no longer open.
	other, err := NewCookies(CookieConfig{Secrets: []string{secretOld}, Secure: true, SessionMaxAge: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.cookies = other
	s.clock.Advance(openedFor - time.Second)
	if _, err := s.Load(t.Context(), requestWith(rec)); err != nil {
		t.Errorf("Load within openedFor of opening the cookie: %v; want the remembered session", err)
	}
	s.clock.Advance(time.Second)
	if _, err := s.Load(t.Context(), requestWith(rec)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load openedFor after opening the cookie: %v; want it opened again, and refused", err)
	}
}

// TestStartedCookieRememberedAsOpened: the cookie a login sets is
// remembered as opened, with the keys that open the session's tokens, so
// the request the login redirects to does not open it again.
func TestStartedCookieRememberedAsOpened(t *testing.T) {
	s := newTestSessionsWithIdle(t, 2*time.Hour, time.Hour)
	started, rec := s.start(t, "ada")
	// Cookies sealed with another secret no longer open.
	other, err := NewCookies(CookieConfig{Secrets: []string{secretOld}, Secure: true, SessionMaxAge: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.cookies = other
	got, err := s.Load(t.Context(), requestWith(rec))
	if err != nil {
		t.Fatalf("Load right after Start: %v; want the remembered session", err)
	}
	if got.Key != started.Key || got.CSRFToken != started.CSRFToken || got.IDTokenHint() != "id-token-ada" {
		t.Errorf("Load = %+v, want the started session %+v with its tokens", got, started)
	}
	s.clock.Advance(openedFor)
	if _, err := s.Load(t.Context(), requestWith(rec)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load openedFor after Start: %v; want the cookie opened again, and refused", err)
	}
}

func TestOpenedCookiesStayBounded(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	for range openedCookiesKept + 100 {
		_, rec := s.start(t, "ada")
		if _, err := s.Load(t.Context(), requestWith(rec)); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	if n := s.opened.Len(); n > openedCookiesKept {
		t.Errorf("%d opened cookies remembered, want at most %d", n, openedCookiesKept)
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
	writes  atomic.Int64 // the updates that changed the session
}

func (s *togetherStore) Load(ctx context.Context, key string) (*Session, error) {
	sess, err := s.SessionStore.Load(ctx, key)
	s.loaded.Done()
	s.loaded.Wait()
	return sess, err
}

func (s *togetherStore) Update(ctx context.Context, key string, change func(*Session) error) (*Session, error) {
	s.touches.Add(1)
	sess, err := s.SessionStore.Update(ctx, key, change)
	if err == nil {
		s.writes.Add(1)
	}
	return sess, err
}

// TestTouchClaimedByALaterRequest: a request that began before the one
// that recorded the session's use, and finds it due only afterwards, does
// not write it again; a clock set back by more than the interval does.
func TestTouchClaimedByALaterRequest(t *testing.T) {
	var ts touches
	at := time.Now()
	if !ts.claim("k", at) {
		t.Fatal("the first claim was refused")
	}
	if ts.claim("k", at.Add(-time.Millisecond)) {
		t.Error("a request that began a millisecond earlier claimed the touch again")
	}
	if ts.claim("k", at.Add(touchInterval-time.Millisecond)) {
		t.Error("a request within the interval claimed the touch again")
	}
	if !ts.claim("k", at.Add(-touchInterval)) {
		t.Error("after the clock went back by the interval the touch was refused")
	}
}

// TestSessionTouchOnceAcrossInstances: two instances whose requests find
// the session due at once, each claiming the write for itself, write it
// once: the second sees in the store that the use is recorded.
func TestSessionTouchOnceAcrossInstances(t *testing.T) {
	a := newTestSessionsWithIdle(t, 2*time.Hour, 30*time.Minute)
	shared := &togetherStore{SessionStore: a.store}
	a.Sessions.store = shared
	b := NewSessions(SessionsConfig{Store: shared, Cookies: a.cookies, MaxAge: 2 * time.Hour, IdleTimeout: 30 * time.Minute, Now: a.clock.Now})
	_, rec := a.start(t, "ada")
	for minute := 1; minute <= 3; minute++ {
		a.clock.Advance(touchInterval)
		shared.loaded.Add(2)
		var wg sync.WaitGroup
		for _, instance := range []*Sessions{a.Sessions, b} {
			req := requestWith(rec)
			wg.Go(func() {
				sess, err := instance.Load(t.Context(), req)
				if err != nil {
					t.Errorf("Load: %v", err)
				} else if !sess.LastSeen.Equal(a.clock.Now()) {
					t.Errorf("Load returned LastSeen %v, want now, %v", sess.LastSeen, a.clock.Now())
				}
			})
		}
		wg.Wait()
		if n := shared.writes.Load(); n != int64(minute) {
			t.Fatalf("after %d minutes of a request on each of two instances at once: %d store writes, want %d", minute, n, minute)
		}
	}
}
