package auth

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// MinSecretLength is the shortest secret accepted for sealing cookies.
const MinSecretLength = 32

// maxCookieSize is the most a browser is sure to keep of one cookie.
const maxCookieSize = 4096

// errCookieTooLarge reports a value that would not fit in a cookie.
var errCookieTooLarge = errors.New("cookie too large")

// ErrCookieInvalid reports a cookie that is missing, forged, tampered with,
// sealed with an unknown key or past its lifetime.
var ErrCookieInvalid = errors.New("cookie missing or invalid")

// Cookies seals values into cookies and opens them again. The first secret
// seals new cookies; every secret opens them, so secrets can be rotated by
// putting the new one first.
type Cookies struct {
	secure  bool
	session []securecookie.Codec
	login   []securecookie.Codec
}

// CookieConfig configures Cookies.
type CookieConfig struct {
	// Secrets are the configured secrets, newest first, each at least
	// MinSecretLength characters.
	Secrets []string
	// Secure marks cookies Secure and gives them the __Host- prefix; set it
	// when the app is served over https.
	Secure bool
	// SessionMaxAge bounds how old a sealed session cookie may be.
	SessionMaxAge time.Duration
}

// LoginMaxAge bounds a login attempt: a user who takes longer at the
// provider starts again.
const LoginMaxAge = 10 * time.Minute

// NewCookies derives signing and encryption keys from each secret.
func NewCookies(cfg CookieConfig) (*Cookies, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("no cookie secret")
	}
	c := &Cookies{secure: cfg.Secure}
	for i, secret := range cfg.Secrets {
		if len(secret) < MinSecretLength {
			return nil, fmt.Errorf("secret %d is %d characters; at least %d are needed", i+1, len(secret), MinSecretLength)
		}
		sc, err := codec(secret, "session", cfg.SessionMaxAge)
		if err != nil {
			return nil, err
		}
		lc, err := codec(secret, "login", LoginMaxAge)
		if err != nil {
			return nil, err
		}
		c.session = append(c.session, sc)
		c.login = append(c.login, lc)
	}
	return c, nil
}

// codec derives independent keys for one purpose, so a cookie sealed for
// one purpose never opens as another.
func codec(secret, purpose string, maxAge time.Duration) (securecookie.Codec, error) {
	hashKey, err := hkdf.Key(sha256.New, []byte(secret), nil, "latchkey "+purpose+" hmac", 64)
	if err != nil {
		return nil, fmt.Errorf("derive %s signing key: %w", purpose, err)
	}
	blockKey, err := hkdf.Key(sha256.New, []byte(secret), nil, "latchkey "+purpose+" aes", 32)
	if err != nil {
		return nil, fmt.Errorf("derive %s encryption key: %w", purpose, err)
	}
	s := securecookie.New(hashKey, blockKey)
	s.SetSerializer(securecookie.JSONEncoder{})
	s.MaxAge(int(maxAge / time.Second))
	s.MaxLength(0) // set checks the whole cookie against maxCookieSize instead
	return s, nil
}

// Name returns the cookie name for base, with the __Host- prefix when
// cookies are Secure.
func (c *Cookies) Name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *Cookies) set(w http.ResponseWriter, codecs []securecookie.Codec, name string, value any, maxAge time.Duration) error {
	_, err := c.seal(w, codecs, name, value, maxAge, maxCookieSize)
	return err
}

// setWithin sets the cookie unless its Set-Cookie value would be longer
// than limit bytes.
func (c *Cookies) setWithin(w http.ResponseWriter, codecs []securecookie.Codec, name string, value any, maxAge time.Duration, limit int) error {
	_, err := c.seal(w, codecs, name, value, maxAge, limit)
	return err
}

// seal is setWithin, and returns the cookie's sealed value.
func (c *Cookies) seal(w http.ResponseWriter, codecs []securecookie.Codec, name string, value any, maxAge time.Duration, limit int) (string, error) {
	sealed, err := securecookie.EncodeMulti(name, value, codecs...)
	if err != nil {
		return "", fmt.Errorf("seal cookie %s: %w", name, err)
	}
	cookie := &http.Cookie{
		Name:     name,
		Value:    sealed,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	// What http.SetCookie sends, made once for both.
	line := cookie.String()
	if len(line) > limit {
		return "", fmt.Errorf("seal cookie %s: %w", name, errCookieTooLarge)
	}
	if line != "" {
		w.Header().Add("Set-Cookie", line)
	}
	return sealed, nil
}

func (c *Cookies) get(r *http.Request, codecs []securecookie.Codec, name string, dst any) error {
	cookie, err := r.Cookie(name)
	if err != nil {
		return ErrCookieInvalid
	}
	return c.open(codecs, name, cookie.Value, dst)
}

// open opens the sealed value of the cookie name into dst.
func (c *Cookies) open(codecs []securecookie.Codec, name, value string, dst any) error {
	if err := securecookie.DecodeMulti(name, value, dst, codecs...); err != nil {
		return ErrCookieInvalid
	}
	return nil
}

// clear tells the browser to forget a cookie.
func (c *Cookies) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Owns reports whether a cookie of this name is latchkey's: latchkey and
// latchkey-…, with or without the __Host- prefix, whether or not latchkey
// would set it now. In front of an app, these never reach the app, and the
// app must not use such names for cookies of its own.
func (c *Cookies) Owns(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	return name == sessionCookie || strings.HasPrefix(name, sessionCookie+"-")
}
