package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
)

// LoginAttempt is one browser's attempt to sign in: the values the callback
// must see again. It lives in its own sealed, short-lived cookie named after
// its state, so several attempts (two tabs) can be in flight at once.
type LoginAttempt struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Popup    bool   `json:"p,omitempty"`
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
	}
}

// codeChallenge is the S256 PKCE challenge for the attempt's verifier.
func (a *LoginAttempt) codeChallenge() string {
	sum := sha256.Sum256([]byte(a.Verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// stateFormat is what NewLoginAttempt makes; anything else cannot name an
// attempt cookie.
var stateFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

const loginCookiePrefix = "latchkey-login-"

// SaveLoginAttempt sets the attempt's cookie. A return path too long to
// fit is dropped: the login then lands on the default page.
func (c *Cookies) SaveLoginAttempt(w http.ResponseWriter, a *LoginAttempt) error {
	name := c.Name(loginCookiePrefix + a.State)
	err := c.set(w, c.login, name, a, LoginMaxAge)
	if errors.Is(err, errCookieTooLarge) && a.ReturnTo != "" {
		a.ReturnTo = ""
		err = c.set(w, c.login, name, a, LoginMaxAge)
	}
	return err
}

// TakeLoginAttempt returns the attempt whose state the callback carries and
// clears its cookie, so each attempt is used at most once. It fails with
// ErrCookieInvalid when there is no such attempt.
func (c *Cookies) TakeLoginAttempt(w http.ResponseWriter, r *http.Request, state string) (*LoginAttempt, error) {
	if !stateFormat.MatchString(state) {
		return nil, ErrCookieInvalid
	}
	name := c.Name(loginCookiePrefix + state)
	var a LoginAttempt
	if err := c.get(r, c.login, name, &a); err != nil {
		return nil, err
	}
	c.clear(w, name)
	if subtle.ConstantTimeCompare([]byte(a.State), []byte(state)) != 1 {
		return nil, ErrCookieInvalid
	}
	return &a, nil
}

// SafeReturnPath returns p when it is a path on this site, and "/"
// otherwise. Anything a browser could read as another origin — a scheme,
// "//host", a backslash, control characters or whitespace, raw or
// percent-encoded — is refused.
func SafeReturnPath(p string) string {
	if len(p) > 2048 || !isLocalPath(p) {
		return "/"
	}
	decoded, err := url.PathUnescape(p)
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
