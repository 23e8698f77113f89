package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"latchkey/auth"
)

// pageHeaders are the security headers of every response latchkey makes
// itself, errors included; never of the app's responses, whose headers
// are the app's.
type pageHeaders struct {
	csp *policy
	// Shared values that nothing modifies: setting them allocates nothing.
	nosniff, noReferrer, deny, hsts []string
}

func newPageHeaders(base *url.URL, provider *auth.Provider) *pageHeaders {
	ph := &pageHeaders{
		csp:        newPolicy(base, provider),
		nosniff:    []string{"nosniff"},
		noReferrer: []string{"no-referrer"},
		deny:       []string{"DENY"},
	}
	if base.Scheme == "https" {
		ph.hsts = []string{"max-age=31536000; includeSubDomains"}
	}
	return ph
}

// set sets the headers on h.
func (ph *pageHeaders) set(h http.Header) {
	h["Content-Security-Policy"] = ph.csp.value()
	h["X-Content-Type-Options"] = ph.nosniff
	h["Referrer-Policy"] = ph.noReferrer
	h["X-Frame-Options"] = ph.deny
	if ph.hsts != nil {
		h["Strict-Transport-Security"] = ph.hsts
	}
}

// securityHeaders sets the headers every response carries, errors included.
func securityHeaders(ph *pageHeaders) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ph.set(w.Header())
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
			rw := &loggedResponse{ResponseWriter: w}
			next.ServeHTTP(rw, r)
			ctx := r.Context()
			level := slog.LevelInfo
			if isInProcess(ctx) {
				// Not a visitor's: the app calling its own provider.
				level = slog.LevelDebug
			}
			if !log.Enabled(ctx, level) {
				return
			}
			// A record made here, unlike Logger.LogAttrs, neither looks up
			// its caller nor reads the clock a third time.
			end := time.Now()
			line := slog.NewRecord(end, level, "request", 0)
			line.AddAttrs(
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rw.statusCode()),
				slog.Int("bytes", rw.bytes),
				slog.Duration("duration", end.Sub(start)),
			)
			_ = log.Handler().Handle(ctx, line)
		})
	}
}

type inProcessKey struct{}

// InProcess returns ctx marked as that of a request this process makes to
// itself — the relying party calling the built-in provider, the provider
// delivering logout tokens — which the request log counts as its own, not
// a visitor's (it logs them at debug level).
func InProcess(ctx context.Context) context.Context {
	return context.WithValue(ctx, inProcessKey{}, true)
}

func isInProcess(ctx context.Context) bool {
	v, _ := ctx.Value(inProcessKey{}).(bool)
	return v
}

// loggedResponse notes a response's status and size for the request log.
type loggedResponse struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (l *loggedResponse) WriteHeader(code int) {
	if l.status == 0 && code >= 200 {
		l.status = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *loggedResponse) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(b)
	l.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (l *loggedResponse) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// Flush sends what was written to the client, for the app's responses
// that latchkey passes on as they come.
func (l *loggedResponse) Flush() {
	if f, ok := l.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// statusCode is the status sent: 200 when the handler set none.
func (l *loggedResponse) statusCode() int {
	if l.status == 0 {
		return http.StatusOK
	}
	return l.status
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
					p.fail(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
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
			sess, err := sessions.Load(r.Context(), r)
			switch {
			case err == nil:
				r = r.WithContext(withSession(r.Context(), sess))
			case errors.Is(err, auth.ErrNoSession):
				// Only a cookie that is there needs clearing; the cookie
				// header is read a second time only on this path.
				if sessions.HasCookie(r) {
					sessions.ClearCookie(w)
				}
			default:
				p.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireSession lets only signed-in users through. A navigation is sent
// to sign in and come back; an htmx request, which must never follow a
// redirect towards the provider, gets 401 and HX-Redirect.
func requireSession(s site) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sessionFrom(r.Context()) != nil {
				next.ServeHTTP(w, r)
				return
			}
			redirect(w, r, s.loginURL(returnPath(r), false), http.StatusUnauthorized)
		})
	}
}

// requireCSRF is the one CSRF check: it refuses a signed-in user's form
// post that lacks the session's CSRF token. Browsers already refuse
// cross-site posts (see routes); this also covers old browsers that send
// neither Origin nor Sec-Fetch-Site. A post without a session has no
// session to act on and passes: routes that need one require it too.
func requireCSRF(p *pages) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess := sessionFrom(r.Context())
			if sess != nil && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRFToken)) != 1 {
				p.fail(w, r, errBadCSRF)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
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
