package views

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"

	"github.com/a-h/templ"
)

// Layout is the frame of every full page, drawn around the page's own
// content. With s.Frames it is drawn once for all the pages that share it
// (the same title, the same kind of visitor, ...), which costs a page two
// copies instead of the frame's templates.
func Layout(s Shell) templ.Component {
	if s.Frames == nil {
		return layout(s)
	}
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		content := templ.GetChildren(ctx)
		f, ok := s.Frames.frame(s)
		if !ok {
			return layout(s).Render(ctx, w)
		}
		if _, err := io.WriteString(w, f.top); err != nil {
			return err
		}
		if err := content.Render(templ.ClearChildren(ctx), w); err != nil {
			return err
		}
		_, err := io.WriteString(w, f.bottom)
		return err
	})
}

// Frames holds the page frames drawn so far. Its zero value is ready to
// use; it is safe for concurrent use.
type Frames struct {
	mu    sync.RWMutex
	drawn map[frameKey]*frame
}

// framesKept bounds the frames held. Frames differ by the page's title and
// a few flags, all chosen by the app, so a handful are ever drawn.
const framesKept = 64

// frame is a frame drawn: what comes before a page's content, and after.
type frame struct {
	top, bottom string
}

// frameKey is everything of a Shell that layout reads: two shells with the
// same key have the same frame. layout reads nothing from its context (no
// nonce, no component that templ draws once per page).
type frameKey struct {
	title                     string
	assets                    Assets
	links                     Links
	devIdP, devIdPExposed     bool
	authRequired, popup, bare bool
	signedIn, onDashboard     bool
}

func (s Shell) frameKey() frameKey {
	return frameKey{
		title:         s.Title,
		assets:        s.Assets,
		links:         s.Links,
		devIdP:        s.DevIdP,
		devIdPExposed: s.DevIdPExposed,
		authRequired:  s.AuthRequired,
		popup:         s.Popup,
		bare:          s.Bare,
		signedIn:      s.User != nil,
		onDashboard:   s.Path == s.Links.dashboard(),
	}
}

// contentMark stands for a page's content while its frame is drawn: text
// that no frame holds (layout escapes every value it writes, and HTML
// escaping leaves no NUL byte next to these letters).
const contentMark = "\x00latchkey page content\x00"

// frame returns the frame of s, drawing it the first time; false when it
// cannot be drawn apart from the content.
func (f *Frames) frame(s Shell) (*frame, bool) {
	key := s.frameKey()
	f.mu.RLock()
	fr, ok := f.drawn[key]
	f.mu.RUnlock()
	if ok {
		return fr, true
	}
	var buf bytes.Buffer
	mark := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, contentMark)
		return err
	})
	if err := layout(s).Render(templ.WithChildren(context.Background(), mark), &buf); err != nil {
		return nil, false
	}
	top, bottom, found := strings.Cut(buf.String(), contentMark)
	if !found || strings.Contains(bottom, contentMark) {
		return nil, false
	}
	fr = &frame{top: top, bottom: bottom}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drawn == nil {
		f.drawn = make(map[frameKey]*frame)
	}
	if len(f.drawn) < framesKept {
		f.drawn[key] = fr
	}
	return fr, true
}
