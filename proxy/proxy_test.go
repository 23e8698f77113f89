package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// received is what the test upstream was sent.
type received struct {
	Method     string
	Host       string
	RequestURI string
	Header     http.Header
	Body       []byte
}

// recordingUpstream is an app that answers every request with a small
// page and records what it received.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last []received
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last = append(u.last, received{Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		w.Header().Set("Content-Security-Policy", "default-src 'self' app.example")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<p>the app</p>")
	}))
	t.Cleanup(u.Close)
	return u
}

// got returns the one request the upstream received since the last call.
func (u *recordingUpstream) got(t *testing.T) received {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.last) != 1 {
		t.Fatalf("the upstream received %d requests, want 1", len(u.last))
	}
	r := u.last[0]
	u.last = nil
	return r
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.last)
}

// front is latchkey's proxy route as the handlers build it: canonical
// path, then Forward with whoever the test says is signed in.
type front struct {
	*httptest.Server
	proxy *Proxy
	mu    sync.Mutex
	id    *Identity
	done  chan int // the status of each finished request, when not nil
}

type frontOptions struct {
	cfg       Config
	identity  IdentityConfig
	transport TransportOptions
}

func newFront(t *testing.T, upstream string, opts frontOptions) *front {
	t.Helper()
	u, err := ParseUpstream(upstream)
	if err != nil {
		t.Fatal(err)
	}
	ih, err := NewIdentityHeaders(opts.identity)
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.cfg
	cfg.Upstream, cfg.Identity = u, ih
	if cfg.Transport == nil {
		cfg.Transport = NewTransport(u, opts.transport)
	}
	if cfg.OwnCookie == nil {
		cfg.OwnCookie = func(name string) bool { return name == "latchkey" || strings.HasPrefix(name, "__Host-latchkey") }
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{proxy: p}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseRequest(r)
		if err != nil {
			status := err.(*PathError).Status()
			http.Error(w, http.StatusText(status), status)
			return
		}
		f.mu.Lock()
		id, done := f.id, f.done
		f.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		p.Forward(sw, r, q.Path, id)
		if done != nil {
			done <- sw.status
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *front) signIn(id *Identity) {
	f.mu.Lock()
	f.id = id
	f.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// rawRequest sends text as an HTTP/1.1 request to srv, exactly, and reads
// the response.
func rawRequest(t *testing.T, srv *httptest.Server, text string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var ada = &Identity{
	SessionKey:        "key-ada",
	Subject:           "ada",
	Email:             "ada@example.com",
	EmailVerified:     true,
	PreferredUsername: "ada.l",
	Groups:            []string{"staff", "admins"},
	AccessToken:       "access-token-of-ada",
}

func TestForwardIdentity(t *testing.T) {
	spoofed := []string{
		"X-Forwarded-User", "x-forwarded-user", "X-FORWARDED-USER", "X_Forwarded_User", "x_forwarded_user", "X-Forwarded_User",
		"X-Forwarded-Email", "X_Forwarded_Email", "X-Forwarded-Preferred-Username", "X_Forwarded_Preferred_Username",
		"X-Forwarded-Groups", "x_forwarded_groups", "X-Latchkey-Assertion", "X_Latchkey_Assertion",
		"X-Forwarded-Access-Token", "X-Auth-Request-User", "X_Auth_Request_Email", "Remote-User", "remote_user",
		"X_Forwarded_For", "x_forwarded_host", "X_FORWARDED_PROTO", "X-Forwarded-Port", "X_Forwarded_Prefix",
	}
	tests := []struct {
		name       string
		identity   IdentityConfig
		signedIn   bool
		wantHeader map[string]string // "" means: absent
	}{
		{
			name:     "signed in",
			signedIn: true,
			wantHeader: map[string]string{
				"X-Forwarded-User":               "ada",
				"X-Forwarded-Email":              "ada@example.com",
				"X-Forwarded-Preferred-Username": "ada.l",
				"X-Forwarded-Groups":             "staff,admins",
				"Authorization":                  "Basic client-credentials",
			},
		},
		{
			name:     "signed in, passing the access token",
			identity: IdentityConfig{PassAccessToken: true},
			signedIn: true,
			wantHeader: map[string]string{
				"X-Forwarded-User": "ada",
				"Authorization":    "Bearer access-token-of-ada",
			},
		},
		{
			name:     "renamed headers",
			identity: IdentityConfig{Names: HeaderNames{User: "X-User", Email: "X-Mail"}},
			signedIn: true,
			wantHeader: map[string]string{
				"X-User":             "ada",
				"X-Mail":             "ada@example.com",
				"X-Forwarded-User":   "",
				"X-Forwarded-Groups": "",
			},
		},
		{
			name: "anonymous",
			wantHeader: map[string]string{
				"X-Forwarded-User":  "",
				"X-Forwarded-Email": "",
				"Authorization":     "Basic client-credentials",
			},
		},
		{
			name:     "anonymous, passing access tokens",
			identity: IdentityConfig{PassAccessToken: true},
			wantHeader: map[string]string{
				"Authorization": "",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := newRecordingUpstream(t)
			f := newFront(t, upstream.URL, frontOptions{identity: tt.identity})
			if tt.signedIn {
				f.signIn(ada)
			}
			var req strings.Builder
			fmt.Fprintf(&req, "GET /page?x=1 HTTP/1.1\r\nHost: app.test\r\n")
			for _, name := range spoofed {
				fmt.Fprintf(&req, "%s: mallory\r\n", name)
			}
			req.WriteString("Authorization: Basic client-credentials\r\n")
			req.WriteString("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9\r\n")
			req.WriteString("Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-App-Header: kept\r\n\r\n")
			resp := rawRequest(t, f.Server, req.String())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := upstream.got(t)

			for name, vv := range got.Header {
				for _, v := range vv {
					if strings.Contains(v, "mallory") {
						t.Errorf("the upstream received the client's %s: %s", name, v)
					}
				}
			}
			for name, want := range tt.wantHeader {
				if vv := got.Header.Values(name); (want == "" && len(vv) > 0) || (want != "" && !slices.Equal(vv, []string{want})) {
					t.Errorf("%s = %q, want %q", name, vv, want)
				}
			}
			if got.Host != "app.test" {
				t.Errorf("Host = %q, want the client's", got.Host)
			}
			if got.RequestURI != "/page?x=1" {
				t.Errorf("RequestURI = %q", got.RequestURI)
			}
			forwarded := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "app.test", "X-Forwarded-Proto": "http", "Forwarded": "", "X-Hop": "", "X-App-Header": "kept"}
			for name, want := range forwarded {
				if v := got.Header.Get(name); v != want {
					t.Errorf("%s = %q, want %q", name, v, want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'self' app.example" {
				t.Errorf("the app's CSP arrived as %q", csp)
			}
			for _, name := range []string{"X-Frame-Options", "Strict-Transport-Security", "Referrer-Policy", "X-Content-Type-Options"} {
				if v := resp.Header.Get(name); v != "" {
					t.Errorf("the proxy added %s: %s to the app's response", name, v)
				}
			}
		})
	}
}

func TestForwardHostAndProto(t *testing.T) {
	upstream := newRecordingUpstream(t)
	f := newFront(t, upstream.URL, frontOptions{cfg: Config{UpstreamHost: true, ForwardedProto: "https"}})
	rawRequest(t, f.Server, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	got := upstream.got(t)
	if want := upstream.Listener.Addr().String(); got.Host != want {
		t.Errorf("Host = %q, want the upstream's %q", got.Host, want)
	}
	if v := got.Header.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", v)
	}
	if v := got.Header.Get("X-Forwarded-Host"); v != "app.test" {
		t.Errorf("X-Forwarded-Host = %q", v)
	}
}

func TestForwardCookies(t *testing.T) {
	tests := []struct {
		name    string
		cookies []string // Cookie header lines
		want    []string // as the upstream receives them; nil: no Cookie header
	}{
		{name: "only latchkey's", cookies: []string{"latchkey=sealed"}},
		{name: "latchkey's first", cookies: []string{"latchkey=sealed; app=1; theme=dark"}, want: []string{"app=1; theme=dark"}},
		{name: "latchkey's last", cookies: []string{"app=1;theme=dark; __Host-latchkey=sealed"}, want: []string{"app=1;theme=dark"}},
		{name: "latchkey's in the middle", cookies: []string{"app=1; latchkey=sealed; theme=dark"}, want: []string{"app=1; theme=dark"}},
		{name: "the app's cookies byte for byte", cookies: []string{`q="a b"; latchkey=x; j=%7B%22a%22%3A1%7D; e=a=b=c; flag`}, want: []string{`q="a b"; j=%7B%22a%22%3A1%7D; e=a=b=c; flag`}},
		{name: "several Cookie lines", cookies: []string{"latchkey=x", "app=1", "__Host-latchkey-login=y; theme=dark"}, want: []string{"app=1", "theme=dark"}},
		{name: "none of latchkey's", cookies: []string{"app=1;  theme=dark"}, want: []string{"app=1;  theme=dark"}},
		{name: "a name that only starts the same", cookies: []string{"latchkeyx=1; latchkey=2"}, want: []string{"latchkeyx=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := newRecordingUpstream(t)
			f := newFront(t, upstream.URL, frontOptions{})
			f.signIn(ada)
			var req strings.Builder
			req.WriteString("GET / HTTP/1.1\r\nHost: app.test\r\n")
			for _, c := range tt.cookies {
				req.WriteString("Cookie: " + c + "\r\n")
			}
			req.WriteString("\r\n")
			rawRequest(t, f.Server, req.String())
			got := upstream.got(t).Header["Cookie"]
			if !slices.Equal(got, tt.want) {
				t.Errorf("Cookie = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWithoutCookiesAllocations(t *testing.T) {
	own := func(name string) bool { return name == "latchkey" }
	for _, v := range []string{"latchkey=x; app=1", "app=1; latchkey=x", "app=1; b=2"} {
		if n := testing.AllocsPerRun(100, func() { withoutCookies(v, own) }); n != 0 {
			t.Errorf("withoutCookies(%q) allocates %v times", v, n)
		}
	}
}

func TestForwardCanonicalPath(t *testing.T) {
	tests := []struct {
		name       string
		upstream   string // base path
		target     string
		wantStatus int
		wantURI    string // what the upstream receives
	}{
		{name: "plain", target: "/a/b?x=1", wantURI: "/a/b?x=1"},
		{name: "dot-dot", target: "/static/../admin", wantURI: "/admin"},
		{name: "double slash", target: "//admin", wantURI: "/admin"},
		{name: "encoded dot-dot", target: "/%2e%2e/admin", wantURI: "/admin"},
		{name: "trailing dot segment", target: "/static/x/.", wantURI: "/static/x/"},
		{name: "Java parameters then dot-dot", target: "/static;/../admin", wantURI: "/admin"},
		{name: "escapes normalised", target: "/caf%c3%a9/%7euser?q=%2f", wantURI: "/caf%C3%A9/~user?q=%2f"},
		{name: "encoded semicolon stays encoded", target: "/a%3bb", wantURI: "/a%3Bb"},
		{name: "with a base path", upstream: "/base", target: "/static/../x?y", wantURI: "/base/x?y"},
		{name: "root with a base path", upstream: "/base", target: "/", wantURI: "/base/"},
		{name: "encoded slash refused", target: "/static%2f..%2fadmin", wantStatus: http.StatusBadRequest},
		{name: "backslash refused", target: `/static\..\admin`, wantStatus: http.StatusBadRequest},
		{name: "double encoding refused", target: "/%252e%252e/admin", wantStatus: http.StatusBadRequest},
		{name: "NUL refused", target: "/admin%00", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := newRecordingUpstream(t)
			f := newFront(t, upstream.URL+tt.upstream, frontOptions{})
			resp := rawRequest(t, f.Server, "GET "+tt.target+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
			want := tt.wantStatus
			if want == 0 {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
			if tt.wantStatus != 0 {
				if n := upstream.count(); n != 0 {
					t.Errorf("the upstream received %d requests", n)
				}
				return
			}
			if got := upstream.got(t).RequestURI; got != tt.wantURI {
				t.Errorf("the upstream received %q, want %q", got, tt.wantURI)
			}
		})
	}
}

func TestForwardSocket(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", r.Host, r.RequestURI, r.Header.Get("X-Forwarded-User"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	f := newFront(t, "unix:"+socket+":/base", frontOptions{})
	f.signIn(ada)
	_, body := get(t, f.Client(), f.URL+"/x?y=1")
	if want := strings.TrimPrefix(f.URL, "http://") + " /base/x?y=1 ada"; body != want {
		t.Errorf("the app answered %q, want %q", body, want)
	}
}

// waitFor receives from ch or fails the test after a generous bound, so
// that a proxy that buffers fails instead of hanging.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

func TestForwardServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "id: %d\ndata: event %d for %s\n\n", i, i, r.Header.Get("X-Forwarded-User"))
			http.NewResponseController(w).Flush()
			// The next event is sent only once the client has this one.
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(upstream.Close)
	f := newFront(t, upstream.URL, frontOptions{})
	f.signIn(ada)

	resp, err := f.Client().Get(f.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string)
	go func() {
		defer close(events)
		scanner := bufio.NewScanner(resp.Body)
		for scanner.Scan() {
			if line := scanner.Text(); strings.HasPrefix(line, "data: ") {
				events <- line
			}
		}
	}()
	for i := 1; i <= 3; i++ {
		got := waitFor(t, events, fmt.Sprintf("event %d", i))
		if want := fmt.Sprintf("data: event %d for ada", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		next <- struct{}{}
	}
	if _, open := <-events; open {
		t.Error("more events than sent")
	}
}

func TestForwardWebSocket(t *testing.T) {
	const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	accept := func(key string) string {
		sum := sha1.Sum([]byte(key + guid))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			http.Error(w, "not an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		// An echo of lines, each prefixed with who the proxy said it was.
		user := r.Header.Get("X-Forwarded-User")
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(user + ": " + line)
			brw.Flush()
		}
	}))
	t.Cleanup(upstream.Close)
	f := newFront(t, upstream.URL, frontOptions{})
	f.signIn(ada)

	conn, err := net.Dial("tcp", f.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-User: mallory\r\n\r\n", key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != accept(key) {
		t.Fatalf("status %d, Sec-WebSocket-Accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	for _, msg := range []string{"hello", "again"} {
		fmt.Fprintf(conn, "%s\n", msg)
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := "ada: " + msg + "\n"; line != want {
			t.Errorf("got %q, want %q", line, want)
		}
	}
}

func TestForwardStreamsRequestBody(t *testing.T) {
	const first = "first chunk;"
	rest := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	gotFirst := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := make([]byte, len(first))
		if _, err := io.ReadFull(r.Body, head); err != nil || string(head) != first {
			http.Error(w, "bad start", http.StatusBadRequest)
			return
		}
		close(gotFirst)
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	t.Cleanup(upstream.Close)
	f := newFront(t, upstream.URL, frontOptions{})
	f.signIn(ada)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", f.URL+"/upload", pr)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := f.Client().Do(req)
		if err != nil {
			pr.CloseWithError(err)
			done <- nil
			return
		}
		done <- resp
	}()
	if _, err := io.WriteString(pw, first); err != nil {
		t.Fatal(err)
	}
	// The upstream has the start of the body while the client still holds
	// the rest: nothing waits for the whole body.
	waitFor(t, gotFirst, "the upstream to get the first bytes")
	if _, err := pw.Write(rest); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	resp := waitFor(t, done, "the response")
	if resp == nil {
		t.Fatal("request failed")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("%d %x", len(rest), sha256.Sum256(rest)); string(body) != want {
		t.Errorf("the upstream got %q, want %q", body, want)
	}
}

func TestForwardStreamsResponseBody(t *testing.T) {
	const first = "first chunk;"
	rest := bytes.Repeat([]byte("fedcba9876543210"), 1<<18) // 4 MiB
	clientHasFirst := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(first)+len(rest)))
		io.WriteString(w, first)
		http.NewResponseController(w).Flush()
		select {
		case <-clientHasFirst:
		case <-r.Context().Done():
			return
		}
		w.Write(rest)
	}))
	t.Cleanup(upstream.Close)
	f := newFront(t, upstream.URL, frontOptions{})
	f.signIn(ada)

	resp, err := f.Client().Get(f.URL + "/download")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, len(first))
	read := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, head); read <- err }()
	if err := waitFor(t, read, "the first bytes of the response"); err != nil || string(head) != first {
		t.Fatalf("read %q, %v", head, err)
	}
	close(clientHasFirst)
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(body, rest) {
		t.Fatalf("read %d bytes, %v; want %d", len(body), err, len(rest))
	}
}

// TestForwardResponseSizes: a body passes byte for byte whatever copy
// buffer its Content-Length picks, and when it has none.
func TestForwardResponseSizes(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		w.Write(body)
	}))
	t.Cleanup(upstream.Close)
	f := newFront(t, upstream.URL, frontOptions{})
	f.signIn(ada)
	for _, n := range []int{0, 1, smallBufferSize - 1, smallBufferSize, smallBufferSize + 1, 3*smallBufferSize + 7, bufferSize + 1} {
		for _, chunked := range []string{"", "1"} {
			resp, err := f.Client().Get(fmt.Sprintf("%s/page?n=%d&chunked=%s", f.URL, n, chunked))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
			if err != nil || !bytes.Equal(body, want) {
				t.Errorf("%d bytes (chunked %q): read %d bytes, %v", n, chunked, len(body), err)
			}
		}
	}
}

func TestForwardFailures(t *testing.T) {
	closed := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	hanging := func(t *testing.T) string {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); srv.Close() })
		return srv.URL
	}
	garbage := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				io.WriteString(conn, "this is not HTTP\r\n\r\n")
				conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name        string
		upstream    func(t *testing.T) string
		transport   TransportOptions
		hook        bool
		wantFailure Failure
		wantStatus  int
	}{
		{name: "refused, with the hook", upstream: closed, hook: true, wantFailure: Unreachable, wantStatus: http.StatusBadGateway},
		{name: "refused, plain", upstream: closed, wantStatus: http.StatusBadGateway},
		{name: "missing socket", upstream: func(t *testing.T) string { return "unix:" + filepath.Join(t.TempDir(), "none.sock") }, hook: true, wantFailure: Unreachable, wantStatus: http.StatusBadGateway},
		{name: "no response headers in time", upstream: hanging, transport: TransportOptions{ResponseHeaderTimeout: 50 * time.Millisecond}, hook: true, wantFailure: Timeout, wantStatus: http.StatusGatewayTimeout},
		{name: "not HTTP", upstream: garbage, hook: true, wantFailure: Broken, wantStatus: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var gotErr *UpstreamError
			var gotKind Kind
			opts := frontOptions{transport: tt.transport}
			if tt.hook {
				opts.cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err *UpstreamError) {
					mu.Lock()
					gotErr, gotKind = err, Classify(r.Method, r.Header)
					mu.Unlock()
					w.WriteHeader(err.Status())
				}
			}
			f := newFront(t, tt.upstream(t), opts)
			req, _ := http.NewRequest("GET", f.URL+"/page", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			resp, err := f.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if !tt.hook {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if gotErr == nil || gotErr.Failure != tt.wantFailure {
				t.Fatalf("the hook got %v, want a %v failure", gotErr, tt.wantFailure)
			}
			if gotKind != Navigation {
				t.Errorf("the hook could not tell a navigation: %v", gotKind)
			}
		})
	}
}

func TestForwardClientGone(t *testing.T) {
	arrived := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the proxy gives up once its client has
	}))
	t.Cleanup(upstream.Close)
	hookCalled := make(chan *UpstreamError, 1)
	f := newFront(t, upstream.URL, frontOptions{cfg: Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err *UpstreamError) {
		hookCalled <- err
	}}})
	f.done = make(chan int, 1)

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/slow", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := f.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, arrived, "the request to reach the upstream")
	cancel()
	if err := waitFor(t, errc, "the client to give up"); err == nil {
		t.Fatal("the request completed")
	}
	if status := waitFor(t, f.done, "the proxy to finish"); status != statusClientClosedRequest {
		t.Errorf("status %d, want %d", status, statusClientClosedRequest)
	}
	select {
	case err := <-hookCalled:
		t.Errorf("the error hook was called for a client that left: %v", err)
	default:
	}
}

func TestNewRefuses(t *testing.T) {
	u, _ := ParseUpstream("http://127.0.0.1:1")
	ih, _ := NewIdentityHeaders(IdentityConfig{})
	for _, cfg := range []Config{
		{Identity: ih},
		{Upstream: u},
		{Upstream: u, Identity: ih, ForwardedProto: "ftp"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}
