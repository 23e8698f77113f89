package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey/auth/oidctest"
)

// This file holds the harness of the end-to-end tests: the real program
// against a fake OpenID provider that misbehaves on demand, driven by a
// browser that keeps cookies and records every exchange. The SECURITY.md
// cases run in TestConformance (conformance_test.go); the tests here cover
// what SECURITY.md has no id for.

const testSessionSecret = "provider-test-session-secret-0123456789abcdef"

// providerEnv is the whole environment of an app signing in through p.
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

// noFollow returns the same browser (cookies, recorder) that stops at
// redirects instead of following them.
func (b *browser) noFollow() *browser {
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, client: &c}
}

// getWith fetches u with extra request headers.
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

// browserWithCookie is a fresh browser holding only the session cookie value.
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

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check
	}
}

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

// assertRejected checks SECURITY.md's "reject": the callback answers a 4xx
// page in the app's look with a way to try again, sets no session cookie,
// leaks nothing, and the browser stays anonymous.
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

func changeClaim(name string, change func(v any) any) func(map[string]any) {
	return func(claims map[string]any) {
		if change == nil {
			delete(claims, name)
			return
		}
		claims[name] = change(claims[name])
	}
}

func appendOne(v any) any { s, _ := v.(string); return s + "1" }

func unixIn(d time.Duration) func(any) any {
	return func(any) any { return time.Now().Add(d).Unix() }
}

// checkProviderRefused: a provider whose discovery does not fit the
// configuration is never used: not ready, and /login answers 503.
func checkProviderRefused(t *testing.T, app *testApp, p *oidctest.Provider) {
	t.Helper()
	waitFor(t, "a failed discovery", func() bool { return strings.Contains(app.logs.String(), "discovery failed") })
	b, _ := newRecordingBrowser(t)
	if ready := b.get(app.URL + "/readyz"); ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", ready.status)
	}
	page := b.get(app.URL + "/login")
	if page.status != http.StatusServiceUnavailable || !page.has("error") {
		t.Errorf("/login should answer a 503 error page, got %d at %s:\n%s", page.status, page.url, page.body)
	}
	if n := p.AuthorizeCalls(); n != 0 {
		t.Errorf("the browser was sent to the provider %d times", n)
	}
	assertAnonymous(t, app, b)
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

// TestProviderTwoTabs: two logins started together both finish, in either order.
func TestProviderTwoTabs(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		b, rec := newRecordingBrowser(t)
		tabs := [2]string{startLogin(t, app, b, "/login"), startLogin(t, app, b, "/login")}
		for _, i := range order {
			r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(tabs[i])}
			assertSignedIn(t, r)
		}
	}
}

// TestProviderFailures: a provider that fails or hangs costs a login, shown
// as the app's own 4xx page, never a 5xx or the provider's words (issue 2 §3).
func TestProviderFailures(t *testing.T) {
	tests := []struct {
		name string
		lc   loginCase
	}{
		{"userinfo 500", loginCase{want: reject, behavior: oidctest.Behavior{UserinfoStatus: http.StatusInternalServerError}}},
		{"token endpoint 500", loginCase{want: reject, behavior: oidctest.Behavior{TokenStatus: http.StatusInternalServerError}}},
		{"token endpoint hangs", loginCase{
			want: reject, env: map[string]string{"PROVIDER_TIMEOUT": "1s"},
			behavior: oidctest.Behavior{TokenHang: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.lc.run(t)
		})
	}
}

// signIn logs a fresh browser in and returns it on the dashboard.
func signIn(t *testing.T, app *testApp, p *oidctest.Provider) *loginRun {
	t.Helper()
	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	return r
}

// assertHeaders checks the headers SECURITY.md R16 asks of every response.
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
