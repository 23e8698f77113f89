package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	secretOld   = "old-secret-old-secret-old-secret-0"
	secretNew   = "new-secret-new-secret-new-secret-1"
	secretOther = "other-secret-other-secret-other-2"
)

// newTestCookies returns Cookies over secrets, failing the test on error.
func newTestCookies(t *testing.T, secure bool, secrets ...string) *Cookies {
	t.Helper()
	c, err := NewCookies(CookieConfig{Secrets: secrets, Secure: secure, SessionMaxAge: time.Hour})
	if err != nil {
		t.Fatalf("NewCookies: %v", err)
	}
	return c
}

// browserRequest is the request a browser sends after receiving the
// responses in recs: every cookie they set and did not clear.
func browserRequest(t *testing.T, recs ...*httptest.ResponseRecorder) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/callback", nil)
	for _, rec := range recs {
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge < 0 {
				continue
			}
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return r
}

// onlyCookie returns the single cookie rec set, failing otherwise.
func onlyCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("got %d Set-Cookie headers, want 1: %q", len(cookies), rec.Header().Values("Set-Cookie"))
	}
	return cookies[0]
}

// requestWithCookie is a request carrying one cookie.
func requestWithCookie(name, value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return r
}

func TestNewCookiesRejectsBadSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		wantErr bool
	}{
		{name: "no secret", secrets: nil, wantErr: true},
		{name: "one character short", secrets: []string{strings.Repeat("s", MinSecretLength-1)}, wantErr: true},
		{name: "exactly the minimum", secrets: []string{strings.Repeat("s", MinSecretLength)}},
		{name: "old secret too short", secrets: []string{secretNew, "short"}, wantErr: true},
		{name: "rotation pair", secrets: []string{secretNew, secretOld}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCookies(CookieConfig{Secrets: tt.secrets, SessionMaxAge: time.Hour})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("NewCookies error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestCookieRoundTripAndTampering(t *testing.T) {
	flip := func(v string, i int) string {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name    string
		opener  []string
		mangle  func(string) string
		wantErr error
	}{
		{name: "untouched", opener: []string{secretNew}, mangle: func(v string) string { return v }},
		{name: "first byte flipped", opener: []string{secretNew}, mangle: func(v string) string { return flip(v, 0) }, wantErr: ErrCookieInvalid},
		{name: "middle byte flipped", opener: []string{secretNew}, mangle: func(v string) string { return flip(v, len(v)/2) }, wantErr: ErrCookieInvalid},
		{name: "truncated", opener: []string{secretNew}, mangle: func(v string) string { return v[:len(v)-8] }, wantErr: ErrCookieInvalid},
		{name: "garbage appended", opener: []string{secretNew}, mangle: func(v string) string { return v + "AAAA" }, wantErr: ErrCookieInvalid},
		{name: "empty", opener: []string{secretNew}, mangle: func(string) string { return "" }, wantErr: ErrCookieInvalid},
		{name: "opened with another secret", opener: []string{secretOther}, mangle: func(v string) string { return v }, wantErr: ErrCookieInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealer := newTestCookies(t, true, secretNew)
			opener := newTestCookies(t, true, tt.opener...)
			want := NewLoginAttempt("/dashboard", false)

			rec := httptest.NewRecorder()
			if err := sealer.SaveLoginAttempt(rec, httptest.NewRequest(http.MethodGet, "/login", nil), want); err != nil {
				t.Fatalf("SaveLoginAttempt: %v", err)
			}
			sealed := onlyCookie(t, rec)
			r := requestWithCookie(sealed.Name, tt.mangle(sealed.Value))

			got, err := opener.TakeLoginAttempt(httptest.NewRecorder(), r, want.State)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("TakeLoginAttempt error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && *got != *want {
				t.Errorf("opened %+v, want %+v", *got, *want)
			}
		})
	}
}

func TestCookieSecretRotation(t *testing.T) {
	tests := []struct {
		name     string
		sealer   []string
		opener   []string
		wantOpen bool
	}{
		{name: "old cookie opened after rotation", sealer: []string{secretOld}, opener: []string{secretNew, secretOld}, wantOpen: true},
		{name: "new cookie sealed with the new secret", sealer: []string{secretNew, secretOld}, opener: []string{secretNew}, wantOpen: true},
		{name: "new cookie not sealed with the old secret", sealer: []string{secretNew, secretOld}, opener: []string{secretOld}},
		{name: "old cookie after the old secret is retired", sealer: []string{secretOld}, opener: []string{secretNew}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealer := newTestCookies(t, true, tt.sealer...)
			opener := newTestCookies(t, true, tt.opener...)
			store := NewMemoryStore(nil)
			sealing := NewSessions(SessionsConfig{Store: store, Cookies: sealer, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
			opening := NewSessions(SessionsConfig{Store: store, Cookies: opener, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})

			rec := httptest.NewRecorder()
			if err := sealing.Start(t.Context(), rec, httptest.NewRequest(http.MethodGet, "/callback", nil), &Session{User: User{Subject: "ada"}}); err != nil {
				t.Fatalf("Start: %v", err)
			}
			sess, err := opening.Load(t.Context(), browserRequest(t, rec))
			switch {
			case tt.wantOpen && err != nil:
				t.Errorf("Load session: %v", err)
			case tt.wantOpen && sess.User.Subject != "ada":
				t.Errorf("Load user = %q, want ada", sess.User.Subject)
			case !tt.wantOpen && !errors.Is(err, ErrNoSession):
				t.Errorf("Load error = %v, want ErrNoSession", err)
			}

			attempt := NewLoginAttempt("/dashboard", false)
			rec = httptest.NewRecorder()
			if err := sealer.SaveLoginAttempt(rec, httptest.NewRequest(http.MethodGet, "/login", nil), attempt); err != nil {
				t.Fatalf("SaveLoginAttempt: %v", err)
			}
			_, err = opener.TakeLoginAttempt(httptest.NewRecorder(), browserRequest(t, rec), attempt.State)
			switch {
			case tt.wantOpen && err != nil:
				t.Errorf("TakeLoginAttempt: %v", err)
			case !tt.wantOpen && !errors.Is(err, ErrCookieInvalid):
				t.Errorf("TakeLoginAttempt error = %v, want ErrCookieInvalid", err)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	longPath := "/" + strings.Repeat("a", 1023)
	if SafeReturnPath(longPath) != longPath {
		t.Fatalf("a %d-byte path should be a valid return path", len(longPath))
	}
	tests := []struct {
		name   string
		secure bool
		set    func(t *testing.T, c *Cookies, w http.ResponseWriter)
		base   string // name without the __Host- prefix, or a prefix of it
		maxAge time.Duration
	}{
		{
			name: "session", secure: true, base: "latchkey", maxAge: time.Hour,
			set: func(t *testing.T, c *Cookies, w http.ResponseWriter) {
				s := NewSessions(SessionsConfig{Store: NewMemoryStore(nil), Cookies: c, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
				if err := s.Start(t.Context(), w, httptest.NewRequest(http.MethodGet, "/callback", nil), &Session{}); err != nil {
					t.Fatalf("Start: %v", err)
				}
			},
		},
		{
			name: "login attempt", secure: true, base: "latchkey-login-", maxAge: 10 * time.Minute,
			set: func(t *testing.T, c *Cookies, w http.ResponseWriter) {
				if err := c.SaveLoginAttempt(w, httptest.NewRequest(http.MethodGet, "/login", nil), NewLoginAttempt("/dashboard", false)); err != nil {
					t.Fatalf("SaveLoginAttempt: %v", err)
				}
			},
		},
		{
			name: "login attempt with a long return path", secure: true, base: "latchkey-login-", maxAge: 10 * time.Minute,
			set: func(t *testing.T, c *Cookies, w http.ResponseWriter) {
				if err := c.SaveLoginAttempt(w, httptest.NewRequest(http.MethodGet, "/login", nil), NewLoginAttempt(longPath, true)); err != nil {
					t.Fatalf("SaveLoginAttempt: %v", err)
				}
			},
		},
		{
			name: "logout state", secure: true, base: "latchkey-logout", maxAge: 10 * time.Minute,
			set: func(t *testing.T, c *Cookies, w http.ResponseWriter) {
				if _, err := c.SaveLogoutState(w); err != nil {
					t.Fatalf("SaveLogoutState: %v", err)
				}
			},
		},
		{
			name: "session over plain http", secure: false, base: "latchkey", maxAge: time.Hour,
			set: func(t *testing.T, c *Cookies, w http.ResponseWriter) {
				s := NewSessions(SessionsConfig{Store: NewMemoryStore(nil), Cookies: c, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
				if err := s.Start(t.Context(), w, httptest.NewRequest(http.MethodGet, "/callback", nil), &Session{}); err != nil {
					t.Fatalf("Start: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCookies(t, tt.secure, secretNew)
			rec := httptest.NewRecorder()
			tt.set(t, c, rec)

			headers := rec.Header().Values("Set-Cookie")
			if len(headers) != 1 {
				t.Fatalf("got %d Set-Cookie headers, want 1", len(headers))
			}
			raw := headers[0]
			if len(raw) > 4096 {
				t.Errorf("Set-Cookie is %d bytes, over 4096", len(raw))
			}
			cookie, err := http.ParseSetCookie(raw)
			if err != nil {
				t.Fatalf("parse Set-Cookie %q: %v", raw, err)
			}
			wantPrefix := tt.base
			if tt.secure {
				wantPrefix = "__Host-" + tt.base
			}
			if !strings.HasPrefix(cookie.Name, wantPrefix) {
				t.Errorf("name = %q, want prefix %q", cookie.Name, wantPrefix)
			}
			if !tt.secure && strings.HasPrefix(cookie.Name, "__Host-") {
				t.Errorf("name = %q: a __Host- cookie needs Secure", cookie.Name)
			}
			if cookie.Secure != tt.secure {
				t.Errorf("Secure = %v, want %v", cookie.Secure, tt.secure)
			}
			if !cookie.HttpOnly {
				t.Error("HttpOnly missing")
			}
			if cookie.SameSite != http.SameSiteLaxMode {
				t.Errorf("SameSite = %v, want Lax (%q)", cookie.SameSite, raw)
			}
			if cookie.Path != "/" {
				t.Errorf("Path = %q, want /", cookie.Path)
			}
			if cookie.Domain != "" || strings.Contains(strings.ToLower(raw), "domain=") {
				t.Errorf("cookie has a Domain: %q", raw)
			}
			if cookie.MaxAge <= 0 || time.Duration(cookie.MaxAge)*time.Second > tt.maxAge {
				t.Errorf("Max-Age = %d, want 1..%d", cookie.MaxAge, int(tt.maxAge/time.Second))
			}
		})
	}
}

func TestCookiePurposesAreSeparate(t *testing.T) {
	c := newTestCookies(t, true, secretNew)
	sessions := NewSessions(SessionsConfig{Store: NewMemoryStore(nil), Cookies: c, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	tests := []struct {
		name     string
		seal     func(w http.ResponseWriter) error
		wantOpen bool
	}{
		{name: "sealed with the login key", seal: func(w http.ResponseWriter) error {
			return c.set(w, c.login, c.Name(sessionCookie), "some-id", time.Minute)
		}},
		{name: "sealed with the session key", wantOpen: true, seal: func(w http.ResponseWriter) error {
			return c.set(w, c.session, c.Name(sessionCookie), "some-id", time.Minute)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tt.seal(rec); err != nil {
				t.Fatalf("seal: %v", err)
			}
			// Neither names a stored session; the point is that a value
			// sealed for logins never even opens as a session id.
			var id string
			err := c.get(browserRequest(t, rec), c.session, c.Name(sessionCookie), &id)
			if (err == nil) != tt.wantOpen {
				t.Fatalf("open as session: err = %v, want opened: %v", err, tt.wantOpen)
			}
			if _, err := sessions.Load(t.Context(), browserRequest(t, rec)); !errors.Is(err, ErrNoSession) {
				t.Errorf("Load error = %v, want ErrNoSession", err)
			}
		})
	}
}
