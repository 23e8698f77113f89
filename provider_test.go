package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/oidctest"
)

// The end-to-end tests in this file run the real program against a fake
// OpenID provider that misbehaves on demand, and assert what a browser sees.
// Each case names the SECURITY.md item it covers.

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

type outcome int

const (
	accept outcome = iota
	reject
	// acceptOrReject: either is allowed, never a 5xx.
	acceptOrReject
	// refuseProvider: the app must not use the provider at all.
	refuseProvider
)

// providerCase is one way the provider behaves and what the app must do.
type providerCase struct {
	name string
	// id is the SECURITY.md item (or issue section) the case covers.
	id       string
	opts     []oidctest.Option
	env      map[string]string
	behavior oidctest.Behavior
	// setup runs on the provider before the app starts.
	setup func(p *oidctest.Provider)
	want  outcome
	// status is the status a rejection must have; any 4xx when zero.
	status int
	// noUserinfo: the app must refuse before asking for userinfo.
	noUserinfo bool
	// check makes the case's own assertions after the common ones.
	check func(t *testing.T, r *loginRun)
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

func providerCases() []providerCase {
	return []providerCase{
		{
			name: "happy path", id: "rp-response_type-code", want: accept,
			check: func(t *testing.T, r *loginRun) {
				q := r.p.LastAuthorize()
				if got := q.Get("response_type"); got != "code" {
					t.Errorf("response_type = %q, want code", got)
				}
				scopes := strings.Fields(q.Get("scope"))
				for _, s := range []string{"openid", "profile", "email"} {
					if !slices.Contains(scopes, s) {
						t.Errorf("scope %q lacks %s", q.Get("scope"), s)
					}
				}
				if got, want := q.Get("redirect_uri"), r.app.URL+"/callback"; got != want {
					t.Errorf("redirect_uri = %q, want %q", got, want)
				}
				if got := q.Get("code_challenge_method"); got != "S256" {
					t.Errorf("code_challenge_method = %q, want S256", got)
				}
				if q.Get("nonce") == "" || q.Get("state") == "" || q.Get("code_challenge") == "" {
					t.Errorf("authorization request lacks nonce, state or code_challenge: %v", q)
				}
				if got := q.Get("client_id"); got != r.p.ClientID() {
					t.Errorf("client_id = %q, want %q", got, r.p.ClientID())
				}
				if got := r.final.text("user-email"); got != oidctest.DefaultEmail {
					t.Errorf("profile card email = %q", got)
				}
			},
		},
		{
			name: "client_secret_basic", id: "rp-token_endpoint-client_secret_basic", want: accept,
			opts: []oidctest.Option{oidctest.WithTokenAuthMethods("client_secret_basic")},
			check: func(t *testing.T, r *loginRun) {
				form, header := r.p.LastToken()
				id, secret, ok := (&http.Request{Header: header}).BasicAuth()
				if !ok {
					t.Fatalf("token request without HTTP Basic authentication: %v", header)
				}
				id, _ = url.QueryUnescape(id)
				secret, _ = url.QueryUnescape(secret)
				if id != r.p.ClientID() || secret != r.p.ClientSecret() {
					t.Errorf("Basic credentials = %q/%q, want the registered client", id, secret)
				}
				if form.Has("client_secret") {
					t.Error("the client secret was also sent in the token request body")
				}
				if got, want := form.Get("redirect_uri"), r.app.URL+"/callback"; got != want {
					t.Errorf("token request redirect_uri = %q, want %q", got, want)
				}
				if form.Get("code_verifier") == "" {
					t.Error("token request without code_verifier")
				}
			},
		},
		{
			name: "userinfo bearer header", id: "rp-userinfo-bearer-header", want: accept,
			check: func(t *testing.T, r *loginRun) {
				reqs := r.p.Requests(oidctest.EndpointUserinfo)
				if len(reqs) != 1 {
					t.Fatalf("userinfo requests = %d, want 1", len(reqs))
				}
				if got := reqs[0].Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer ") || len(got) <= len("Bearer ") {
					t.Errorf("userinfo Authorization = %q, want a bearer token", got)
				}
				if reqs[0].Query.Has("access_token") || reqs[0].Form.Has("access_token") {
					t.Error("the access token was sent outside the Authorization header")
				}
			},
		},
		{name: "valid RS256", id: "rp-id_token-sig-rs256", want: accept},
		{
			name: "discovered random endpoint paths", id: "rp-discovery-openid-configuration, rp-discovery-jwks_uri-keys", want: accept,
			opts: []oidctest.Option{oidctest.WithPaths()},
			check: func(t *testing.T, r *loginRun) {
				if r.p.JWKSCalls() == 0 {
					t.Error("the JWKS at its discovered path was never fetched")
				}
			},
		},
		{name: "ES256 provider", id: "R18 (alg allowlist: ES256)", want: accept, opts: []oidctest.Option{oidctest.WithAlg("ES256")}},
		{name: "PS256 provider", id: "R18 (alg allowlist: PS256)", want: accept, opts: []oidctest.Option{oidctest.WithAlg("PS256")}},
		{
			name: "bad signature", id: "rp-id_token-bad-sig-rs256", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{Sign: oidctest.SignBadSignature},
		},
		{
			name: "bad ES256 signature", id: "rp-id_token-bad-sig-es256", want: reject, noUserinfo: true,
			opts:     []oidctest.Option{oidctest.WithAlg("ES256")},
			behavior: oidctest.Behavior{Sign: oidctest.SignBadSignature},
		},
		{
			name: "HS256 keyed with the client secret", id: "R18 (alg pin: no HS*)", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{Sign: oidctest.SignHS256},
		},
		{
			name: "alg none", id: "rp-id_token-sig-none", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{Sign: oidctest.SignNone},
		},
		{
			name: "kid absent, single key", id: "rp-id_token-kid-absent-single-jwks", want: accept,
			behavior: oidctest.Behavior{Sign: oidctest.SignNoKid},
		},
		{
			name: "kid absent, several keys", id: "rp-id_token-kid-absent-multiple-jwks", want: acceptOrReject,
			setup:    func(p *oidctest.Provider) { p.RotateKey() },
			behavior: oidctest.Behavior{Sign: oidctest.SignNoKid},
		},
		{
			name: "unknown key", id: "F9 (unknown kid)", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{Sign: oidctest.SignUnknownKey},
		},
		{
			name: "issuer mismatch in ID token", id: "rp-id_token-issuer-mismatch", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("iss", appendOne)},
		},
		{
			name: "aud plus 1", id: "rp-id_token-aud", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("aud", appendOne)},
		},
		{
			name: "aud removed", id: "rp-id_token-aud", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("aud", nil)},
		},
		{
			name: "sub removed", id: "rp-id_token-sub", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("sub", nil)},
		},
		{
			name: "iat removed", id: "rp-id_token-iat", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("iat", nil)},
		},
		{
			name: "exp in the past", id: "R18, F8 (exp)", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("exp", unixIn(-time.Second))},
		},
		{
			name: "iat beyond the clock skew", id: "R18, F8 (iat window)", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("iat", unixIn(auth.ClockSkew+time.Minute))},
		},
		{
			name: "iat 30s ahead", id: "R18, F8 (iat window)", want: accept,
			behavior: oidctest.Behavior{IDToken: changeClaim("iat", unixIn(30*time.Second))},
		},
		{
			name: "nonce plus 1", id: "rp-nonce-invalid", want: reject, noUserinfo: true,
			behavior: oidctest.Behavior{IDToken: changeClaim("nonce", appendOne)},
		},
		{
			name: "userinfo sub mismatch", id: "rp-userinfo-bad-sub-claim", want: reject,
			behavior: oidctest.Behavior{UserinfoSub: oidctest.DefaultSubject + "invalid"},
		},
		{
			name: "userinfo 500", id: "issue 2 §3 (provider answers 500)", want: reject,
			behavior: oidctest.Behavior{UserinfoStatus: http.StatusInternalServerError},
		},
		{
			name: "access denied", id: "R6", want: reject, status: http.StatusForbidden,
			behavior: oidctest.Behavior{AuthorizeError: "access_denied"},
			check:    checkErrorCallbackRetry,
		},
		{
			name: "token endpoint 500", id: "issue 2 §3 (provider answers 500)", want: reject,
			behavior: oidctest.Behavior{TokenStatus: http.StatusInternalServerError},
		},
		{
			name: "token endpoint hangs", id: "issue 2 §3 (provider hangs)", want: reject,
			env:      map[string]string{"PROVIDER_TIMEOUT": "1s"},
			behavior: oidctest.Behavior{TokenHang: true},
		},
		{
			name: "key rotation between logins", id: "rp-key-rotation-op-sign-key", want: accept,
			check: func(t *testing.T, r *loginRun) {
				jwks, oldKid := r.p.JWKSCalls(), r.p.KeyID()
				r.p.RotateKey()
				if r.p.KeyID() == oldKid {
					t.Fatal("RotateKey kept the kid")
				}
				second := login(t, r.app, r.p, "/login")
				assertSignedIn(t, second)
				if r.p.JWKSCalls() <= jwks {
					t.Errorf("JWKS fetches = %d after rotation, want more than %d", r.p.JWKSCalls(), jwks)
				}
			},
		},
		{
			name: "RFC 9207 iss correct", id: "R5", want: accept,
			opts: []oidctest.Option{oidctest.WithIssParameter(true)},
			check: func(t *testing.T, r *loginRun) {
				cb := r.rec.last(t, hostOf(t, r.app.URL), "/callback")
				if got := cb.url.Query().Get("iss"); got != r.p.Issuer() {
					t.Errorf("callback iss = %q, want the issuer", got)
				}
			},
		},
		{
			name: "RFC 9207 iss missing though promised", id: "R5", want: reject,
			opts:     []oidctest.Option{oidctest.WithIssParameter(true)},
			behavior: oidctest.Behavior{IssParam: "-"},
		},
		{
			name: "RFC 9207 iss wrong", id: "R5", want: reject,
			opts:     []oidctest.Option{oidctest.WithIssParameter(true)},
			behavior: oidctest.Behavior{IssParam: "https://evil.example"},
		},
		{
			name: "RFC 9207 iss wrong, not advertised", id: "R5", want: reject,
			behavior: oidctest.Behavior{IssParam: "https://evil.example"},
		},
		{
			name: "discovery issuer mismatch", id: "rp-discovery-issuer-not-matching-config", want: refuseProvider,
			setup: func(p *oidctest.Provider) {
				p.SetBehavior(oidctest.Behavior{DiscoveryIssuer: p.Issuer() + "INVALID"})
			},
		},
	}
}

// checkErrorCallbackRetry: an error callback calls no token endpoint,
// clears the attempt, and a retry starts afresh and succeeds (R6).
func checkErrorCallbackRetry(t *testing.T, r *loginRun) {
	t.Helper()
	if n := r.p.TokenCalls(); n != 0 {
		t.Errorf("token endpoint called %d times after error=access_denied", n)
	}
	first := r.p.LastAuthorize()
	attemptCookie := "latchkey-login-" + first.Get("state")
	cb := r.rec.last(t, hostOf(t, r.app.URL), "/callback")
	cleared := false
	for _, c := range parseSetCookies(t, cb.header) {
		if c.Name == attemptCookie && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("the callback did not clear the attempt cookie %s: %v", attemptCookie, cb.header.Values("Set-Cookie"))
	}
	if c := r.b.cookie(r.app.URL, attemptCookie); c != nil {
		t.Errorf("the browser still holds the attempt cookie %s", attemptCookie)
	}

	r.p.SetBehavior(oidctest.Behavior{})
	retry, ok := r.final.doc.Find(`[data-testid="try-again"]`).Attr("href")
	if !ok {
		t.Fatal("no try-again link")
	}
	again := &loginRun{app: r.app, p: r.p, b: r.b, rec: r.rec, final: r.b.get(r.app.URL + retry)}
	assertSignedIn(t, again)
	second := r.p.LastAuthorize()
	for _, name := range []string{"state", "nonce", "code_challenge"} {
		if first.Get(name) == second.Get(name) {
			t.Errorf("the retry reused the %s", name)
		}
	}
}

func TestProviderLogin(t *testing.T) {
	for _, tc := range providerCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Logf("covers %s", tc.id)
			p := oidctest.New(t, tc.opts...)
			p.SetBehavior(tc.behavior)
			if tc.setup != nil {
				tc.setup(p)
			}
			app := startApp(t, providerEnv(p, tc.env))
			if tc.want == refuseProvider {
				checkProviderRefused(t, app, p)
				return
			}
			app.waitReady(t)
			r := login(t, app, p, "/login")
			switch tc.want {
			case accept:
				assertSignedIn(t, r)
			case reject:
				assertRejected(t, r, tc.status)
			case acceptOrReject:
				if r.final.url.Path == "/dashboard" {
					t.Log("accepted")
					assertSignedIn(t, r)
				} else {
					t.Logf("rejected with %d", r.final.status)
					assertRejected(t, r, 0)
				}
			}
			if tc.noUserinfo && p.UserinfoCalls() != 0 {
				t.Errorf("userinfo was called %d times for a token that must be refused", p.UserinfoCalls())
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
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

// TestProviderState covers R2: the state is bound to the browser and used once.
func TestProviderState(t *testing.T) {
	t.Run("no attempt cookie", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		starter, _ := newRecordingBrowser(t)
		callback := authorizeAnswer(t, startLogin(t, app, starter, "/login"))
		b, rec := newRecordingBrowser(t)
		r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
		assertRejected(t, r, http.StatusBadRequest)
		if n := p.TokenCalls(); n != 0 {
			t.Errorf("token endpoint called %d times", n)
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		b, rec := newRecordingBrowser(t)
		callback := authorizeAnswer(t, startLogin(t, app, b, "/login"))
		other := strings.Repeat("A", 43) // well formed, names no attempt
		for _, state := range []string{other, "tampered", ""} {
			u := withQuery(t, callback, func(q url.Values) { q.Set("state", state) })
			r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(u)}
			assertRejected(t, r, http.StatusBadRequest)
		}
		missing := withQuery(t, callback, func(q url.Values) { q.Del("state") })
		assertRejected(t, &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(missing)}, http.StatusBadRequest)
		if n := p.TokenCalls(); n != 0 {
			t.Errorf("token endpoint called %d times", n)
		}
	})
	t.Run("replayed callback", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		first := login(t, app, p, "/login")
		assertSignedIn(t, first)
		host := hostOf(t, app.URL)
		callback := first.rec.last(t, host, "/callback").url.String()
		attempt := ""
		for _, c := range first.rec.setCookies(t, host) {
			if strings.HasPrefix(c.Name, "latchkey-login-") && c.Value != "" {
				attempt = c.Name + "=" + c.Value
			}
		}

		again := first.b.noFollow().get(callback)
		if again.status != http.StatusBadRequest || !again.has("error") {
			t.Errorf("replayed callback in the same browser = %d, want a 400 error page", again.status)
		}
		if n := p.TokenCalls(); n != 1 {
			t.Errorf("token endpoint called %d times, want 1", n)
		}

		b, rec := newRecordingBrowser(t)
		r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
		assertRejected(t, r, http.StatusBadRequest)
		if n := p.TokenCalls(); n != 1 {
			t.Errorf("token endpoint called %d times, want 1", n)
		}

		// An attacker who kept the attempt cookie as well still gets nowhere.
		if attempt == "" {
			t.Fatal("no attempt cookie was set")
		}
		b, rec = newRecordingBrowser(t)
		name, value, _ := strings.Cut(attempt, "=")
		u, _ := url.Parse(app.URL)
		b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
		r = &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(callback)}
		assertRejected(t, r, http.StatusBadRequest)
	})
}

// TestProviderSessionFixation covers R10: login always makes a new session id.
func TestProviderSessionFixation(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	const planted = "planted-by-an-attacker"
	b, rec := browserWithCookie(t, app, planted)
	r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(app.URL + "/login")}
	assertSignedIn(t, r)
	first := b.cookie(app.URL, "latchkey").Value
	if first == planted {
		t.Fatal("the planted session cookie survived the login")
	}
	assertAnonymous(t, app, holding(t, app, planted))

	// A second login over a live session (the popup flow allows it) must
	// replace the session, not keep its id.
	popup := b.get(app.URL + "/login?popup=1")
	if popup.status != http.StatusOK || !popup.has("popup-done") {
		t.Fatalf("popup login should end on the popup page, got %d at %s:\n%s", popup.status, popup.url, popup.body)
	}
	second := b.cookie(app.URL, "latchkey").Value
	if second == first {
		t.Error("a new login kept the previous session id")
	}
	assertAnonymous(t, app, holding(t, app, first))
	assertSessionValid(t, app, holding(t, app, second))
}

// TestProviderCookies covers R9 and F2: every cookie's attributes and
// size, with tokens and claims far larger than a cookie can hold.
func TestProviderCookies(t *testing.T) {
	t.Parallel()
	bio := strings.Repeat("a very long biography ", 600)
	p := oidctest.New(t, oidctest.WithUser(map[string]any{"bio": bio}))
	p.SetBehavior(oidctest.Behavior{IDToken: func(claims map[string]any) {
		claims["groups"] = strings.Repeat("group-with-a-long-name,", 300)
	}})
	app := startApp(t, providerEnv(p, nil))
	app.waitReady(t)

	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	if len(p.LastIDToken()) < 6000 {
		t.Fatalf("the ID token is only %d bytes; the test needs a large one", len(p.LastIDToken()))
	}
	if !strings.Contains(r.final.text("claims"), "a very long biography") {
		t.Error("the dashboard lacks the large userinfo claim")
	}
	after := r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" {
		t.Fatalf("logout ended at %s", after.url)
	}

	host := hostOf(t, app.URL)
	var session, attempt int
	for _, e := range r.rec.all(host) {
		for _, line := range e.header.Values("Set-Cookie") {
			if len(line) > 4096 {
				t.Errorf("%s %s set a cookie of %d bytes", e.method, e.url.Path, len(line))
			}
		}
	}
	for _, c := range r.rec.setCookies(t, host) {
		if c.Value == "" {
			continue
		}
		if c.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s is not SameSite=Lax: %s", c.Name, c)
		}
		if !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s should be HttpOnly, Path=/ and host-only: %s", c.Name, c)
		}
		switch {
		case c.Name == "latchkey":
			session++
		case strings.HasPrefix(c.Name, "latchkey-login-"):
			attempt++
			if c.MaxAge <= 0 || c.MaxAge > 600 {
				t.Errorf("login attempt cookie Max-Age = %d, want 1..600", c.MaxAge)
			}
		}
	}
	if session == 0 || attempt == 0 {
		t.Errorf("saw %d session and %d login attempt cookies, want both", session, attempt)
	}
}

// TestProviderRedirectURIIgnoresHeaders covers R4 and F7: the redirect URI
// comes from BASE_URL, whatever Host and X-Forwarded-* say. The requests are
// made by hand, with the cookie carried over, since a cookie jar files
// cookies under the Host header.
func TestProviderRedirectURIIgnoresHeaders(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	want := app.URL + "/callback"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(u string, h http.Header, cookies []*http.Cookie) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			if k == "Host" {
				req.Host = vs[0]
				continue
			}
			req.Header[k] = vs
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		return resp
	}
	for _, h := range []http.Header{
		{"Host": {"evil.example"}},
		{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}},
		{"Host": {"evil.example:8443"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"evil.example"}, "Forwarded": {"host=evil.example;proto=https"}},
	} {
		start := send(app.URL+"/login", h, nil)
		authURL, err := url.Parse(start.Header.Get("Location"))
		if err != nil || start.StatusCode != http.StatusSeeOther {
			t.Fatalf("with %v: /login = %d Location %q", h, start.StatusCode, start.Header.Get("Location"))
		}
		if got := authURL.Query().Get("redirect_uri"); got != want {
			t.Errorf("with %v: authorization redirect_uri = %q, want %q", h, got, want)
		}
		callback := send(authorizeAnswer(t, authURL.String()), h, start.Cookies())
		if callback.StatusCode != http.StatusSeeOther || callback.Header.Get("Location") != "/dashboard" {
			t.Errorf("with %v: callback = %d Location %q, want a 303 to /dashboard", h, callback.StatusCode, callback.Header.Get("Location"))
		}
		if form, _ := p.LastToken(); form.Get("redirect_uri") != want {
			t.Errorf("with %v: token redirect_uri = %q, want %q", h, form.Get("redirect_uri"), want)
		}
	}
}

// TestProviderReturnTo covers R8 and F11: only a local path is honoured.
func TestProviderReturnTo(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	vectors := []string{ // as they appear in the query string
		url.QueryEscape("https://evil.example"),
		"//evil.example",
		url.QueryEscape("//evil.example"),
		"/%5Cevil.example",
		"/%255Cevil.example",
		"%5C%5Cevil.example",
		"/%09/evil.example",
		"/%2509/evil.example",
		"/%252F/evil.example",
		"///evil.example",
		url.QueryEscape("javascript:alert(1)"),
		url.QueryEscape("data:text/html,hi"),
		"http:evil.example",
		"%20/evil.example",
		"evil.example",
	}
	for _, v := range vectors {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			r := login(t, app, p, "/login?return_to="+v)
			if got, want := r.final.url.String(), app.URL+"/"; got != want || r.final.status != http.StatusOK {
				t.Errorf("return_to=%s landed on %s (%d), want %s", v, got, r.final.status, want)
			}
			if !r.final.has("profile-card") {
				t.Errorf("return_to=%s: the login did not complete", v)
			}
		})
	}
	t.Run("local path honoured", func(t *testing.T) {
		t.Parallel()
		r := login(t, app, p, "/login?return_to="+url.QueryEscape("/dashboard?x=1"))
		if got, want := r.final.url.String(), app.URL+"/dashboard?x=1"; got != want {
			t.Errorf("landed on %s, want %s", got, want)
		}
		assertSignedIn(t, r)
	})
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

// signIn logs a fresh browser in and returns it on the dashboard.
func signIn(t *testing.T, app *testApp, p *oidctest.Provider) *loginRun {
	t.Helper()
	r := login(t, app, p, "/login")
	assertSignedIn(t, r)
	return r
}

// TestProviderLogoutInvalidatesSession covers R12: a saved cookie is dead after logout.
func TestProviderLogoutInvalidatesSession(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	saved := r.b.cookie(app.URL, "latchkey").Value
	home := r.b.get(app.URL + "/")
	after := r.b.submit(home, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" || !after.has("login-box") {
		t.Fatalf("logout should end on the home page's login box, got %s:\n%s", after.url, after.body)
	}
	assertAnonymous(t, app, r.b)
	replay := holding(t, app, saved)
	assertAnonymous(t, app, replay)
	if home := replay.get(app.URL + "/"); !home.has("login-box") || home.has("profile-card") {
		t.Error("the replayed cookie still shows a profile card")
	}
}

// TestProviderLogout covers R13 and the RP-initiated logout tests.
func TestProviderLogout(t *testing.T) {
	t.Run("cross-site POST", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		csrf := r.final.doc.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
		got := r.b.post(app.URL+"/logout", url.Values{"csrf": {csrf}}, http.Header{
			"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"},
		})
		if got.status != http.StatusForbidden || !got.has("error") {
			t.Errorf("cross-site logout = %d, want a 403 error page:\n%s", got.status, got.body)
		}
		assertSessionValid(t, app, r.b)
		if n := p.EndSessionCalls(); n != 0 {
			t.Errorf("end_session called %d times", n)
		}
	})
	t.Run("POST without csrf", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		got := r.b.post(app.URL+"/logout", url.Values{}, http.Header{
			"Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"},
		})
		if got.status != http.StatusForbidden || !got.has("error") {
			t.Errorf("logout without csrf = %d, want a 403 error page:\n%s", got.status, got.body)
		}
		assertSessionValid(t, app, r.b)
	})
	t.Run("GET changes nothing", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		got := r.b.get(app.URL + "/logout")
		if got.status != http.StatusOK || !got.has("logout-confirm") || !got.has("logout-form") {
			t.Errorf("GET /logout = %d, want a confirmation form:\n%s", got.status, got.body)
		}
		assertSessionValid(t, app, r.b)
		if n := p.EndSessionCalls(); n != 0 {
			t.Errorf("end_session called %d times", n)
		}
	})
	t.Run("rp-init-logout", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil)
		r := signIn(t, app, p)
		idToken := p.LastIDToken()
		after := r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
		q := p.LastEndSession()
		if q == nil {
			t.Fatal("the browser never reached end_session")
		}
		if q.Get("id_token_hint") != idToken {
			t.Error("id_token_hint is not the ID token the provider issued")
		}
		if got, want := q.Get("post_logout_redirect_uri"), app.URL+"/"; got != want {
			t.Errorf("post_logout_redirect_uri = %q, want %q", got, want)
		}
		if got := q.Get("client_id"); got != p.ClientID() {
			t.Errorf("client_id = %q, want %q", got, p.ClientID())
		}
		if q.Get("state") == "" {
			t.Error("no state sent to end_session")
		}
		if after.url.Host != hostOf(t, app.URL) || after.url.Path != "/" || after.text("notice") != "You have been logged out." {
			t.Errorf("back from the provider at %s with notice %q", after.url, after.text("notice"))
		}
		assertAnonymous(t, app, r.b)
		if again := r.b.get(after.url.String()); again.has("notice") {
			t.Error("the logout state was accepted twice")
		}
	})
	for _, tc := range []struct {
		name  string
		state func(string) (string, bool)
	}{
		{"rp-init-logout-other-state", func(s string) (string, bool) { return s + "_INVALID", true }},
		{"rp-init-logout-no-state", func(string) (string, bool) { return "", false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, app := startWithProvider(t, nil)
			r := signIn(t, app, p)
			nf := r.b.noFollow()
			out := nf.submit(r.final, `[data-testid="logout-form"]`, nil)
			endSession := out.header.Get("Location")
			if out.status != http.StatusSeeOther || !strings.HasPrefix(endSession, p.EndSessionEndpoint()) {
				t.Fatalf("logout = %d Location %q, want end_session", out.status, endSession)
			}
			back := nf.get(endSession)
			if back.status != http.StatusFound {
				t.Fatalf("end_session = %d:\n%s", back.status, back.body)
			}
			returned, err := url.Parse(back.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			target := withQuery(t, returned.String(), func(q url.Values) {
				if s, ok := tc.state(q.Get("state")); ok {
					q.Set("state", s)
				} else {
					q.Del("state")
				}
			})
			home := r.b.get(target)
			if home.status != http.StatusOK || home.has("notice") || !home.has("login-box") {
				t.Errorf("coming back with a state that is not ours = %d, notice %q; want the plain home page", home.status, home.text("notice"))
			}
		})
	}
	t.Run("no end_session endpoint", func(t *testing.T) {
		t.Parallel()
		p, app := startWithProvider(t, nil, oidctest.WithoutEndSession())
		r := signIn(t, app, p)
		out := r.b.noFollow().submit(r.final, `[data-testid="logout-form"]`, nil)
		loc, err := url.Parse(out.header.Get("Location"))
		if err != nil || out.status != http.StatusSeeOther || loc.Host != "" || loc.Path != "/" {
			t.Fatalf("logout = %d Location %q, want straight to /", out.status, out.header.Get("Location"))
		}
		home := r.b.get(app.URL + loc.String())
		if !home.has("login-box") {
			t.Errorf("logout should land on the home page's login box:\n%s", home.body)
		}
		assertAnonymous(t, app, r.b)
	})
}

// TestProviderUnauthenticatedHTMX covers F1: htmx never gets a redirect.
func TestProviderUnauthenticatedHTMX(t *testing.T) {
	t.Parallel()
	_, app := startWithProvider(t, nil)
	b, _ := newRecordingBrowser(t)
	nf := b.noFollow()
	partial := nf.getWith(app.URL+"/dashboard", http.Header{"HX-Request": {"true"}})
	if partial.status != http.StatusUnauthorized {
		t.Errorf("htmx /dashboard = %d, want 401", partial.status)
	}
	if got := partial.header.Get("HX-Redirect"); !strings.HasPrefix(got, "/login?return_to=") {
		t.Errorf("HX-Redirect = %q, want /login?return_to=…", got)
	}
	if got := partial.header.Get("Location"); got != "" {
		t.Errorf("htmx answer carries Location %q", got)
	}
	plain := nf.get(app.URL + "/dashboard")
	if plain.status != http.StatusSeeOther || plain.header.Get("Location") != "/login?return_to=%2Fdashboard" {
		t.Errorf("/dashboard = %d Location %q, want 303 to /login?return_to=%%2Fdashboard", plain.status, plain.header.Get("Location"))
	}
}

// TestProviderDownAtStart covers F10: the app starts without its provider
// and logs in once the provider is back, without a restart.
func TestProviderDownAtStart(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	app := startApp(t, providerEnv(p, nil))
	b, _ := newRecordingBrowser(t)

	if health := b.get(app.URL + "/healthz"); health.status != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", health.status)
	}
	waitFor(t, "a discovery attempt", func() bool { return p.DiscoveryCalls() > 0 })
	if ready := b.get(app.URL + "/readyz"); ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", ready.status)
	}
	down := b.get(app.URL + "/login")
	if down.status != http.StatusServiceUnavailable || !down.has("error") {
		t.Errorf("/login = %d, want a 503 error page:\n%s", down.status, down.body)
	}
	if !strings.Contains(down.text("error"), "identity provider") {
		t.Errorf("the 503 page should name the identity provider: %q", down.text("error"))
	}
	assertNoInternals(t, down.body, p)

	p.SetBehavior(oidctest.Behavior{})
	app.waitReady(t)
	assertSignedIn(t, login(t, app, p, "/login"))
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

// TestProviderSecurityHeaders covers R16 and R7's Referrer-Policy.
func TestProviderSecurityHeaders(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	r := signIn(t, app, p)
	host := hostOf(t, app.URL)
	for _, e := range r.rec.all(host) {
		assertHeaders(t, e.method+" "+e.url.Path, e.header)
	}
	cb := r.rec.last(t, host, "/callback")
	if got := cb.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("/callback Referrer-Policy = %q, want no-referrer", got)
	}
	if cb.status != http.StatusSeeOther || cb.header.Get("Location") != "/dashboard" {
		t.Errorf("/callback = %d Location %q, want a 303 to a clean URL", cb.status, cb.header.Get("Location"))
	}

	b, _ := newRecordingBrowser(t)
	home := b.get(app.URL + "/")
	assertHeaders(t, "home page", home.header)
	bad := b.get(app.URL + "/callback?state=" + strings.Repeat("B", 43) + "&code=x")
	if bad.status != http.StatusBadRequest || !bad.has("error") {
		t.Errorf("bad callback = %d, want a 400 error page", bad.status)
	}
	assertHeaders(t, "error page", bad.header)
	if got := bad.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("failed /callback Referrer-Policy = %q, want no-referrer", got)
	}
	missing := b.get(app.URL + "/no-such-page")
	if missing.status != http.StatusNotFound || !missing.has("error") {
		t.Errorf("/no-such-page = %d, want the 404 error page", missing.status)
	}
	assertHeaders(t, "404 page", missing.header)
}

// tokenShape matches the provider's opaque tokens (crypto/rand.Text): its
// refresh token, which no record exposes, has this shape.
var tokenShape = regexp.MustCompile(`[A-Z2-7]{26}`)

// TestProviderTokensStayServerSide covers R17: no token reaches a page or the log.
func TestProviderTokensStayServerSide(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, map[string]string{"LOG_LEVEL": "debug"})
	r := signIn(t, app, p)
	home := r.b.get(app.URL + "/")
	r.b.get(app.URL + "/logout")
	r.b.submit(home, `[data-testid="logout-form"]`, nil)

	idToken := p.LastIDToken()
	reqs := p.Requests(oidctest.EndpointUserinfo)
	if idToken == "" || len(reqs) == 0 {
		t.Fatal("the provider issued no tokens")
	}
	accessToken := strings.TrimPrefix(reqs[0].Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(idToken, ".")
	secrets := map[string]string{"ID token": idToken, "ID token payload": parts[1], "ID token signature": parts[2], "access token": accessToken}

	texts := map[string]string{"log": app.logs.String()}
	for i, e := range r.rec.all(hostOf(t, app.URL)) {
		if strings.HasPrefix(e.header.Get("Content-Type"), "text/html") {
			texts[fmt.Sprintf("page %d (%s %s)", i, e.method, e.url.Path)] = string(e.body)
		}
	}
	for where, text := range texts {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
		if m := tokenShape.FindString(text); m != "" {
			t.Errorf("%s contains %q, shaped like the provider's access or refresh token", where, m)
		}
	}
}
