package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHeaderLimit: a request header larger than latchkey's limit is refused
// with 431 before it is read in full, and ordinary ones pass (L5).
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{})
	u, _ := url.Parse(app.URL)
	send := func(t *testing.T, cookieBytes int) int {
		t.Helper()
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\nCookie: c=%s\r\nConnection: close\r\n\r\n", u.Host, strings.Repeat("x", cookieBytes))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(t, 16<<10); got != http.StatusOK {
		t.Errorf("a 16 KB Cookie header got %d, want 200", got)
	}
	if got := send(t, 64<<10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 64 KB Cookie header got %d, want 431", got)
	}
}

// TestReadinessReportsAnUnreachableStore: with Redis out of reach, latchkey
// starts, says so in its log, and /readyz answers 503 naming the store.
func TestReadinessReportsAnUnreachableStore(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{"SESSION_STORE": "redis://127.0.0.1:1/0"})
	if !strings.Contains(app.logs.String(), "session store cannot be reached") {
		t.Errorf("the startup log does not say the store cannot be reached:\n%s", app.logs)
	}
	resp, err := http.Get(app.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "session store: cannot be reached") {
		t.Errorf("/readyz = %d %q, want 503 naming the session store", resp.StatusCode, body)
	}
}
