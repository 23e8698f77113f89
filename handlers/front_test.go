package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/handlers"
	"latchkey/proxy"
)

// serverTimeout is the read and write timeout of the server in these
// tests: the app's streams must outlive it, latchkey's pages must not.
const serverTimeout = 100 * time.Millisecond

// pause is longer than serverTimeout: how long the app below waits
// between the parts of its answers.
const pause = 3 * serverTimeout

// slowApp is an app that answers an event stream and a WebSocket-style
// upgrade in parts, with a pause between them.
func slowApp(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(pause)
			fmt.Fprint(w, "data: two\n\n")
		case "/stream/ws":
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			line, _ := brw.ReadString('\n')
			fmt.Fprint(brw, "echo: "+line)
			brw.Flush()
		case "/stream/upload":
			body, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "received %d bytes, %v", len(body), err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startFront serves the handlers in front of app, with the server
// timeouts of serverTimeout.
func startFront(t *testing.T, app *httptest.Server) *httptest.Server {
	t.Helper()
	upstream, err := proxy.ParseUpstream(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	public, err := proxy.ParsePublicPaths([]string{"/stream/*"})
	if err != nil {
		t.Fatal(err)
	}
	provider := auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: discard})
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = serverTimeout, serverTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	f := newFixtureWith(t, provider, func(d *handlers.Deps) {
		d.BaseURL.Host = srv.Listener.Addr().String()
		d.Prefix = "/.latchkey"
		d.Front = handlers.Front{Upstream: upstream, PublicPaths: public}
	})
	srv.Config.Handler = f.handler
	return srv
}

// TestAppStreamsOutliveTheServerTimeouts: latchkey's pages keep the
// server's read and write timeouts, the app's streams do not.
func TestAppStreamsOutliveTheServerTimeouts(t *testing.T) {
	t.Parallel()
	front := startFront(t, slowApp(t))

	resp, err := http.Get(front.URL + "/stream/events")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "data: one\n\ndata: two\n\n" {
		t.Errorf("an event stream longer than the write timeout: %q, %v", body, err)
	}

	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /stream/ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", front.Listener.Addr())
	r := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	time.Sleep(pause) // idle for longer than the read timeout
	fmt.Fprint(conn, "still here\n")
	if line, err := r.ReadString('\n'); err != nil || line != "echo: still here\n" {
		t.Errorf("a WebSocket idle for longer than the read timeout: %q, %v", line, err)
	}

	// A body that keeps coming may take longer than the read timeout.
	pr, pw := io.Pipe()
	go func() {
		for range 4 {
			pw.Write([]byte(strings.Repeat("x", 1000)))
			time.Sleep(serverTimeout / 2)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/stream/upload", pr)
	up, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(up.Body)
	up.Body.Close()
	if string(got) != "received 4000 bytes, <nil>" {
		t.Errorf("a slow upload: %q", got)
	}

	// latchkey's own pages keep the limits: a client that sends half a
	// request body is cut off.
	conn2, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	fmt.Fprintf(conn2, "POST /.latchkey/logout HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=", front.Listener.Addr())
	_ = conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn2); err != nil {
		t.Errorf("latchkey's page with half a body: %v, want the server to close the connection", err)
	}
}
