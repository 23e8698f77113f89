package handlers_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"latchkey/auth"
	"latchkey/handlers"
	"latchkey/proxy"
)

// TestPagesCompressed: latchkey's pages of a kilobyte or more go gzipped
// to a client that accepts gzip, with the same cache headers and a
// Content-Length that is the compressed size; smaller pages and clients
// that do not accept gzip get the page as it is.
func TestPagesCompressed(t *testing.T) {
	f := newFixture(t)
	cookie, _ := f.signIn(t)
	tests := []struct {
		name     string
		method   string
		target   string
		header   map[string]string
		signedIn bool
		wantGzip bool
		// wantVary is the Vary header: Accept-Encoding only where the
		// page is large enough to be compressed.
		wantVary string
	}{
		{name: "dashboard", method: "GET", target: "/dashboard", signedIn: true, header: map[string]string{"Accept-Encoding": "gzip, deflate, br"}, wantGzip: true, wantVary: "HX-Request, Accept-Encoding"},
		{name: "dashboard without gzip", method: "GET", target: "/dashboard", signedIn: true, header: map[string]string{"Accept-Encoding": "br"}, wantVary: "HX-Request, Accept-Encoding"},
		{name: "dashboard with gzip refused", method: "GET", target: "/dashboard", signedIn: true, header: map[string]string{"Accept-Encoding": "gzip;q=0, identity"}, wantVary: "HX-Request, Accept-Encoding"},
		{name: "home drawn once", method: "GET", target: "/", header: map[string]string{"Accept-Encoding": "gzip"}, wantGzip: true, wantVary: "HX-Request, Accept-Encoding"},
		{name: "home drawn once without gzip", method: "GET", target: "/", wantVary: "HX-Request, Accept-Encoding"},
		{name: "HEAD of the dashboard", method: "HEAD", target: "/dashboard", signedIn: true, header: map[string]string{"Accept-Encoding": "gzip"}, wantGzip: true, wantVary: "HX-Request, Accept-Encoding"},
		{name: "an error page", method: "GET", target: "/nope", header: map[string]string{"Accept-Encoding": "gzip"}, wantGzip: true, wantVary: "HX-Request, Accept-Encoding"},
		{name: "a small fragment", method: "GET", target: "/nope", header: map[string]string{"Accept-Encoding": "gzip", "HX-Request": "true"}, wantVary: "HX-Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.signedIn {
				req.AddCookie(cookie)
			}
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, req)
			resp := rec.Result()
			if got := strings.Join(resp.Header.Values("Vary"), ", "); got != tt.wantVary {
				t.Errorf("Vary = %q, want %q", got, tt.wantVary)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			body := rec.Body.Bytes()
			if tt.method == http.MethodHead {
				// httptest keeps what the handler wrote; a server drops it.
				if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
					t.Errorf("HEAD Content-Length = %q for a %d-byte answer", resp.Header.Get("Content-Length"), len(body))
				}
			} else if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length = %q, body %d bytes", got, len(body))
			}
			encoding := resp.Header.Get("Content-Encoding")
			if tt.wantGzip != (encoding == "gzip") || (!tt.wantGzip && encoding != "") {
				t.Fatalf("Content-Encoding = %q, want gzip %v", encoding, tt.wantGzip)
			}
			page := body
			if tt.wantGzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("not gzip: %v", err)
				}
				if page, err = io.ReadAll(zr); err != nil {
					t.Fatalf("read the gzipped page: %v", err)
				}
				if len(page) < 1024 {
					t.Errorf("a %d-byte page was compressed", len(page))
				}
			} else if len(page) >= 1024 && !strings.Contains(tt.wantVary, "Accept-Encoding") {
				t.Errorf("a %d-byte page says it never varies by encoding", len(page))
			}
			if !bytes.Contains(page, []byte("data-testid=")) {
				t.Errorf("the page is not latchkey's:\n%s", page)
			}
		})
	}
}

// TestAppResponsesNotCompressed: latchkey leaves the app's responses as
// the app sent them, large HTML included.
func TestAppResponsesNotCompressed(t *testing.T) {
	page := "<!DOCTYPE html><title>app</title>" + strings.Repeat("<p>the app's own page</p>", 200)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(app.Close)
	upstream, err := proxy.ParseUpstream(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	public, err := proxy.ParsePublicPaths([]string{"/*"})
	if err != nil {
		t.Fatal(err)
	}
	provider := auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard})
	f := newFixtureWith(t, provider, func(d *handlers.Deps) {
		d.Prefix = "/.latchkey"
		d.Front = handlers.Front{Upstream: upstream, PublicPaths: public}
	})
	req := httptest.NewRequest(http.MethodGet, fixtureBase+"/page", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != page {
		t.Fatalf("status %d, body of %d bytes, want the app's page as it sent it", rec.Code, rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Encoding"); got != "" {
		t.Errorf("the app's page got Content-Encoding %q", got)
	}
	if got := rec.Header().Values("Vary"); len(got) != 0 {
		t.Errorf("the app's page got Vary %q", got)
	}
}
