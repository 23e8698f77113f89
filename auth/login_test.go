package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSafeReturnPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "absolute URL", in: "https://evil", want: "/"},
		{name: "protocol-relative", in: "//evil", want: "/"},
		{name: "backslash after slash", in: `/\evil`, want: "/"},
		{name: "encoded backslash", in: "/%5Cevil", want: "/"},
		{name: "encoded lowercase backslash", in: "/%5cevil", want: "/"},
		{name: "encoded tab", in: "/%09/evil", want: "/"},
		{name: "raw tab", in: "/\t/evil", want: "/"},
		{name: "encoded newline", in: "/%0a/evil", want: "/"},
		{name: "javascript scheme", in: "javascript:alert(1)", want: "/"},
		{name: "encoded slash", in: "/%2F/evil", want: "/"},
		{name: "encoded lowercase slash", in: "/%2f/evil", want: "/"},
		{name: "leading space", in: " /x", want: "/"},
		{name: "leading backslash", in: `\/evil`, want: "/"},
		{name: "triple slash", in: "///evil", want: "/"},
		{name: "empty", in: "", want: "/"},
		{name: "scheme with one slash", in: "http:/evil", want: "/"},
		{name: "relative path", in: "dashboard", want: "/"},
		{name: "bad percent encoding", in: "/%zz", want: "/"},
		{name: "very long", in: "/" + strings.Repeat("a", 5000), want: "/"},
		{name: "one byte over the limit", in: "/" + strings.Repeat("a", 2048), want: "/"},
		{name: "at the limit", in: "/" + strings.Repeat("a", 2047), want: "/" + strings.Repeat("a", 2047)},
		{name: "root", in: "/", want: "/"},
		{name: "dashboard", in: "/dashboard", want: "/dashboard"},
		{name: "query", in: "/a/b?c=d", want: "/a/b?c=d"},
		{name: "fragment", in: "/x#frag", want: "/x#frag"},
		{name: "encoded space inside", in: "/a%20b", want: "/"},
		{name: "encoded letter", in: "/%61bc", want: "/%61bc"},
		{name: "encoded space in the query", in: "/search?q=a%20b&x=%2F%2F", want: "/search?q=a%20b&x=%2F%2F"},
		{name: "raw space in the query", in: "/search?q=a b", want: "/"},
		{name: "encoded slashes in the path before a query", in: "/%2f/evil?x", want: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SafeReturnPath(tt.in); got != tt.want {
				t.Errorf("SafeReturnPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// verifierFormat is RFC 7636's code_verifier: 43–128 unreserved characters.
var verifierFormat = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

func TestNewLoginAttemptValues(t *testing.T) {
	tests := []struct {
		name     string
		returnTo string
		popup    bool
	}{
		{name: "plain", returnTo: "/dashboard"},
		{name: "popup", returnTo: "/", popup: true},
		{name: "no return path", returnTo: ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewLoginAttempt(tt.returnTo, tt.popup)
			if a.ReturnTo != tt.returnTo || a.Popup != tt.popup {
				t.Errorf("attempt = %+v, want return %q popup %v", *a, tt.returnTo, tt.popup)
			}
			if !verifierFormat.MatchString(a.Verifier) {
				t.Errorf("verifier %q (%d chars) is not 43–128 unreserved characters", a.Verifier, len(a.Verifier))
			}
			sum := sha256.Sum256([]byte(a.Verifier))
			if want := base64.RawURLEncoding.EncodeToString(sum[:]); a.codeChallenge() != want {
				t.Errorf("S256 challenge = %q, want %q", a.codeChallenge(), want)
			}
			if !stateFormat.MatchString(a.State) {
				t.Errorf("state %q does not have the format TakeLoginAttempt accepts", a.State)
			}
			for kind, v := range map[string]string{"state": a.State, "nonce": a.Nonce, "verifier": a.Verifier, "challenge": a.codeChallenge()} {
				if len(v) < 43 {
					t.Errorf("%s %q is shorter than 256 bits", kind, v)
				}
				if prev, ok := seen[v]; ok {
					t.Errorf("%s %q repeats an earlier %s", kind, v, prev)
				}
				seen[v] = kind
			}
		})
	}
}

func TestTakeLoginAttempt(t *testing.T) {
	tests := []struct {
		name    string
		state   func(a *LoginAttempt) string
		wantErr error
	}{
		{name: "right state", state: func(a *LoginAttempt) string { return a.State }},
		{name: "no state", state: func(*LoginAttempt) string { return "" }, wantErr: ErrCookieInvalid},
		{name: "another attempt's state", state: func(*LoginAttempt) string { return NewLoginAttempt("/", false).State }, wantErr: ErrCookieInvalid},
		{name: "state with a suffix", state: func(a *LoginAttempt) string { return a.State + "_INVALID" }, wantErr: ErrCookieInvalid},
		{name: "state cut short", state: func(a *LoginAttempt) string { return a.State[:42] }, wantErr: ErrCookieInvalid},
		{name: "state with cookie syntax", state: func(a *LoginAttempt) string { return a.State[:40] + "; x" }, wantErr: ErrCookieInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCookies(t, true, secretNew)
			want := NewLoginAttempt("/a/b?c=d", true)
			saved := httptest.NewRecorder()
			if err := c.SaveLoginAttempt(saved, httptest.NewRequest(http.MethodGet, "/login", nil), want); err != nil {
				t.Fatalf("SaveLoginAttempt: %v", err)
			}

			rec := httptest.NewRecorder()
			got, err := c.TakeLoginAttempt(rec, browserRequest(t, saved), tt.state(want))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("TakeLoginAttempt error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if *got != *want {
				t.Errorf("attempt = %+v, want %+v", *got, *want)
			}
			cleared := onlyCookie(t, rec)
			if cleared.Name != onlyCookie(t, saved).Name || cleared.MaxAge >= 0 {
				t.Errorf("Set-Cookie %q does not clear the attempt cookie", rec.Header().Get("Set-Cookie"))
			}
			if cleared.Path != "/" || !cleared.Secure {
				t.Errorf("clearing Set-Cookie %q must match the cookie's Path and Secure", rec.Header().Get("Set-Cookie"))
			}
		})
	}
}

func TestLoginAttemptsInFlightTogether(t *testing.T) {
	tests := []struct {
		name  string
		order []int // the order the callbacks come back in
	}{
		{name: "first started finishes first", order: []int{0, 1}},
		{name: "second started finishes first", order: []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCookies(t, true, secretNew)
			attempts := []*LoginAttempt{NewLoginAttempt("/first", false), NewLoginAttempt("/second", true)}
			var recs []*httptest.ResponseRecorder
			for _, a := range attempts {
				rec := httptest.NewRecorder()
				// The second /login carries the first attempt's cookie.
				if err := c.SaveLoginAttempt(rec, browserRequest(t, recs...), a); err != nil {
					t.Fatalf("SaveLoginAttempt: %v", err)
				}
				recs = append(recs, rec)
			}
			if onlyCookie(t, recs[0]).Name == onlyCookie(t, recs[1]).Name {
				t.Fatal("both attempts use the same cookie name; the second would overwrite the first")
			}
			r := browserRequest(t, recs...)
			for _, i := range tt.order {
				got, err := c.TakeLoginAttempt(httptest.NewRecorder(), r, attempts[i].State)
				if err != nil {
					t.Fatalf("attempt %d: %v", i, err)
				}
				if got.ReturnTo != attempts[i].ReturnTo || got.Nonce != attempts[i].Nonce || got.Verifier != attempts[i].Verifier {
					t.Errorf("attempt %d came back as %+v, want %+v", i, *got, *attempts[i])
				}
			}
		})
	}
}

func TestLogoutState(t *testing.T) {
	tests := []struct {
		name      string
		withState bool // whether the browser kept the logout cookie
		state     func(saved string) string
		want      bool
	}{
		{name: "right state", withState: true, state: func(s string) string { return s }, want: true},
		{name: "wrong state", withState: true, state: func(s string) string { return s + "_INVALID" }},
		{name: "no state", withState: true, state: func(string) string { return "" }},
		{name: "no logout cookie", state: func(s string) string { return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCookies(t, true, secretNew)
			saved := httptest.NewRecorder()
			state, err := c.SaveLogoutState(saved)
			if err != nil {
				t.Fatalf("SaveLogoutState: %v", err)
			}
			if len(state) < 43 {
				t.Errorf("logout state %q is shorter than 256 bits", state)
			}
			r := httptest.NewRequest(http.MethodGet, "/?state="+state, nil)
			if tt.withState {
				r = browserRequest(t, saved)
			}
			rec := httptest.NewRecorder()
			if got := c.TakeLogoutState(rec, r, tt.state(state)); got != tt.want {
				t.Errorf("TakeLogoutState = %v, want %v", got, tt.want)
			}
			if tt.withState {
				if cleared := onlyCookie(t, rec); cleared.MaxAge >= 0 {
					t.Errorf("logout cookie not cleared: %q", rec.Header().Get("Set-Cookie"))
				}
			}
		})
	}
}

func TestLoginAttemptWithAnOversizedReturnPath(t *testing.T) {
	c := newTestCookies(t, true, secretNew)
	// JSON turns each & into six bytes: this query would not fit in a cookie.
	a := NewLoginAttempt(SafeReturnPath("/?"+strings.Repeat("&", 1000)), false)
	saved := httptest.NewRecorder()
	if err := c.SaveLoginAttempt(saved, httptest.NewRequest(http.MethodGet, "/login", nil), a); err != nil {
		t.Fatalf("SaveLoginAttempt: %v", err)
	}
	if n := len(saved.Header().Get("Set-Cookie")); n > loginCookieSize {
		t.Errorf("Set-Cookie is %d bytes, more than %d", n, loginCookieSize)
	}
	got, err := c.TakeLoginAttempt(httptest.NewRecorder(), browserRequest(t, saved), a.State)
	if err != nil {
		t.Fatalf("TakeLoginAttempt: %v", err)
	}
	if got.ReturnTo != "/" {
		t.Errorf("ReturnTo = %q, want its path alone, without the query", got.ReturnTo)
	}
}

// cookieJar keeps what a browser keeps of the Set-Cookie headers it is
// sent, by name, and sends it back.
type cookieJar map[string]string

func (j cookieJar) receive(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
		} else {
			j[c.Name] = c.Value
		}
	}
}

func (j cookieJar) request(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for name, value := range j {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return r
}

// TestLoginCookieBudget: however many logins a browser is made to start,
// and with whatever return path, it holds a few small login cookies, and
// the newest attempts still finish (L4 in docs/security.md).
func TestLoginCookieBudget(t *testing.T) {
	tests := []struct {
		name     string
		returnTo string
	}{
		{name: "no return path"},
		{name: "2 KB return path", returnTo: SafeReturnPath("/a?" + strings.Repeat("b", 2040))},
		{name: "return path of escaped characters", returnTo: SafeReturnPath("/a?" + strings.Repeat("<&>", 340))},
		{name: "long path", returnTo: SafeReturnPath("/" + strings.Repeat("p", 2040))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCookies(t, true, secretNew)
			jar := cookieJar{}
			var attempts []*LoginAttempt
			for i := range 60 {
				a := NewLoginAttempt(tt.returnTo, i%2 == 0)
				a.Started += int64(i) // one a second
				rec := httptest.NewRecorder()
				if err := c.SaveLoginAttempt(rec, jar.request("/login"), a); err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
				for _, v := range rec.Header().Values("Set-Cookie") {
					if len(v) > 4096 {
						t.Fatalf("login %d: a Set-Cookie of %d bytes", i, len(v))
					}
				}
				jar.receive(rec)
				attempts = append(attempts, a)
			}
			if len(jar) > loginSlots {
				t.Errorf("the browser holds %d login cookies, want at most %d", len(jar), loginSlots)
			}
			// With a session cookie and a logout cookie beside them, the
			// Cookie header stays under 8 KB.
			others := httptest.NewRecorder()
			if err := c.set(others, c.session, c.Name(sessionCookie), randomString(32), time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SaveLogoutState(others); err != nil {
				t.Fatal(err)
			}
			withOthers := maps.Clone(jar)
			withOthers.receive(others)
			header := len(withOthers.request("/").Header.Get("Cookie"))
			if header >= 8<<10 {
				t.Errorf("Cookie header of %d bytes, want under 8 KB", header)
			}
			for i := len(attempts) - loginSlots; i < len(attempts); i++ {
				got, err := c.TakeLoginAttempt(httptest.NewRecorder(), jar.request("/callback"), attempts[i].State)
				if err != nil {
					t.Fatalf("attempt %d of the newest %d does not finish: %v", i, loginSlots, err)
				}
				if want := attempts[i].ReturnTo; got.ReturnTo != want {
					t.Errorf("attempt %d ReturnTo = %q, want %q", i, got.ReturnTo, want)
				}
			}
			if _, err := c.TakeLoginAttempt(httptest.NewRecorder(), jar.request("/callback"), attempts[0].State); err == nil {
				t.Error("the oldest attempt still finishes after 59 newer ones")
			}
		})
	}
}

// TestReturnPathKeptUpToTheLimit: a return path of up to MaxReturnPath
// plain characters comes back whole.
func TestReturnPathKeptUpToTheLimit(t *testing.T) {
	c := newTestCookies(t, true, secretNew)
	want := "/search?" + strings.Repeat("q", MaxReturnPath-len("/search?"))
	a := NewLoginAttempt(want, true)
	rec := httptest.NewRecorder()
	if err := c.SaveLoginAttempt(rec, httptest.NewRequest(http.MethodGet, "/login", nil), a); err != nil {
		t.Fatalf("SaveLoginAttempt: %v", err)
	}
	got, err := c.TakeLoginAttempt(httptest.NewRecorder(), browserRequest(t, rec), a.State)
	if err != nil {
		t.Fatalf("TakeLoginAttempt: %v", err)
	}
	if got.ReturnTo != want {
		t.Errorf("ReturnTo has %d characters, want all %d", len(got.ReturnTo), len(want))
	}
}

// TestLegacyLoginCookiesCleared: the per-state cookies of earlier versions
// are cleared by the next login, so a jar filled with them recovers.
func TestLegacyLoginCookiesCleared(t *testing.T) {
	c := newTestCookies(t, true, secretNew)
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	legacy := "__Host-latchkey-login-" + NewLoginAttempt("", false).State
	r.AddCookie(&http.Cookie{Name: legacy, Value: "x"})
	rec := httptest.NewRecorder()
	if err := c.SaveLoginAttempt(rec, r, NewLoginAttempt("/", false)); err != nil {
		t.Fatalf("SaveLoginAttempt: %v", err)
	}
	cleared := false
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == legacy && ck.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("legacy cookie %s not cleared: %q", legacy, rec.Header().Values("Set-Cookie"))
	}
}
