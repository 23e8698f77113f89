package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantURL    string
		wantSocket string
		wantString string
		wantOrigin string
	}{
		{name: "http with a port", in: "http://127.0.0.1:8080", wantURL: "http://127.0.0.1:8080", wantString: "http://127.0.0.1:8080", wantOrigin: "http://127.0.0.1:8080"},
		{name: "trailing slash dropped", in: "http://127.0.0.1:8080/", wantURL: "http://127.0.0.1:8080", wantString: "http://127.0.0.1:8080", wantOrigin: "http://127.0.0.1:8080"},
		{name: "https with a base path", in: "https://App.Internal/base/", wantURL: "https://app.internal/base", wantString: "https://app.internal/base", wantOrigin: "https://app.internal"},
		{name: "default port left out of the origin", in: "http://app:80/x", wantURL: "http://app:80/x", wantString: "http://app:80/x", wantOrigin: "http://app"},
		{name: "https default port", in: "https://app:443", wantURL: "https://app:443", wantString: "https://app:443", wantOrigin: "https://app"},
		{name: "IPv6", in: "http://[::1]:8080", wantURL: "http://[::1]:8080", wantString: "http://[::1]:8080", wantOrigin: "http://[::1]:8080"},
		{name: "IPv6 default port", in: "http://[::1]:80", wantURL: "http://[::1]:80", wantString: "http://[::1]:80", wantOrigin: "http://[::1]"},
		{name: "encoded base path kept", in: "http://app/caf%C3%A9", wantURL: "http://app/caf%C3%A9", wantString: "http://app/caf%C3%A9", wantOrigin: "http://app"},
		{name: "socket", in: "unix:/run/app.sock", wantURL: "http://localhost", wantSocket: "/run/app.sock", wantString: "unix:/run/app.sock", wantOrigin: "unix:/run/app.sock"},
		{name: "socket in URL form", in: "unix:///run/app.sock", wantURL: "http://localhost", wantSocket: "/run/app.sock", wantString: "unix:/run/app.sock", wantOrigin: "unix:/run/app.sock"},
		{name: "socket with a base path", in: "unix:/run/app.sock:/base", wantURL: "http://localhost/base", wantSocket: "/run/app.sock", wantString: "unix:/run/app.sock:/base", wantOrigin: "unix:/run/app.sock"},
		{name: "socket in URL form with a base path", in: "unix:///run/app.sock:/base/", wantURL: "http://localhost/base", wantSocket: "/run/app.sock", wantString: "unix:/run/app.sock:/base", wantOrigin: "unix:/run/app.sock"},
		{name: "relative socket", in: "unix:app.sock", wantURL: "http://localhost", wantSocket: "app.sock", wantString: "unix:app.sock", wantOrigin: "unix:app.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream(tt.in)
			if err != nil {
				t.Fatalf("ParseUpstream(%q): %v", tt.in, err)
			}
			if got := u.URL.String(); got != tt.wantURL {
				t.Errorf("URL = %q, want %q", got, tt.wantURL)
			}
			if u.Socket != tt.wantSocket {
				t.Errorf("Socket = %q, want %q", u.Socket, tt.wantSocket)
			}
			if got := u.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			if got := u.Origin(); got != tt.wantOrigin {
				t.Errorf("Origin() = %q, want %q", got, tt.wantOrigin)
			}
			if again, err := ParseUpstream(u.String()); err != nil || again.String() != u.String() {
				t.Errorf("ParseUpstream(String()) = %v, %v", again, err)
			}
		})
	}
}

func TestParseUpstreamRefuses(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantText string // the error says this
	}{
		{name: "empty", in: "", wantText: "http://host:port"},
		{name: "host and port without a scheme", in: "127.0.0.1:8080", wantText: "write http://127.0.0.1:8080"},
		{name: "name and port without a scheme", in: "localhost:8080", wantText: "write http://localhost:8080"},
		{name: "bare name", in: "app", wantText: "has no scheme"},
		{name: "other scheme", in: "ftp://app", wantText: "must be http, https or unix"},
		{name: "websocket scheme", in: "ws://app", wantText: "must be http, https or unix"},
		{name: "no host", in: "http:///x", wantText: "has no host"},
		{name: "only a port", in: "http://:8080", wantText: "has no host"},
		{name: "credentials", in: "http://user:pw@app", wantText: "user name or password"},
		{name: "query", in: "http://app/?x=1", wantText: "query"},
		{name: "empty query", in: "http://app/?", wantText: "query"},
		{name: "fragment", in: "http://app/#x", wantText: "fragment"},
		{name: "port out of range", in: "http://app:70000", wantText: "between 1 and 65535"},
		{name: "port zero", in: "http://app:0", wantText: "between 1 and 65535"},
		{name: "empty port", in: "http://app:", wantText: "empty port"},
		{name: "dot segment in the base path", in: "http://app/a/../b", wantText: "plain path"},
		{name: "double slash in the base path", in: "http://app//b", wantText: "plain path"},
		{name: "encoded slash in the base path", in: "http://app/a%2fb", wantText: "plain path"},
		{name: "space", in: "http://app /x", wantText: "space or control"},
		{name: "socket without a path", in: "unix:", wantText: "no socket path"},
		{name: "socket URL with a host", in: "unix://run/app.sock", wantText: "must be absolute"},
		{name: "socket with a relative base path", in: "unix:/run/app.sock:base", wantText: "must start with /"},
		{name: "socket with a query", in: "unix:/run/app.sock?x", wantText: "? or #"},
		{name: "socket path too long", in: "unix:/" + strings.Repeat("s", 200), wantText: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpstream(tt.in)
			if err == nil {
				t.Fatalf("ParseUpstream(%q) = %v, want an error", tt.in, u)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
		})
	}
}

// get fetches url with client and returns the body.
func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestTransportSocket(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over the socket: "+r.URL.Path)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	u, err := ParseUpstream("unix:" + socket + ":/base")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: NewTransport(u, TransportOptions{})}
	_, body := get(t, client, u.URL.String()+"/x")
	if body != "over the socket: /base/x" {
		t.Errorf("body = %q", body)
	}
}

func TestTransportHTTP2(t *testing.T) {
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	upstream.EnableHTTP2 = true
	upstream.StartTLS()
	t.Cleanup(upstream.Close)

	u, err := ParseUpstream(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := upstream.Client().Transport.(*http.Transport).TLSClientConfig
	client := &http.Client{Transport: NewTransport(u, TransportOptions{TLSClientConfig: tlsConfig})}
	if _, body := get(t, client, upstream.URL); body != "HTTP/2.0" {
		t.Errorf("the upstream was reached over %s, want HTTP/2.0", body)
	}
}

func TestTransportKeepsEncoding(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		io.WriteString(w, "plain")
	}))
	t.Cleanup(upstream.Close)
	u, _ := ParseUpstream(upstream.URL)
	tr := NewTransport(u, TransportOptions{})
	if tr.MaxIdleConnsPerHost != DefaultMaxIdleConns || tr.MaxIdleConns != DefaultMaxIdleConns {
		t.Errorf("idle connections %d per host, %d in all; want %d", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, DefaultMaxIdleConns)
	}
	if tr.ResponseHeaderTimeout != DefaultResponseHeaderTimeout {
		t.Errorf("ResponseHeaderTimeout = %v", tr.ResponseHeaderTimeout)
	}
	if noLimit := NewTransport(u, TransportOptions{ResponseHeaderTimeout: -1}); noLimit.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout -1 gave %v, want no limit", noLimit.ResponseHeaderTimeout)
	}
	resp, _ := get(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, upstream.URL)
	if got := resp.Header.Get("X-Accept-Encoding"); got != "" {
		t.Errorf("the transport asked for %q on its own; a proxy passes the client's Accept-Encoding only", got)
	}
}

func TestBufferPool(t *testing.T) {
	pool := newBufferPool()
	buf := pool.Get()
	if len(buf) != bufferSize {
		t.Fatalf("len = %d", len(buf))
	}
	pool.Put(buf)
	pool.Put(make([]byte, 10)) // not one of ours: dropped
	if allocs := testing.AllocsPerRun(100, func() { pool.Put(pool.Get()) }); allocs != 0 {
		t.Errorf("Get and Put allocate %v times", allocs)
	}
	for _, tt := range []struct {
		length int64
		want   int
	}{
		{0, smallBufferSize},
		{1200, smallBufferSize},
		{smallBufferSize, smallBufferSize},
		{smallBufferSize + 1, bufferSize},
		{-1, bufferSize}, // unknown: chunked, or until the connection closes
	} {
		buf := pool.getFor(tt.length)
		if len(buf) != tt.want {
			t.Errorf("getFor(%d): %d bytes, want %d", tt.length, len(buf), tt.want)
		}
		pool.Put(buf)
	}
	if allocs := testing.AllocsPerRun(100, func() { pool.Put(pool.getFor(100)) }); allocs != 0 {
		t.Errorf("small buffers: Get and Put allocate %v times", allocs)
	}
}
