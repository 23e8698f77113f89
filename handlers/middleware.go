package handlers

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"latchkey/auth"
)

// contentSecurityPolicy allows scripts, styles and frames from this site
// only; images may also come from the provider (profile pictures).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' https: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries, errors included.
func securityHeaders(base *url.URL) func(http.Handler) http.Handler {
	https := base.Scheme == "https"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
			if https {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// logRequests logs one line per request. The query is left out: on the
// callback it carries the authorization code.
func logRequests(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
			)
		})
	}
}

// recoverPanics turns a panic into a logged error and a plain error page,
// never a stack trace in the response.
func recoverPanics(p *pages) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					p.log.ErrorContext(r.Context(), "panic", "path", r.URL.Path, "panic", v)
					p.fail(w, r, problemInternal, nil)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// loadSession puts the request's session, if any, in its context. A cookie
// that names no live session is cleared.
func loadSession(sessions *auth.Sessions, p *pages) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !sessions.HasCookie(r) {
				next.ServeHTTP(w, r)
				return
			}
			sess, err := sessions.Load(r.Context(), r)
			switch {
			case errors.Is(err, auth.ErrNoSession):
				sessions.ClearCookie(w)
			case err != nil:
				p.fail(w, r, problemStoreDown, err)
				return
			default:
				r = r.WithContext(withSession(r.Context(), sess))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireSession lets only signed-in users through. A navigation is sent
// to sign in and come back; an htmx request, which must never follow a
// redirect towards the provider, gets 401 and HX-Redirect.
func requireSession() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sessionFrom(r.Context()) != nil {
				next.ServeHTTP(w, r)
				return
			}
			login := "/login?return_to=" + url.QueryEscape(returnPath(r))
			if isHTMX(r) {
				w.Header().Set("HX-Redirect", login)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, login, http.StatusSeeOther)
		})
	}
}

// requireCSRF refuses a form post that lacks the session's CSRF token.
// Browsers already refuse cross-site posts (see routes); this also covers
// old browsers that send neither Origin nor Sec-Fetch-Site.
func requireCSRF(p *pages) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !validCSRF(r, sessionFrom(r.Context())) {
				p.fail(w, r, problemBadCSRF, nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// validCSRF reports whether the posted form carries sess's CSRF token.
func validCSRF(r *http.Request, sess *auth.Session) bool {
	return sess != nil && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRFToken)) == 1
}

// returnPath is where a login started by this request should come back to:
// the page itself for a GET, else the page htmx was on, else home.
func returnPath(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return auth.SafeReturnPath(r.URL.RequestURI())
	}
	if page, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && page.Path != "" {
		return auth.SafeReturnPath(page.RequestURI())
	}
	return "/"
}
