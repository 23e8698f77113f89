package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/a-h/templ"

	"latchkey/auth"
	"latchkey/views"
)

// pages renders the app's pages and fragments, and is the one path every
// error takes to the user.
type pages struct {
	log    *slog.Logger
	assets views.Assets
	devIdP bool
}

// shell describes the page frame for this request.
func (p *pages) shell(r *http.Request, title string) views.Shell {
	s := views.Shell{
		Title:    title,
		Assets:   p.assets,
		LoginURL: "/login",
		DevIdP:   p.devIdP,
	}
	if r.URL.Path != "/" {
		s.LoginURL = loginURL(auth.SafeReturnPath(r.URL.Path))
	}
	if sess := sessionFrom(r.Context()); sess != nil {
		s.User = &views.User{
			Name:       sess.User.Name,
			Email:      sess.User.Email,
			Picture:    sess.User.Picture,
			ClaimsJSON: sess.User.ClaimsJSON,
		}
		s.CSRF = sess.CSRFToken
	}
	return s
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes full to a plain request and fragment (when not nil) to an
// htmx request. Output is buffered, so a failed render becomes a clean
// error page rather than half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, full, fragment templ.Component) {
	c := full
	if fragment != nil && isHTMX(r) {
		c = fragment
	}
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer buffers.Put(buf)
	if err := c.Render(r.Context(), buf); err != nil {
		p.log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong while drawing this page.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	// Pages show who is signed in: never cache them, nor keep them for the
	// back button after logout.
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "HX-Request")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail logs err and answers the problem in the app's own look.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, prob views.Problem, err error) {
	level := slog.LevelInfo
	if prob.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"status", prob.Status, "path", r.URL.Path, "problem", prob.Title}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	p.log.Log(r.Context(), level, "request failed", attrs...)
	p.render(w, r, prob.Status, views.ErrorPage(p.shell(r, prob.Title), prob), views.ErrorCard(prob))
}

// isHTMX reports a request made by htmx rather than by navigation.
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// redirect sends the browser to target: a 303 for a navigation, and for
// htmx, which cannot follow a redirect to another origin, HX-Redirect.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

type sessionKey struct{}

// withSession returns ctx carrying the request's session.
func withSession(ctx context.Context, s *auth.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// sessionFrom returns the request's session, or nil for a visitor.
func sessionFrom(ctx context.Context) *auth.Session {
	s, _ := ctx.Value(sessionKey{}).(*auth.Session)
	return s
}
