package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"latchkey/auth/oidctest"
	"latchkey/auth/redisstore/redistest"
)

// This file is the harness of the end-to-end tests, the e2e_*_test.go
// suites: the real program started by run on a free port, a browser
// without JavaScript that keeps cookies and records every exchange, a real
// Chromium, and helpers that log in through a fake provider
// (auth/oidctest) and check what the user would see. The checks named by
// the ids of docs/security.md run in TestConformance
// (e2e_conformance_test.go).

// testSessionSecret is the SESSION_SECRET of every app a test configures
// for a provider of its own.
const testSessionSecret = "provider-test-session-secret-0123456789abcdef"

// The program.

// pollInterval is how often waitReady and waitFor look again. Short, since
// most of what they wait for is a few milliseconds away and the program
// starts some hundred times in a run.
const pollInterval = 5 * time.Millisecond

// testApp is the real program, started by run on a free port.
type testApp struct {
	// URL is BASE_URL: where the program serves, without a trailing slash.
	URL string
	// logs is everything the program has logged so far.
	logs *outputBuffer
	stop func()
}

// Stop ends the program now, as SIGTERM would, and waits until run has
// returned. The test's cleanup does nothing more for it.
func (a *testApp) Stop() { a.stop() }

// startApp runs the program with env as its whole environment and args
// after the program name, and waits until it listens. PORT (0, a free port)
// and DATA_DIR (a fresh directory) are added to env when it lacks them.
// The program stops when the test ends.
func startApp(t *testing.T, env map[string]string, args ...string) *testApp {
	t.Helper()
	app, err := launchApp(t, env, args...)
	if err != nil {
		t.Fatalf("run returned before listening: %v", err)
	}
	return app
}

// launchApp starts the program as startApp does, but returns run's error
// when the program stops before it listens, so that a caller that chose
// the port can try another one.
func launchApp(t *testing.T, env map[string]string, args ...string) (*testApp, error) {
	t.Helper()
	if _, ok := env["PORT"]; !ok {
		env["PORT"] = "0"
	}
	if _, ok := env["DATA_DIR"]; !ok {
		env["DATA_DIR"] = t.TempDir()
	}
	logs := &outputBuffer{}
	listening := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	argv := append([]string{"latchkey", "--env-file="}, args...)
	go func() {
		done <- run(ctx, "test", argv, env, io.Discard, logs, func(u string) { listening <- u })
	}()
	started := false
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if started && err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	})
	t.Cleanup(stop)
	select {
	case u := <-listening:
		started = true
		return &testApp{URL: u, logs: logs, stop: stop}, nil
	case err := <-done:
		done <- err // for stop
		return nil, fmt.Errorf("%w\n%s", err, logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("app did not start listening:\n%s", logs)
	}
	return nil, nil
}

// waitReady polls /readyz until the provider's discovery has loaded.
func (a *testApp) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("app never became ready:\n%s", a.logs)
		}
		time.Sleep(pollInterval)
	}
}

// providerEnv is the whole environment of an app signing in through p,
// with extra added.
func providerEnv(p *oidctest.Provider, extra map[string]string) map[string]string {
	env := map[string]string{
		"OIDC_ISSUER":        p.Issuer(),
		"OIDC_CLIENT_ID":     p.ClientID(),
		"OIDC_CLIENT_SECRET": p.ClientSecret(),
		"SESSION_SECRET":     testSessionSecret,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startWithProvider starts a fake provider and the app configured for it,
// and waits until the app has loaded the provider's discovery document.
func startWithProvider(t *testing.T, extra map[string]string, opts ...oidctest.Option) (*oidctest.Provider, *testApp) {
	t.Helper()
	p := oidctest.New(t, opts...)
	app := startApp(t, providerEnv(p, extra))
	app.waitReady(t)
	return p, app
}

// outputBuffer collects what a program writes, the app's log or a child
// process's output; safe for concurrent use.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *outputBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it holds, for at most 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollInterval)
	}
}

// What the tests need besides Go, and the tests that cannot run without it.

// skips collects the skips of this run for the line TestMain prints at the
// end. It is the tests' only package-level variable that changes: TestMain
// and the tests share nothing else.
var skips skipLog

// skipLog is the list of skipped tests, by reason; safe for concurrent use.
type skipLog struct {
	mu      sync.Mutex
	reasons []string            // in the order first seen
	tests   map[string][]string // test names, by reason
}

// skipBecause skips t because something it needs is missing, and notes it
// for the summary. Under CI (CI=true), which installs everything the tests
// need, the test fails instead: a skip there would hide a broken install.
func skipBecause(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI installs what the tests need, so this test must not be skipped", reason)
	}
	skips.add(t.Name(), reason)
	t.Skip(reason)
}

func (l *skipLog) add(test, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tests == nil {
		l.tests = map[string][]string{}
	}
	if _, ok := l.tests[reason]; !ok {
		l.reasons = append(l.reasons, reason)
	}
	l.tests[reason] = append(l.tests[reason], test)
}

// summary is one line naming the skipped tests and why, or "" when none
// was skipped.
func (l *skipLog) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	groups := make([]string, 0, len(l.reasons))
	for _, reason := range l.reasons {
		// Sorted and once each, also when -count runs a test again.
		tests := slices.Compact(slices.Sorted(slices.Values(l.tests[reason])))
		n += len(tests)
		groups = append(groups, reason+": "+strings.Join(tests, ", "))
	}
	if n == 0 {
		return ""
	}
	noun := "tests"
	if n == 1 {
		noun = "test"
	}
	return fmt.Sprintf("latchkey: %d %s skipped; %s", n, noun, strings.Join(groups, "; "))
}

// TestMain runs the tests, then prints the skip summary.
func TestMain(m *testing.M) {
	code := m.Run()
	if line := skips.summary(); line != "" {
		showSummary(line)
	}
	os.Exit(code)
}

// showSummary prints line where whoever ran the tests sees it. go test
// shows the output of a package that passed only with -v, so without -v
// the line goes straight to the terminal when there is one.
func showSummary(line string) {
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, line)
			tty.Close()
			return
		}
	}
	fmt.Println(line)
}

// startRedis starts a throw-away redis-server for the test, or skips the
// test when none is installed.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if _, err := os.Stat("/usr/bin/redis-server"); err != nil {
			skipBecause(t, "redis-server not found (apt-get install redis-server)")
		}
	}
	return redistest.Start(t)
}

// A browser without JavaScript.

// browser is a cookie-keeping HTTP client that follows redirects like a
// browser without JavaScript.
type browser struct {
	t      *testing.T
	client *http.Client
}

// newBrowser is a browser with an empty cookie jar.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// page is a fetched HTML page.
type page struct {
	status int
	url    *url.URL // where the browser ended up, after redirects
	header http.Header
	body   string
	doc    *goquery.Document
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("read %s: %v", req.URL, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		b.t.Fatalf("parse %s: %v", req.URL, err)
	}
	return &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body), doc: doc}
}

// get fetches u.
func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// getWith fetches u with extra request headers; a Host header sets the
// request's host.
func (b *browser) getWith(u string, header http.Header) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range header {
		if strings.EqualFold(k, "Host") {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	return b.do(req)
}

// post sends a form to u with the given request headers.
func (b *browser) post(u string, form url.Values, header http.Header) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return b.do(req)
}

// submit posts the form found by selector on p, with extra fields set,
// as a same-origin browser would.
func (b *browser) submit(p *page, selector string, fields url.Values) *page {
	b.t.Helper()
	form := p.doc.Find(selector).First()
	if form.Length() == 0 {
		b.t.Fatalf("no form %q on %s:\n%s", selector, p.url, p.body)
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
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.url.Scheme+"://"+p.url.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// noFollow returns the same browser (cookies, recorder) that stops at
// redirects instead of following them.
func (b *browser) noFollow() *browser {
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, client: &c}
}

// cookie returns the browser's cookie name for u, or nil.
func (b *browser) cookie(u, name string) *http.Cookie {
	b.t.Helper()
	target, err := url.Parse(u)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.client.Jar.Cookies(target) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// text is the trimmed text of the elements with this data-testid.
func (p *page) text(testid string) string {
	return strings.TrimSpace(p.doc.Find(`[data-testid="` + testid + `"]`).Text())
}

// has reports whether the page has an element with this data-testid.
func (p *page) has(testid string) bool {
	return p.doc.Find(`[data-testid="`+testid+`"]`).Length() > 0
}

// exchange is one request a browser made and the answer it got.
type exchange struct {
	method string
	url    *url.URL
	status int
	header http.Header
	body   []byte
}

// recorder is a transport that keeps every exchange, so tests can look at
// the redirects a browser followed and the cookies each one set.
type recorder struct {
	next http.RoundTripper

	mu        sync.Mutex
	exchanges []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.exchanges = append(r.exchanges, exchange{
		method: req.Method,
		url:    req.URL,
		status: resp.StatusCode,
		header: resp.Header.Clone(),
		body:   body,
	})
	r.mu.Unlock()
	return resp, nil
}

// all returns the exchanges with host so far, oldest first.
func (r *recorder) all(host string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, e := range r.exchanges {
		if e.url.Host == host {
			out = append(out, e)
		}
	}
	return out
}

// last returns the latest exchange with host at path.
func (r *recorder) last(t *testing.T, host, path string) exchange {
	t.Helper()
	all := r.all(host)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].url.Path == path {
			return all[i]
		}
	}
	t.Fatalf("the browser never requested %s%s", host, path)
	return exchange{}
}

// setCookies parses the Set-Cookie headers of every answer from host.
func (r *recorder) setCookies(t *testing.T, host string) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, e := range r.all(host) {
		out = append(out, parseSetCookies(t, e.header)...)
	}
	return out
}

// parseSetCookies parses the Set-Cookie headers of h.
func parseSetCookies(t *testing.T, h http.Header) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Errorf("unparsable Set-Cookie %q: %v", line, err)
			continue
		}
		out = append(out, c)
	}
	return out
}

// newRecordingBrowser is a browser whose exchanges are all recorded.
func newRecordingBrowser(t *testing.T) (*browser, *recorder) {
	t.Helper()
	b := newBrowser(t)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	rec := &recorder{next: transport}
	b.client.Transport = rec
	return b, rec
}

// browserWithCookie is a fresh recording browser holding only the session
// cookie value.
func browserWithCookie(t *testing.T, app *testApp, value string) (*browser, *recorder) {
	t.Helper()
	b, rec := newRecordingBrowser(t)
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "latchkey", Value: value, Path: "/"}})
	return b, rec
}

// holding is a fresh browser holding only the session cookie value.
func holding(t *testing.T, app *testApp, value string) *browser {
	t.Helper()
	b, _ := browserWithCookie(t, app, value)
	return b
}

// hostOf is the host:port of a URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// pathOf is the path of a URL.
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// withQuery is raw with its query changed by change.
func withQuery(t *testing.T, raw string, change func(url.Values)) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	change(q)
	u.RawQuery = q.Encode()
	return u.String()
}

// Logins through a fake provider, and what the user must see.

// loginRun is one login driven through the app and a fake provider.
type loginRun struct {
	app   *testApp
	p     *oidctest.Provider
	b     *browser
	rec   *recorder
	final *page // where the browser ended up
}

// login starts a login at path on a fresh browser and follows every
// redirect, through the provider's /authorize, back to the app.
func login(t *testing.T, app *testApp, p *oidctest.Provider, path string) *loginRun {
	t.Helper()
	b, rec := newRecordingBrowser(t)
	final := b.get(app.URL + path)
	return &loginRun{app: app, p: p, b: b, rec: rec, final: final}
}

// signIn logs a fresh browser in and returns it on the dashboard.
func signIn(t *testing.T, app *testApp, p *oidctest.Provider) *loginRun {
	t.Helper()
	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	return r
}

// startLogin asks the app for a login without following it and returns the
// provider's authorization URL.
func startLogin(t *testing.T, app *testApp, b *browser, path string) string {
	t.Helper()
	start := b.noFollow().get(app.URL + path)
	loc := start.header.Get("Location")
	if start.status != http.StatusSeeOther || loc == "" {
		t.Fatalf("GET %s = %d Location %q, want a redirect to the provider", path, start.status, loc)
	}
	return loc
}

// authorizeAnswer asks the provider's /authorize at authURL, as the browser
// would, and returns the callback URL it redirects to.
func authorizeAnswer(t *testing.T, authURL string) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatalf("GET %s: %v", authURL, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		t.Fatalf("/authorize answered %d Location %q", resp.StatusCode, loc)
	}
	return loc
}

// assertSignedIn checks that the login completed and /dashboard shows the
// provider's default user.
func assertSignedIn(t *testing.T, r *loginRun) {
	t.Helper()
	f := r.final
	if f.status != http.StatusOK || f.url.Path != "/dashboard" || !f.has("dashboard") {
		t.Fatalf("login should land on the dashboard, got %d at %s:\n%s\nlogs:\n%s", f.status, f.url, f.body, r.app.logs)
	}
	if got, want := f.text("welcome"), "Welcome "+oidctest.DefaultName; got != want {
		t.Errorf("dashboard greeting = %q, want %q", got, want)
	}
	claims := f.text("claims")
	for _, want := range []string{`"sub": "` + oidctest.DefaultSubject + `"`, `"email": "` + oidctest.DefaultEmail + `"`, `"name": "` + oidctest.DefaultName + `"`} {
		if !strings.Contains(claims, want) {
			t.Errorf("dashboard claims lack %s:\n%s", want, claims)
		}
	}
	if c := r.b.cookie(r.app.URL, "latchkey"); c == nil || c.Value == "" {
		t.Error("no session cookie after a successful login")
	}
}

// assertRejected checks a rejected login (docs/security.md): the callback
// answers a 4xx page in the app's look with a way to try again, sets no
// session cookie, leaks nothing, and the browser stays anonymous.
func assertRejected(t *testing.T, r *loginRun, wantStatus int) {
	t.Helper()
	f := r.final
	if f.url.Host != hostOf(t, r.app.URL) || f.url.Path != "/callback" {
		t.Fatalf("login should end on the app's /callback, got %d at %s:\n%s", f.status, f.url, f.body)
	}
	if f.status < 400 || f.status > 499 {
		t.Errorf("callback status = %d, want 4xx\nlogs:\n%s", f.status, r.app.logs)
	}
	if wantStatus != 0 && f.status != wantStatus {
		t.Errorf("callback status = %d, want %d", f.status, wantStatus)
	}
	if !f.has("error") || !f.has("try-again") {
		t.Errorf("callback should answer the app's error page with a try-again link:\n%s", f.body)
	}
	assertNoInternals(t, f.body, r.p)
	assertNoSessionCookie(t, r)
	assertAnonymous(t, r.app, r.b)
}

// assertNoSessionCookie checks that no answer from the app set a session.
func assertNoSessionCookie(t *testing.T, r *loginRun) {
	t.Helper()
	for _, c := range r.rec.setCookies(t, hostOf(t, r.app.URL)) {
		if c.Name == "latchkey" && c.Value != "" {
			t.Errorf("a session cookie was set: %s", c)
		}
	}
}

// assertAnonymous checks that b has no session: /dashboard sends it to log in.
func assertAnonymous(t *testing.T, app *testApp, b *browser) {
	t.Helper()
	dash := b.noFollow().get(app.URL + "/dashboard")
	if dash.status != http.StatusSeeOther || !strings.HasPrefix(dash.header.Get("Location"), "/login?") || dash.has("dashboard") {
		t.Errorf("/dashboard should send an anonymous browser to log in, got %d Location %q", dash.status, dash.header.Get("Location"))
	}
}

// assertEndedOn checks that b's session, ended on another instance, is
// refused by app within the time an ending takes to reach every instance
// (each keeps the sessions it read in memory, kept coherent through
// Redis: a millisecond or two; two seconds is the bound tested).
func assertEndedOn(t *testing.T, app *testApp, b *browser) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		dash := b.noFollow().get(app.URL + "/dashboard")
		if dash.status == http.StatusSeeOther && strings.HasPrefix(dash.header.Get("Location"), "/login?") {
			return
		}
		if dash.status != http.StatusOK || time.Now().After(deadline) {
			t.Errorf("/dashboard should send the ended session to log in, got %d Location %q", dash.status, dash.header.Get("Location"))
			return
		}
		time.Sleep(pollInterval)
	}
}

// assertSessionValid checks that b's session still opens /dashboard.
func assertSessionValid(t *testing.T, app *testApp, b *browser) {
	t.Helper()
	dash := b.noFollow().get(app.URL + "/dashboard")
	if dash.status != http.StatusOK || !dash.has("dashboard") {
		t.Errorf("the session should still open /dashboard, got %d Location %q", dash.status, dash.header.Get("Location"))
	}
}

// internalMarkers are words of Go, library or provider error text that must
// never reach a page.
var internalMarkers = []string{
	"hunter2", "10.0.0.7", "oidctest", "alert(",
	"oidc:", "oauth2:", "go-jose", "goroutine", "panic", "runtime error",
	"exchange code", "read userinfo", "discovery document", "Client.Timeout",
	"deadline exceeded", "connection refused", "nonce", "audience", "Audience", "id_token",
}

// assertNoInternals checks that body carries neither the provider's error
// description nor internal error text.
func assertNoInternals(t *testing.T, body string, p *oidctest.Provider) {
	t.Helper()
	forbidden := append([]string{oidctest.SecretErrorDescription, p.Issuer()}, internalMarkers...)
	for _, s := range forbidden {
		if strings.Contains(body, s) {
			t.Errorf("page contains %q:\n%s", s, body)
		}
	}
}

// assertHeaders checks the headers docs/security.md R16 asks of every
// response.
func assertHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	directives := map[string]string{}
	for d := range strings.SplitSeq(h.Get("Content-Security-Policy"), ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = strings.TrimSpace(value)
	}
	for _, d := range []string{"frame-ancestors", "object-src", "base-uri"} {
		if directives[d] != "'none'" {
			t.Errorf("%s: CSP %s = %q, want 'none' (CSP %q)", what, d, directives[d], h.Get("Content-Security-Policy"))
		}
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", what, got)
	}
}

// tokenShape matches the provider's opaque tokens (crypto/rand.Text): its
// refresh token, which no record exposes, has this shape.
var tokenShape = regexp.MustCompile(`[A-Z2-7]{26}`)

// Refreshing the profile, and back-channel logout.

// refreshProfile posts the dashboard's refresh form as htmx does.
func refreshProfile(t *testing.T, app *testApp, b *browser, dashboard *page) (int, http.Header, string) {
	t.Helper()
	status, header, body, err := sendRefresh(b.client, app.URL, csrfOf(dashboard))
	if err != nil {
		t.Fatal(err)
	}
	return status, header, body
}

// sendRefresh posts /profile/refresh as htmx does; safe to call from
// several goroutines.
func sendRefresh(client *http.Client, appURL, csrf string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodPost, appURL+"/profile/refresh", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Origin", appURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body), err
}

// csrfOf reads the CSRF token of the dashboard's refresh form.
func csrfOf(dashboard *page) string {
	return dashboard.doc.Find(`[data-testid="refresh-profile-form"] input[name="csrf"]`).AttrOr("value", "")
}

// refreshGrants returns the forms of the refresh_token grants the provider
// received, oldest first.
func refreshGrants(p *oidctest.Provider) []url.Values {
	var out []url.Values
	for _, req := range p.Requests(oidctest.EndpointToken) {
		if req.Form.Get("grant_type") == "refresh_token" {
			out = append(out, req.Form)
		}
	}
	return out
}

// backChannelLogoutEvent is the events member that makes a JWT a logout
// token (Back-Channel Logout 1.0, 2.4).
const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutClaims are the claims of a valid logout token for the provider
// session sid, with one claim the app does not know.
func logoutClaims(p *oidctest.Provider, sid string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":    p.Issuer(),
		"sub":    p.Subject(),
		"aud":    p.ClientID(),
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"sid":    sid,
		"events": map[string]any{backChannelLogoutEvent: map[string]any{}},
		"extra":  "a claim the relying party must ignore",
	}
}

// signLogoutToken signs claims with the provider's key, the way mode says.
func signLogoutToken(t *testing.T, p *oidctest.Provider, claims map[string]any, mode oidctest.SignMode, typ string) string {
	t.Helper()
	token, err := p.SignJWT(claims, mode, typ)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// postLogoutToken delivers a logout token as a provider does: a form post
// from server to server, without Origin or cookies.
func postLogoutToken(t *testing.T, app *testApp, token string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, app.URL+"/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST /backchannel-logout: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// jwtPayload is the decoded claims part of a JWT, unchecked.
func jwtPayload(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode the JWT payload: %v", err)
	}
	return payload
}

// claimOf reads a string claim of a JWT without checking the JWT; the
// test fails when the claim is missing.
func claimOf(t *testing.T, token, name string) string {
	t.Helper()
	payload := jwtPayload(t, token)
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("parse the JWT payload: %v", err)
	}
	v, _ := claims[name].(string)
	if v == "" {
		t.Fatalf("the token has no %s claim: %s", name, payload)
	}
	return v
}

// A real browser.

// browserTestTimeout bounds each browser test, from starting Chromium to
// the last check.
const browserTestTimeout = 60 * time.Second

// chromiumPath returns the Chromium to drive, and skips the test when this
// machine has none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	skipBecause(t, "Chromium not found at /usr/bin/chromium nor on PATH (apt-get install chromium)")
	return ""
}

// startChromium starts a headless Chromium with a fresh profile and returns
// the context of its first tab. The browser stops when the test ends or
// browserTestTimeout passes. Each test has a Chromium and a profile
// directory of its own, so browser tests can run in parallel.
func startChromium(t *testing.T, allowPopups bool, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("no-sandbox", true), // tests and CI run as root
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
	if allowPopups {
		flags = append(flags, chromedp.Flag("disable-popup-blocking", true))
	}
	ctx, cancel := context.WithTimeout(t.Context(), browserTestTimeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, flags...)
	t.Cleanup(cancelAlloc)
	tab, cancelBrowser := chromedp.NewContext(allocCtx, opts...)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tab
}

// testid selects the first element with this data-testid.
func testid(id string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + id + `"]`)
}

// clickLogInForPopup clicks Log In on the page in home and returns the
// popup window it opens.
func clickLogInForPopup(t *testing.T, home context.Context) target.ID {
	t.Helper()
	popups := chromedp.WaitNewTarget(home, func(info *target.Info) bool { return info.Type == "page" })
	inTab(t, home, "click Log In", chromedp.Click(testid("login-button")))
	select {
	case id, ok := <-popups:
		if !ok {
			t.Fatal("could not watch for the login popup")
		}
		return id
	case <-home.Done():
		t.Fatalf("clicking Log In opened no popup window: %v", home.Err())
	}
	return ""
}

// inTab runs actions in the tab of ctx and fails the test, saying what was
// being done, when one of them fails.
func inTab(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// clickClosing clicks sel in popup, a click after which the popup closes
// itself, and waits until it has. The window may close before the browser
// answers the click: that is what the click is for, not an error.
func clickClosing(t *testing.T, popup context.Context, what string, sel chromedp.CSS) {
	t.Helper()
	if err := chromedp.Do(popup, chromedp.Click(sel)); err != nil && !errors.Is(err, chromedp.ErrTargetDetached) {
		t.Fatalf("%s: %v", what, err)
	}
	waitClosed(t, popup, what)
}

// readTab runs one action in the tab of ctx and returns its value.
func readTab[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// countInTab is how many elements with this data-testid the tab shows now.
func countInTab(t *testing.T, ctx context.Context, id string) int {
	t.Helper()
	return readTab(t, ctx, "count "+id, chromedp.Evaluate[int](
		fmt.Sprintf(`document.querySelectorAll('[data-testid=%q]').length`, id)))
}

// markerInTab is window.__marker in the tab, as text: "undefined" once the page
// has been loaded again.
func markerInTab(t *testing.T, ctx context.Context) string {
	t.Helper()
	return readTab(t, ctx, "read window.__marker", chromedp.Evaluate[string](`String(window.__marker)`))
}

// pathInTab is the path of the tab's current address.
func pathInTab(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc := readTab(t, ctx, "read the address", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("parse the address %q: %v", loc, err)
	}
	return u.Path
}

// pageProblems collects what the pages report as errors: uncaught
// exceptions, console.error calls and browser log errors such as Content
// Security Policy violations and failed loads.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

// watch returns the option that makes a tab report its problems here, from
// the moment it is attached.
func (p *pageProblems) watch(tab string) chromedp.ContextOption {
	return chromedp.WithListener(func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problem = "uncaught exception: " + exceptionText(ev.ExceptionDetails)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problem = "console.error: " + consoleText(ev.Args)
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problem = fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if problem == "" {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.list = append(p.list, tab+": "+problem)
	})
}

// allow forgets the failed loads of pages at addresses that start with
// prefix and answered status: error pages a test opens on purpose.
func (p *pageProblems) allow(status int, prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = slices.DeleteFunc(p.list, func(problem string) bool {
		return strings.Contains(problem, fmt.Sprintf("network error: Failed to load resource: the server responded with a status of %d ", status)) &&
			strings.Contains(problem, "("+prefix)
	})
}

// check fails the test for each problem reported so far.
func (p *pageProblems) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, problem := range p.list {
		if strings.Contains(problem, "Content Security Policy") {
			t.Errorf("Content Security Policy violation: %s", problem)
			continue
		}
		t.Errorf("page error: %s", problem)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s at %s:%d:%d", text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}
