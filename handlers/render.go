package handlers

import (
	"bytes"
	"context"
	"fmt"
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
	// site is where latchkey's own routes are.
	site   site
	devIdP bool
	// devIdPExposed: the development provider is reachable from the network.
	devIdPExposed bool

	// buffers hold pages while they are drawn.
	buffers sync.Pool
	// Header values every page sends; shared, never modified.
	htmlType, noStore, varyHTMX []string
}

func newPages(log *slog.Logger, assets views.Assets, devIdP bool) *pages {
	return &pages{
		log:      log,
		assets:   assets,
		devIdP:   devIdP,
		buffers:  sync.Pool{New: func() any { return new(bytes.Buffer) }},
		htmlType: []string{"text/html; charset=utf-8"},
		noStore:  []string{"no-store"},
		varyHTMX: []string{"HX-Request"},
	}
}

// shell describes the page frame for this request.
func (p *pages) shell(r *http.Request, title string) views.Shell {
	s := p.shellFor(r.URL.Path, sessionFrom(r.Context()), title)
	s.Popup = p.site.inPopup(r)
	return s
}

// shellFor describes the frame of the page at path for sess (nil: a
// visitor).
func (p *pages) shellFor(path string, sess *auth.Session, title string) views.Shell {
	s := views.Shell{
		Title:    title,
		Path:     path,
		Assets:   p.assets,
		LoginURL: p.site.loginURL(p.site.returnTo(path), false),
		DevIdP:   p.devIdP,
		Links:    p.site.links(),
	}
	s.DevIdPExposed = p.devIdPExposed
	if sess != nil {
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

// render writes full to a plain request and fragment (when not nil) to an
// htmx request. Output is buffered, so a failed render becomes a clean
// error page rather than half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, full, fragment templ.Component) {
	c := full
	if fragment != nil && isHTMX(r) {
		c = fragment
	}
	buf := p.buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer p.buffers.Put(buf)
	if err := c.Render(r.Context(), buf); err != nil {
		p.log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong while drawing this page.", http.StatusInternalServerError)
		return
	}
	p.send(w, status, buf.Bytes())
}

// draw renders c once, for a page that is the same for every request.
func (p *pages) draw(c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		return nil, fmt.Errorf("draw page: %w", err)
	}
	return buf.Bytes(), nil
}

// send answers with a drawn page.
func (p *pages) send(w http.ResponseWriter, status int, page []byte) {
	h := w.Header()
	h["Content-Type"] = p.htmlType
	h["Content-Length"] = []string{strconv.Itoa(len(page))}
	// Pages show who is signed in: never cache them, nor keep them for the
	// back button after logout.
	h["Cache-Control"] = p.noStore
	if vary := h["Vary"]; vary == nil {
		h["Vary"] = p.varyHTMX
	} else {
		h["Vary"] = append(vary, "HX-Request")
	}
	w.WriteHeader(status)
	_, _ = w.Write(page)
}

// isHTMX reports a request made by htmx rather than by navigation.
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// redirect is the one htmx-aware redirect. A navigation gets 303 See
// Other. htmx, whose fetch cannot follow a redirect to another origin (the
// provider), gets HX-Redirect with htmxStatus: 204 No Content when going
// there is the whole answer, 401 when the reason is that there is no
// session. A failure that sends htmx elsewhere (fail, when the session
// has ended) answers HX-Redirect with its own status and card.
func redirect(w http.ResponseWriter, r *http.Request, target string, htmxStatus int) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(htmxStatus)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
