package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LoginAttempt is one browser's attempt to sign in: the values the callback
// must see again. It lives in a sealed, short-lived cookie of its own, one
// of loginSlots, so several attempts (two tabs) can be in flight at once
// while a browser never holds more than a few.
type LoginAttempt struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Popup    bool   `json:"p,omitempty"`
	// Started is when the attempt began, in Unix seconds: the oldest
	// attempt gives way to a new one.
	Started int64 `json:"t"`
}

// NewLoginAttempt returns an attempt with fresh random state, nonce and
// PKCE verifier. returnTo must already be a safe local path.
func NewLoginAttempt(returnTo string, popup bool) *LoginAttempt {
	return &LoginAttempt{
		State:    randomString(32),
		Nonce:    randomString(32),
		Verifier: randomString(32), // 43 characters, within RFC 7636's 43–128
		ReturnTo: returnTo,
		Popup:    popup,
		Started:  time.Now().Unix(),
	}
}

// codeChallenge is the S256 PKCE challenge for the attempt's verifier.
func (a *LoginAttempt) codeChallenge() string {
	sum := sha256.Sum256([]byte(a.Verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// The login cookies a browser can hold are few and small, whatever it is
// made to do (a page elsewhere can open /login in a loop): loginSlots
// cookies of at most loginCookieSize bytes each, named latchkey-login-0 to
// -2. A new attempt takes a free slot, else the oldest attempt's, so the
// newest attempts always work, and the Cookie header latchkey causes stays
// under 8 KB with the session and logout cookies beside them.
const (
	loginSlots        = 3
	loginCookiePrefix = "latchkey-login-"
	loginCookieSize   = 2400
	// MaxReturnPath is the longest return path a login keeps; of a longer
	// one the path alone is kept if it fits, else the login lands on the
	// default page. Characters JSON escapes (such as &) count more.
	MaxReturnPath = 1024
)

// stateFormat is what NewLoginAttempt makes; anything else names no attempt.
var stateFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// legacyLoginCookie is the name attempts had when each had a cookie of its
// own named after its state; such cookies are cleared when met.
var legacyLoginCookie = regexp.MustCompile(`^(__Host-)?latchkey-login-[A-Za-z0-9_-]{43}$`)

func (c *Cookies) loginCookie(slot int) string {
	return c.Name(loginCookiePrefix + strconv.Itoa(slot))
}

// SaveLoginAttempt sets the attempt's cookie in a free slot, or in the
// oldest attempt's, which then ends. A return path too long to keep is
// shortened as MaxReturnPath says.
func (c *Cookies) SaveLoginAttempt(w http.ResponseWriter, r *http.Request, a *LoginAttempt) error {
	slot, oldest := -1, int64(0)
	var free []int
	for i := range loginSlots {
		var held LoginAttempt
		if c.get(r, c.login, c.loginCookie(i), &held) != nil {
			free = append(free, i)
			continue
		}
		if slot < 0 || held.Started < oldest {
			slot, oldest = i, held.Started
		}
	}
	if len(free) > 0 {
		// Two tabs that start at the same instant rarely pick the same one.
		slot = free[mathrand.IntN(len(free))]
	}
	for _, cookie := range r.Cookies() {
		if legacyLoginCookie.MatchString(cookie.Name) {
			c.clear(w, cookie.Name)
		}
	}
	name := c.loginCookie(slot)
	for _, returnTo := range returnPathsToTry(a.ReturnTo) {
		a.ReturnTo = returnTo
		err := c.setWithin(w, c.login, name, a, LoginMaxAge, loginCookieSize)
		if !errors.Is(err, errCookieTooLarge) {
			return err
		}
	}
	return fmt.Errorf("seal login attempt: %w", errCookieTooLarge)
}

// returnPathsToTry lists what a login may keep of the return path p, best
// first: p itself, its path without the query, nothing.
func returnPathsToTry(p string) []string {
	var paths []string
	if len(p) <= MaxReturnPath {
		paths = append(paths, p)
	}
	if path, _, ok := strings.Cut(p, "?"); ok && len(path) <= MaxReturnPath {
		paths = append(paths, path)
	}
	if p != "" {
		paths = append(paths, "")
	}
	return paths
}

// TakeLoginAttempt returns the attempt whose state the callback carries and
// clears its cookie, so each attempt is used at most once. It fails with
// ErrCookieInvalid when there is no such attempt.
func (c *Cookies) TakeLoginAttempt(w http.ResponseWriter, r *http.Request, state string) (*LoginAttempt, error) {
	if !stateFormat.MatchString(state) {
		return nil, ErrCookieInvalid
	}
	for i := range loginSlots {
		name := c.loginCookie(i)
		var a LoginAttempt
		if c.get(r, c.login, name, &a) != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(a.State), []byte(state)) == 1 {
			c.clear(w, name)
			return &a, nil
		}
	}
	return nil, ErrCookieInvalid
}

// SafeReturnPath returns p when it is a path on this site, and "/"
// otherwise. Anything a browser could read as another origin — a scheme,
// "//host", a backslash, control characters or whitespace, raw or, in the
// path, percent-encoded — is refused. The query and fragment, which
// cannot change the origin, may hold encoded characters of any kind (a
// search for "a b" is ?q=a%20b).
func SafeReturnPath(p string) string {
	if len(p) > 2048 || !isLocalPath(p) {
		return "/"
	}
	path := p
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		path = p[:i]
	}
	decoded, err := url.PathUnescape(path)
	if err != nil || !isLocalPath(decoded) {
		return "/"
	}
	return p
}

func isLocalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, r := range p {
		if r < 0x21 || r == 0x7f || r == '\\' {
			return false
		}
	}
	return true
}

const logoutCookie = "latchkey-logout"

// SaveLogoutState makes the state sent with an RP-initiated logout and
// remembers it in a short-lived cookie.
func (c *Cookies) SaveLogoutState(w http.ResponseWriter) (string, error) {
	state := randomString(32)
	if err := c.set(w, c.login, c.Name(logoutCookie), state, LoginMaxAge); err != nil {
		return "", err
	}
	return state, nil
}

// TakeLogoutState reports whether state is the one this browser's last
// logout sent, and forgets it.
func (c *Cookies) TakeLogoutState(w http.ResponseWriter, r *http.Request, state string) bool {
	name := c.Name(logoutCookie)
	var want string
	if err := c.get(r, c.login, name, &want); err != nil {
		return false
	}
	c.clear(w, name)
	return subtle.ConstantTimeCompare([]byte(want), []byte(state)) == 1
}
