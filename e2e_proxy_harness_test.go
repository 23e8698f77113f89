package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// This file is the harness of the tests of latchkey in front of an app:
// an app that records every request it receives, the program started in
// front of it, and requests sent as raw bytes, so that no client library
// cleans a path or a header on the way.

// upstream is a test app behind latchkey: it records every request and
// answers with what it received. A few paths answer in other ways:
//
//	/sse        an event stream: "one", then, once the test says so, "two"
//	/ws         a WebSocket-style upgrade that echoes lines back
//	/set-cookie sets a cookie of the app's own
type upstream struct {
	t   *testing.T
	srv *httptest.Server
	// next lets /sse send its second event.
	next chan struct{}

	mu       sync.Mutex
	requests []*seen
}

// seen is one request the app received.
type seen struct {
	method string
	uri    string // the request target as sent
	host   string
	header http.Header
	body   string
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{t: t, next: make(chan struct{})}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

// URL is the app's address, for UPSTREAM.
func (u *upstream) URL() string { return u.srv.URL }

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, &seen{method: r.Method, uri: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: string(body)})
	u.mu.Unlock()
	switch r.URL.Path {
	case "/sse":
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-u.next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
		return
	case "/ws":
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprint(brw, "echo: "+line)
			brw.Flush()
		}
	case "/set-cookie":
		http.SetCookie(w, &http.Cookie{Name: "app_theme", Value: "dark", Path: "/"})
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "app: %s %s\n", r.Method, r.RequestURI)
}

// all returns the requests received so far.
func (u *upstream) all() []*seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*seen(nil), u.requests...)
}

// last returns the latest request for a target that starts with uri.
func (u *upstream) last(uri string) *seen {
	u.t.Helper()
	all := u.all()
	for i := len(all) - 1; i >= 0; i-- {
		if strings.HasPrefix(all[i].uri, uri) {
			return all[i]
		}
	}
	u.t.Fatalf("the app never received %s; it received %d requests", uri, len(all))
	return nil
}

// count is how many requests the app has received.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

// startInFront starts the program in front of the app at upstreamURL,
// with the development provider unless env configures another, and
// waits until it can sign people in.
func startInFront(t *testing.T, upstreamURL string, env map[string]string) *testApp {
	t.Helper()
	env["UPSTREAM"] = upstreamURL
	app := startApp(t, env)
	app.waitReadyAt(t, "/.latchkey/readyz")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.logs)
		}
	})
	return app
}

// waitReadyAt polls the readiness route at path until it answers 200.
func (a *testApp) waitReadyAt(t *testing.T, path string) {
	t.Helper()
	waitFor(t, "the app to be ready", func() bool {
		resp, err := http.Get(a.URL + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// navigation is what a browser sends when it loads a page.
var navigation = http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Sec-Fetch-Mode": {"navigate"}}

// devSignInAt opens path as a browser would, signs in as user at the
// development provider, and returns the page the login came back to.
func devSignInAt(t *testing.T, app *testApp, b *browser, path, user string) *page {
	t.Helper()
	signIn := b.getWith(app.URL+path, navigation)
	if !signIn.has("dev-signin") {
		t.Fatalf("opening %s should reach the development sign-in page, got %d at %s:\n%s", path, signIn.status, signIn.url, signIn.body)
	}
	return navSubmit(t, b, signIn, "form", url.Values{"user": {user}})
}

// navSubmit posts the form found by selector on p, with extra fields set,
// as a browser does: same-origin, a navigation that asks for a page.
func navSubmit(t *testing.T, b *browser, p *page, selector string, fields url.Values) *page {
	t.Helper()
	form := p.doc.Find(selector).First()
	if form.Length() == 0 {
		t.Fatalf("no form %q on %s:\n%s", selector, p.url, p.body)
	}
	values := url.Values{}
	form.Find("input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		values.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	for k, v := range fields {
		values[k] = v
	}
	action, err := p.url.Parse(form.AttrOr("action", ""))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = navigation.Clone()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.url.Scheme+"://"+p.url.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// rawResponse is an answer read off the wire.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// sendRaw sends request, the bytes of a whole HTTP/1.1 request, to the
// app's listener, and reads the answer.
func sendRaw(t *testing.T, app *testApp, request string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", hostOf(t, app.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to %q: %v", firstLine(request), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// rawGet is a GET of target (sent as it is) with the given header lines.
func rawGet(t *testing.T, app *testApp, target string, lines ...string) rawResponse {
	t.Helper()
	return sendRaw(t, app, "GET "+target+" HTTP/1.1\r\nHost: "+hostOf(t, app.URL)+"\r\n"+strings.Join(append(lines, "Connection: close"), "\r\n")+"\r\n\r\n")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// assertion is the assertion latchkey sends the app, verified.
type assertion struct {
	jwt.Claims
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	SID               string   `json:"sid"`
}

// verifyAssertion checks token as an app would: against the keys at
// /.latchkey/jwks.json, from latchkey (iss BASE_URL), for audience.
func verifyAssertion(t *testing.T, app *testApp, token, audience string) *assertion {
	t.Helper()
	resp, err := http.Get(app.URL + "/.latchkey/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("jwks.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		t.Fatalf("decode jwks.json: %v", err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse the assertion %q: %v", token, err)
	}
	var a assertion
	if err := tok.Claims(&keys, &a); err != nil {
		t.Fatalf("the assertion does not verify against jwks.json: %v", err)
	}
	if err := a.Validate(jwt.Expected{Issuer: app.URL, AnyAudience: jwt.Audience{audience}, Time: time.Now()}); err != nil {
		t.Fatalf("assertion claims: %v (%+v)", err, a)
	}
	return &a
}
