package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// testSessions is Sessions over a MemoryStore with a fake clock.
type testSessions struct {
	*Sessions
	store *MemoryStore
	clock *fakeClock
}

func newTestSessions(t *testing.T, maxAge time.Duration) *testSessions {
	t.Helper()
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := NewMemoryStore(clock.Now)
	cookies, err := NewCookies(CookieConfig{Secrets: []string{secretNew}, Secure: true, SessionMaxAge: maxAge})
	if err != nil {
		t.Fatalf("NewCookies: %v", err)
	}
	s := NewSessions(SessionsConfig{Store: store, Cookies: cookies, MaxAge: maxAge, IdleTimeout: maxAge, Now: clock.Now})
	return &testSessions{Sessions: s, store: store, clock: clock}
}

// start signs a user in on a request carrying planted (if any) and returns
// the session and the response.
func (s *testSessions) start(t *testing.T, subject string, planted ...*http.Cookie) (*Session, *httptest.ResponseRecorder) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/callback", nil)
	r.Header.Set("User-Agent", "test-browser")
	for _, c := range planted {
		r.AddCookie(c)
	}
	sess := &Session{User: User{Subject: subject, Name: "Ada Lovelace"}, tokens: &Tokens{IDToken: "id-token-" + subject}}
	rec := httptest.NewRecorder()
	if err := s.Start(t.Context(), rec, r, sess); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return sess, rec
}

func TestSessionStartAndLoad(t *testing.T) {
	tests := []struct {
		name    string
		request func(t *testing.T, rec *httptest.ResponseRecorder) *http.Request
		wantErr error
	}{
		{name: "the cookie Start set", request: func(t *testing.T, rec *httptest.ResponseRecorder) *http.Request {
			return browserRequest(t, rec)
		}},
		{name: "no cookie", request: func(*testing.T, *httptest.ResponseRecorder) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		}, wantErr: ErrNoSession},
		{name: "forged cookie", request: func(t *testing.T, rec *httptest.ResponseRecorder) *http.Request {
			return requestWithCookie(onlyCookie(t, rec).Name, "forged")
		}, wantErr: ErrNoSession},
		{name: "cookie under the unprefixed name", request: func(t *testing.T, rec *httptest.ResponseRecorder) *http.Request {
			return requestWithCookie(sessionCookie, onlyCookie(t, rec).Value)
		}, wantErr: ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			started, rec := s.start(t, "ada")
			if started.CSRFToken == "" || started.Key == "" {
				t.Fatalf("Start left the CSRF token or key empty: %+v", started)
			}
			if !started.ExpiresAt.Equal(s.clock.now.Add(time.Hour)) {
				t.Errorf("ExpiresAt = %v, want %v", started.ExpiresAt, s.clock.now.Add(time.Hour))
			}

			got, err := s.Load(t.Context(), tt.request(t, rec))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got.User.Subject != "ada" || got.CSRFToken != started.CSRFToken || got.IDTokenHint() != "id-token-ada" || got.UserAgent != "test-browser" {
				t.Errorf("Load = %+v, want the started session %+v", got, started)
			}
		})
	}
}

func TestSessionFixation(t *testing.T) {
	tests := []struct {
		name    string
		planted func(t *testing.T, s *testSessions) *http.Cookie
	}{
		{name: "made-up value", planted: func(t *testing.T, s *testSessions) *http.Cookie {
			return &http.Cookie{Name: s.cookies.Name(sessionCookie), Value: "attacker-chosen-session-id"}
		}},
		{name: "attacker's own sealed cookie", planted: func(t *testing.T, s *testSessions) *http.Cookie {
			_, rec := s.start(t, "mallory")
			return onlyCookie(t, rec)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			planted := tt.planted(t, s)

			_, rec := s.start(t, "ada", planted)
			issued := onlyCookie(t, rec)
			if issued.Value == planted.Value {
				t.Fatal("login kept the planted cookie value")
			}
			if got, err := s.Load(t.Context(), browserRequest(t, rec)); err != nil || got.User.Subject != "ada" {
				t.Fatalf("the new cookie: session %+v, error %v; want ada", got, err)
			}
			got, err := s.Load(t.Context(), requestWithCookie(planted.Name, planted.Value))
			if err == nil && got.User.Subject == "ada" {
				t.Error("the planted cookie authenticates as the user who logged in")
			}
		})
	}
}

func TestSessionNewIDEachStart(t *testing.T) {
	tests := []struct {
		name   string
		starts int
	}{
		{name: "two logins", starts: 2},
		{name: "ten logins", starts: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			values := map[string]bool{}
			keys := map[string]bool{}
			csrf := map[string]bool{}
			for range tt.starts {
				sess, rec := s.start(t, "ada")
				values[onlyCookie(t, rec).Value] = true
				keys[sess.Key] = true
				csrf[sess.CSRFToken] = true
			}
			if len(values) != tt.starts || len(keys) != tt.starts || len(csrf) != tt.starts {
				t.Errorf("%d logins gave %d cookie values, %d keys, %d CSRF tokens", tt.starts, len(values), len(keys), len(csrf))
			}
		})
	}
}

func TestSessionEnd(t *testing.T) {
	tests := []struct {
		name   string
		ending func(s *Session) *Session
	}{
		{name: "the loaded session", ending: func(s *Session) *Session { return s }},
		{name: "no session, only the cookie", ending: func(*Session) *Session { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			_, rec := s.start(t, "ada")
			old := browserRequest(t, rec)
			loaded, err := s.Load(t.Context(), old)
			if err != nil {
				t.Fatalf("Load before logout: %v", err)
			}

			out := httptest.NewRecorder()
			if err := s.End(t.Context(), out, tt.ending(loaded)); err != nil {
				t.Fatalf("End: %v", err)
			}
			if c := onlyCookie(t, out); c.Name != s.cookies.Name(sessionCookie) || c.MaxAge >= 0 {
				t.Errorf("End's Set-Cookie %q does not clear the session cookie", out.Header().Get("Set-Cookie"))
			}
			_, err = s.Load(t.Context(), old)
			if tt.ending(loaded) != nil && !errors.Is(err, ErrNoSession) {
				t.Errorf("replayed cookie after logout: error %v, want ErrNoSession", err)
			}
		})
	}
}

func TestSessionMaxAge(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration
		wantErr error
	}{
		{name: "fresh", after: 0},
		{name: "one second before the end", after: time.Hour - time.Second},
		{name: "at the end", after: time.Hour, wantErr: ErrNoSession},
		{name: "one second past", after: time.Hour + time.Second, wantErr: ErrNoSession},
		{name: "a week later", after: 7 * 24 * time.Hour, wantErr: ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			_, rec := s.start(t, "ada")
			s.clock.Advance(tt.after)
			if _, err := s.Load(t.Context(), browserRequest(t, rec)); !errors.Is(err, tt.wantErr) {
				t.Errorf("Load after %v: error %v, want %v", tt.after, err, tt.wantErr)
			}
		})
	}
}

func TestSessionStoreKeyIsNotTheCookieID(t *testing.T) {
	s := newTestSessions(t, time.Hour)
	sess, rec := s.start(t, "ada")
	var id string
	if err := s.cookies.get(browserRequest(t, rec), s.cookies.session, s.cookies.Name(sessionCookie), &id); err != nil {
		t.Fatalf("open the issued cookie: %v", err)
	}
	if id == sess.Key {
		t.Fatal("the store key is the cookie's id")
	}

	tests := []struct {
		name string
		seal bool // whether the attacker could also seal cookies
	}{
		{name: "store key sealed as the id", seal: true},
		{name: "store key as the raw cookie value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := requestWithCookie(s.cookies.Name(sessionCookie), sess.Key)
			if tt.seal {
				forged := httptest.NewRecorder()
				if err := s.cookies.set(forged, s.cookies.session, s.cookies.Name(sessionCookie), sess.Key, time.Hour); err != nil {
					t.Fatalf("seal: %v", err)
				}
				r = browserRequest(t, forged)
			}
			if _, err := s.Load(t.Context(), r); !errors.Is(err, ErrNoSession) {
				t.Errorf("a cookie made from the store's contents: error %v, want ErrNoSession", err)
			}
		})
	}
}

func TestMemoryStoreConcurrentUse(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		rounds  int
	}{
		{name: "few workers", workers: 4, rounds: 200},
		{name: "many workers", workers: 32, rounds: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore(nil)
			expires := time.Now().Add(time.Hour)
			shared := &Session{Key: "shared", User: User{Subject: "shared"}, ExpiresAt: expires, IdleUntil: expires}
			if err := store.Create(t.Context(), shared); err != nil {
				t.Fatalf("Save: %v", err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, tt.workers)
			for w := range tt.workers {
				wg.Go(func() {
					key := fmt.Sprintf("key-%d", w)
					for i := range tt.rounds {
						want := fmt.Sprintf("user-%d-%d", w, i)
						if err := store.Create(t.Context(), &Session{Key: key, User: User{Subject: want}, ExpiresAt: expires, IdleUntil: expires}); err != nil {
							errs <- fmt.Errorf("save %s: %w", key, err)
							return
						}
						got, err := store.Load(t.Context(), key)
						if err != nil || got.User.Subject != want {
							errs <- fmt.Errorf("load %s: got %+v, %v; want %s", key, got, err, want)
							return
						}
						if s, err := store.Load(t.Context(), "shared"); err != nil || s.User.Subject != "shared" {
							errs <- fmt.Errorf("load shared: got %+v, %v", s, err)
							return
						}
						if err := store.Delete(t.Context(), key); err != nil {
							errs <- fmt.Errorf("delete %s: %w", key, err)
							return
						}
						if _, err := store.Load(t.Context(), key); !errors.Is(err, ErrNoSession) {
							errs <- fmt.Errorf("load %s after delete: %v, want ErrNoSession", key, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestMemoryStoreReturnsCopies(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(saved, loaded *Session)
	}{
		{name: "caller changes what it saved", mutate: func(saved, _ *Session) { saved.User.Name = "changed" }},
		{name: "caller changes what it loaded", mutate: func(_, loaded *Session) { loaded.User.Name = "changed" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore(nil)
			saved := &Session{Key: "k", User: User{Name: "Ada"}, ExpiresAt: time.Now().Add(time.Hour), IdleUntil: time.Now().Add(time.Hour)}
			if err := store.Create(t.Context(), saved); err != nil {
				t.Fatalf("Save: %v", err)
			}
			loaded, err := store.Load(t.Context(), "k")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.mutate(saved, loaded)
			again, err := store.Load(t.Context(), "k")
			if err != nil {
				t.Fatalf("Load again: %v", err)
			}
			if again.User.Name != "Ada" {
				t.Errorf("stored name = %q, want Ada", again.User.Name)
			}
		})
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	tests := []struct {
		name     string
		activity []time.Duration // pauses between requests before the last one
		wantLive bool
	}{
		{name: "used within the idle limit", activity: []time.Duration{29 * time.Minute}, wantLive: true},
		{name: "idle one second past the limit", activity: []time.Duration{30*time.Minute + time.Second}, wantLive: false},
		{name: "kept alive by use", activity: []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, wantLive: true},
		{name: "kept alive by use, then idle", activity: []time.Duration{20 * time.Minute, 31 * time.Minute}, wantLive: false},
		{name: "use cannot pass the absolute limit", activity: []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, wantLive: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessionsWithIdle(t, 2*time.Hour, 30*time.Minute)
			_, rec := s.start(t, "ada")
			var err error
			for _, pause := range tt.activity {
				s.clock.Advance(pause)
				_, err = s.Load(t.Context(), requestWith(rec))
				if err != nil {
					break
				}
			}
			if live := err == nil; live != tt.wantLive {
				t.Fatalf("after %v: live = %v (err %v), want %v", tt.activity, live, err, tt.wantLive)
			}
		})
	}
}

func TestSessionTouchWritesAtMostOncePerMinute(t *testing.T) {
	s := newTestSessionsWithIdle(t, 2*time.Hour, 30*time.Minute)
	counting := &countingStore{SessionStore: s.store}
	s.Sessions.store = counting
	_, rec := s.start(t, "ada")
	// Requests every 5 seconds for 10 minutes.
	for range 120 {
		s.clock.Advance(5 * time.Second)
		if _, err := s.Load(t.Context(), requestWith(rec)); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	if counting.touches < 9 || counting.touches > 10 {
		t.Errorf("%d store writes in 10 minutes of activity, want about one a minute", counting.touches)
	}
}

type countingStore struct {
	SessionStore
	touches int
}

func (c *countingStore) Update(ctx context.Context, key string, change func(*Session) error) (*Session, error) {
	c.touches++
	return c.SessionStore.Update(ctx, key, change)
}

func newTestSessionsWithIdle(t *testing.T, maxAge, idle time.Duration) *testSessions {
	t.Helper()
	s := newTestSessions(t, maxAge)
	s.Sessions.idle = idle
	return s
}

func requestWith(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestSessionsPerUserBounded(t *testing.T) {
	s := newTestSessions(t, 24*time.Hour)
	_, graceRec := s.start(t, "grace")
	var recs []*httptest.ResponseRecorder
	for range MaxSessionsPerUser + 5 {
		s.clock.Advance(time.Second)
		_, rec := s.start(t, "ada")
		recs = append(recs, rec)
	}
	list, err := s.store.ListBySubject(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != MaxSessionsPerUser {
		t.Errorf("%d logins left %d sessions, want %d", MaxSessionsPerUser+5, len(list), MaxSessionsPerUser)
	}
	for i, rec := range recs {
		_, err := s.Load(t.Context(), requestWith(rec))
		if ended := errors.Is(err, ErrNoSession); ended != (i < 5) {
			t.Errorf("login %d: ended = %v (%v); want only the 5 oldest ended", i+1, ended, err)
		}
	}
	if _, err := s.Load(t.Context(), requestWith(graceRec)); err != nil {
		t.Errorf("another user's session: %v", err)
	}
}

func TestSessionsPerUserBoundedUnderConcurrentLogins(t *testing.T) {
	s := newTestSessions(t, 24*time.Hour)
	var wg sync.WaitGroup
	for range 3 * MaxSessionsPerUser {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodGet, "/callback", nil)
			if err := s.Start(t.Context(), httptest.NewRecorder(), r, &Session{User: User{Subject: "ada"}}); err != nil {
				t.Errorf("Start: %v", err)
			}
		})
	}
	wg.Wait()
	list, err := s.store.ListBySubject(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list); n == 0 || n > MaxSessionsPerUser {
		t.Errorf("%d concurrent logins left %d sessions, want 1 to %d", 3*MaxSessionsPerUser, n, MaxSessionsPerUser)
	}
}

func TestSessionKeepsABoundedUserAgent(t *testing.T) {
	for _, tt := range []struct {
		name, ua string
	}{
		{"a browser's", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"},
		{"a megabyte", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 " + strings.Repeat("x", 1<<20)},
		{"cut inside a character", strings.Repeat("é", MaxUserAgent)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(t, time.Hour)
			r := httptest.NewRequest(http.MethodGet, "/callback", nil)
			r.Header.Set("User-Agent", tt.ua)
			sess := &Session{User: User{Subject: "ada"}}
			if err := s.Start(t.Context(), httptest.NewRecorder(), r, sess); err != nil {
				t.Fatal(err)
			}
			stored, err := s.store.Load(t.Context(), sess.Key)
			if err != nil {
				t.Fatal(err)
			}
			got := stored.UserAgent
			if len(got) > MaxUserAgent || !utf8.ValidString(got) || !strings.HasPrefix(tt.ua, got) {
				t.Errorf("stored User-Agent of %d bytes (valid UTF-8: %v), want a prefix of at most %d", len(got), utf8.ValidString(got), MaxUserAgent)
			}
			if len(tt.ua) <= MaxUserAgent && got != tt.ua {
				t.Errorf("stored User-Agent %q, want %q", got, tt.ua)
			}
		})
	}
}
