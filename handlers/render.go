package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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
	// site is where latchkey's own routes are; links are its pages' paths
	// as pages need them, made once.
	site   site
	links  views.Links
	devIdP bool
	// devIdPExposed: the development provider is reachable from the network.
	devIdPExposed bool

	// frames are the pages' frames, each drawn once.
	frames views.Frames
	// buffers hold pages while they are drawn and compressed; gzips are
	// the writers that compress them.
	buffers, gzips sync.Pool
	// Header values every page sends; shared, never modified.
	htmlType, noStore, varyHTMX, varyHTMXEncoding, gzipEncoding []string
}

// compressMin is the size from which a page is sent compressed: below
// it, gzip's header and work cost more than they save.
const compressMin = 1024

// pageGzipLevel trades size for time: the pages are small and drawn for
// each request, and gzip's fastest level makes them 7% larger than its
// best, in 60% of the time (BenchmarkPageCompression).
const pageGzipLevel = gzip.BestSpeed

func newPages(log *slog.Logger, assets views.Assets, devIdP bool) *pages {
	return &pages{
		log:     log,
		assets:  assets,
		devIdP:  devIdP,
		buffers: sync.Pool{New: func() any { return new(bytes.Buffer) }},
		gzips: sync.Pool{New: func() any {
			zw, _ := gzip.NewWriterLevel(nil, pageGzipLevel) // the level is valid
			return zw
		}},
		htmlType:         []string{"text/html; charset=utf-8"},
		noStore:          []string{"no-store"},
		varyHTMX:         []string{"HX-Request"},
		varyHTMXEncoding: []string{"HX-Request", "Accept-Encoding"},
		gzipEncoding:     []string{"gzip"},
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
		Title:  title,
		Path:   path,
		Assets: p.assets,
		DevIdP: p.devIdP,
		Links:  p.links,
		Frames: &p.frames,
	}
	s.DevIdPExposed = p.devIdPExposed
	if sess == nil {
		s.LoginURL = p.site.loginURL(p.site.returnTo(path), false)
	} else {
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
	p.send(w, r, status, buf.Bytes())
}

// drawnPage is a page drawn once, for every request that gets it, with
// its compressed form when it is worth sending compressed.
type drawnPage struct {
	body, gzipped []byte
	// Their Content-Length headers; shared, never modified.
	bodyLength, gzippedLength []string
}

// draw renders c once, for a page that is the same for every request.
func (p *pages) draw(c templ.Component) (*drawnPage, error) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		return nil, fmt.Errorf("draw page: %w", err)
	}
	d := &drawnPage{body: buf.Bytes()}
	d.bodyLength = []string{strconv.Itoa(len(d.body))}
	if len(d.body) >= compressMin {
		var gz bytes.Buffer
		p.compress(&gz, d.body)
		d.gzipped = gz.Bytes()
		d.gzippedLength = []string{strconv.Itoa(len(d.gzipped))}
	}
	return d, nil
}

// compress writes page to buf, gzipped.
func (p *pages) compress(buf *bytes.Buffer, page []byte) {
	zw := p.gzips.Get().(*gzip.Writer)
	zw.Reset(buf)
	_, _ = zw.Write(page) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	p.gzips.Put(zw)
}

// send answers with a page drawn for this request. A page of compressMin
// bytes or more goes gzipped to a client that accepts it: the app's own
// pages only, never the app's responses, which latchkey passes on as they
// are.
func (p *pages) send(w http.ResponseWriter, r *http.Request, status int, page []byte) {
	if len(page) < compressMin {
		p.write(w, status, page, nil, nil, false)
		return
	}
	if !accepts(r.Header.Get("Accept-Encoding"), "gzip") {
		p.write(w, status, page, nil, nil, true)
		return
	}
	buf := p.buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer p.buffers.Put(buf)
	p.compress(buf, page)
	p.write(w, status, buf.Bytes(), nil, p.gzipEncoding, true)
}

// sendDrawn answers with a page drawn once.
func (p *pages) sendDrawn(w http.ResponseWriter, r *http.Request, status int, d *drawnPage) {
	switch {
	case d.gzipped == nil:
		p.write(w, status, d.body, d.bodyLength, nil, false)
	case accepts(r.Header.Get("Accept-Encoding"), "gzip"):
		p.write(w, status, d.gzipped, d.gzippedLength, p.gzipEncoding, true)
	default:
		p.write(w, status, d.body, d.bodyLength, nil, true)
	}
}

// write sends body, in the encoding named (nil: as it is); length is its
// Content-Length header when known (nil: made here); varies says that the
// answer depends on Accept-Encoding.
func (p *pages) write(w http.ResponseWriter, status int, body []byte, length, encoding []string, varies bool) {
	if length == nil {
		length = []string{strconv.Itoa(len(body))}
	}
	h := w.Header()
	h["Content-Type"] = p.htmlType
	h["Content-Length"] = length
	if encoding != nil {
		h["Content-Encoding"] = encoding
	}
	// Pages show who is signed in: never cache them, nor keep them for the
	// back button after logout.
	h["Cache-Control"] = p.noStore
	vary := p.varyHTMX
	if varies {
		vary = p.varyHTMXEncoding
	}
	if old := h["Vary"]; old == nil {
		h["Vary"] = vary
	} else {
		h["Vary"] = append(slices.Clip(old), vary...)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
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
