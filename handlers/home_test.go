package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"latchkey/views"
)

// TestVisitorHomeDrawnOnce: the home page and auth box a visitor gets,
// drawn once at start, are what drawing them for the request would give.
func TestVisitorHomeDrawnOnce(t *testing.T) {
	assets, err := newAssets(os.DirFS("../assets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, devIdP := range []bool{false, true} {
		p := newPages(slog.New(slog.NewTextHandler(io.Discard, nil)), assets.paths(), devIdP)
		home := handleHome(p, nil, nil)
		for _, htmx := range []bool{false, true} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			var want bytes.Buffer
			c := views.Home(p.shell(req, ""), "")
			if htmx {
				req.Header.Set("HX-Request", "true")
				c = views.AuthBox(p.shell(req, ""))
			}
			if err := c.Render(context.Background(), &want); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			home(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != want.String() {
				t.Errorf("devIdP %v, htmx %v: status %d, body differs from a fresh drawing:\n%s\nwant:\n%s", devIdP, htmx, rec.Code, rec.Body, &want)
			}
			if got := rec.Header().Get("Vary"); got != "HX-Request" {
				t.Errorf("Vary = %q", got)
			}
		}
	}
}
