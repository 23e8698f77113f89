package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"latchkey/handlers/formtest"
)

// postStreaming sends a POST over a raw connection, writing the body while
// it reads the answer, as a client uploading a large file does, and
// returns the answer with how much of the body had been sent by then.
func postStreaming(t *testing.T, srv *httptest.Server, path string, header http.Header, body *formtest.Upload) (*http.Response, []byte, int64) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	written := make(chan struct{})
	go func() {
		defer close(written)
		w := bufio.NewWriter(conn)
		fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n", path, body.Size())
		_ = header.Write(w)
		_, _ = io.WriteString(w, "\r\n")
		// A write fails once the server has answered and closed: that is
		// the point.
		_, _ = io.Copy(w, body)
		_ = w.Flush()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: no answer: %v", path, err)
	}
	sent := body.Produced()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read answer: %v", path, err)
	}
	conn.Close()
	<-written
	return resp, page, sent
}

// TestFormRoutesRefuseMultipart: a signed-in user posts a large
// multipart file to every route that reads a form. Each answers 415 before
// reading the body, and nothing is written to the temporary directory.
func TestFormRoutesRefuseMultipart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f := newFixture(t)
	cookie, csrf := f.signIn(t)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()

	const fileSize = 300 << 20
	for _, tt := range []struct {
		path string
		page bool // answered with a page in the app's look, not a bare status
	}{
		{path: "/profile/refresh", page: true},
		{path: "/sessions/" + strings.Repeat("a", 64) + "/end", page: true},
		{path: "/sessions/end-others", page: true},
		{path: "/backchannel-logout"},
		{path: "/logout", page: true},
	} {
		t.Run(tt.path, func(t *testing.T) {
			header := http.Header{
				"Content-Type":   {formtest.ContentType},
				"Cookie":         {cookie.String()},
				"Sec-Fetch-Site": {"same-origin"},
			}
			body := formtest.NewUpload(csrf, fileSize)
			resp, page, sent := postStreaming(t, srv, tt.path, header, body)
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("status %d, want 415", resp.StatusCode)
			}
			// The answer came before the body was read: the client had
			// sent only what the connection buffers hold.
			if sent > fileSize/8 {
				t.Errorf("the server read %d MB of the body before answering", sent>>20)
			}
			isPage := strings.Contains(string(page), `data-testid="error"`)
			if tt.page && !isPage {
				t.Errorf("want the app's error page, got:\n%.500s", page)
			}
			if !tt.page && len(page) != 0 {
				t.Errorf("want a bare status, got:\n%.500s", page)
			}
		})
	}
	srv.Close() // waits for every handler to return
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in TMPDIR: %s", e.Name())
	}
}

// TestFormBodies: form routes read only small url-encoded bodies.
func TestFormBodies(t *testing.T) {
	f := newFixture(t)
	urlencoded := "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		target      string
		contentType string
		body        string // CSRF stands for the session's token
		wantStatus  int
		wantPage    bool // the app's error page
	}{
		{name: "url-encoded with a charset", target: "/profile/refresh", contentType: urlencoded + "; charset=UTF-8", body: url.Values{"csrf": {"forged"}}.Encode(), wantStatus: 403, wantPage: true},
		{name: "an empty post without a type", target: "/profile/refresh", wantStatus: 403, wantPage: true},
		{name: "plain text", target: "/profile/refresh", contentType: "text/plain", body: "csrf=CSRF", wantStatus: 415, wantPage: true},
		{name: "a body without a type", target: "/profile/refresh", body: "csrf=CSRF", wantStatus: 415, wantPage: true},
		{name: "JSON", target: "/sessions/end-others", contentType: "application/json", body: `{"csrf":"CSRF"}`, wantStatus: 415, wantPage: true},
		{name: "a form over the limit", target: "/logout", contentType: urlencoded, body: "csrf=CSRF&pad=" + strings.Repeat("x", 5<<10), wantStatus: 413, wantPage: true},
		{name: "a form that cannot be parsed", target: "/logout", contentType: urlencoded, body: "csrf=%zz", wantStatus: 400, wantPage: true},
		{name: "a small multipart form", target: "/logout", contentType: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nCSRF\r\n--x--\r\n", wantStatus: 415, wantPage: true},
		{name: "a logout token over the limit", target: "/backchannel-logout", contentType: urlencoded, body: "logout_token=" + strings.Repeat("x", 17<<10), wantStatus: 413},
		{name: "a logout token in JSON", target: "/backchannel-logout", contentType: "application/json", body: `{"logout_token":"x"}`, wantStatus: 415},
		{name: "a logout token that fails its checks", target: "/backchannel-logout", contentType: urlencoded, body: "logout_token=x.y.z", wantStatus: 503}, // the provider is not reachable
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, csrf := f.signIn(t)
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(strings.ReplaceAll(tt.body, "CSRF", csrf)))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.AddCookie(cookie)
			resp := f.serve(req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			doc, err := goquery.NewDocumentFromReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Find(`[data-testid="error"]`).Length() > 0; got != tt.wantPage {
				t.Errorf("error page %v, want %v", got, tt.wantPage)
			}
			if !tt.wantPage && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
			}
		})
	}
}
