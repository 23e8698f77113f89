package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey/auth/oidctest"
)

// The tests in this file run the program in front of an app that records
// what it receives (see e2e_proxy_harness_test.go): what the app is told,
// what it never sees, and what latchkey answers for it.

// TestProxyTellsTheAppWhoIsSignedIn: a navigation is sent to sign in and
// comes back to the exact page and query; the app then receives who is
// signed in, with an assertion it can verify, and none of latchkey's
// cookies; logging out ends it.
func TestProxyTellsTheAppWhoIsSignedIn(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{})
	b, rec := newRecordingBrowser(t)

	landed := devSignInAt(t, app, b, "/notes/7?sort=new&q=a%20b", "ada")
	if landed.status != http.StatusOK || landed.url.RequestURI() != "/notes/7?sort=new&q=a%20b" || !strings.HasPrefix(landed.body, "app: GET /notes/7?sort=new&q=a%20b") {
		t.Fatalf("the login should come back to the page it started on, through to the app; got %d at %s:\n%s", landed.status, landed.url, landed.body)
	}
	if first := rec.all(hostOf(t, app.URL))[0]; first.status != http.StatusSeeOther || !strings.HasPrefix(first.header.Get("Location"), "/.latchkey/login?return_to=") {
		t.Errorf("the first answer = %d Location %q, want a redirect to latchkey's login", first.status, first.header.Get("Location"))
	}
	for _, e := range rec.all(hostOf(t, app.URL)) {
		if e.url.Path == "/notes/7" && e.status == http.StatusOK {
			for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"} {
				if e.header.Get(h) != "" {
					t.Errorf("the app's answer carries latchkey's %s", h)
				}
			}
		}
	}

	got := up.last("/notes/7")
	for name, want := range map[string]string{
		"X-Forwarded-User":               "ada",
		"X-Forwarded-Email":              "ada@example.com",
		"X-Forwarded-Preferred-Username": "ada",
		"X-Forwarded-Groups":             "admins,staff",
		"X-Forwarded-Host":               hostOf(t, app.URL),
		"X-Forwarded-Proto":              "http",
	} {
		if v := got.header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("the app received %s %q, want %q", name, v, want)
		}
	}
	if got.host != hostOf(t, app.URL) {
		t.Errorf("the app received Host %q, want the browser's %q", got.host, hostOf(t, app.URL))
	}
	if c := got.header.Get("Cookie"); strings.Contains(c, "latchkey") {
		t.Errorf("the app received latchkey's cookies: %q", c)
	}
	a := verifyAssertion(t, app, got.header.Get("X-Latchkey-Assertion"), up.URL())
	if a.Subject != "ada" || a.Email != "ada@example.com" || a.EmailVerified == nil || !*a.EmailVerified || a.PreferredUsername != "ada" || !slices.Equal(a.Groups, []string{"admins", "staff"}) || a.SID == "" {
		t.Errorf("assertion claims = %+v", a)
	}
	if life := a.Expiry.Time().Sub(a.IssuedAt.Time()); life != 2*time.Minute {
		t.Errorf("assertion lifetime = %v, want 2m", life)
	}

	account := b.getWith(app.URL+"/.latchkey/account", navigation)
	if account.status != http.StatusOK || account.text("welcome") != "Welcome Ada Lovelace" {
		t.Fatalf("the account page = %d:\n%s", account.status, account.body)
	}
	out := navSubmit(t, b, account, `[data-testid="logout-form"]`, nil)
	if out.url.Path != "/.latchkey/" || out.text("notice") != "You have been logged out." || !out.has("login-box") {
		t.Errorf("logout should end on latchkey's home page with its login box, got %s:\n%s", out.url, out.body)
	}
	before := up.count()
	again := b.noFollow().getWith(app.URL+"/notes/7", navigation)
	if again.status != http.StatusSeeOther || up.count() != before {
		t.Errorf("after logout the app's page = %d (the app received %d more requests), want a redirect to sign in", again.status, up.count()-before)
	}
}

// TestProxyNeverPassesForgedIdentity: whatever identity headers a client
// sends, in any spelling, the app receives only latchkey's, signed in or
// not, and never latchkey's own cookies; the app's cookies arrive as they
// were sent.
func TestProxyNeverPassesForgedIdentity(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{"PUBLIC_PATHS": "/public/*"})
	b := newBrowser(t)
	devSignInAt(t, app, b, "/", "grace")
	session := b.cookie(app.URL, "latchkey").Value

	forged := []string{
		"X-Forwarded-User: mallory", "x-forwarded-user: mallory", "X-FORWARDED-USER: mallory",
		"X_Forwarded_User: mallory", "x_forwarded_user: mallory", "X-Forwarded_User: mallory",
		"X-Forwarded-Email: mallory@evil.example", "X_Forwarded_Email: mallory@evil.example",
		"X-Forwarded-Preferred-Username: mallory", "X-Forwarded-Groups: admins", "x_forwarded_groups: admins",
		"X-Latchkey-Assertion: forged.forged.forged", "X_Latchkey_Assertion: forged",
		"X-Forwarded-Access-Token: forged", "X-Auth-Request-User: mallory", "X-Auth-Request-Email: mallory@evil.example",
		"Remote-User: mallory", "Remote-Groups: admins",
		"X-Forwarded-For: 203.0.113.9", "X_Forwarded_For: 203.0.113.9", "Forwarded: for=203.0.113.9",
		"X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https", "X-Forwarded-Port: 443", "X-Forwarded-Prefix: /evil",
	}
	cookies := "Cookie: app_a=1; latchkey=" + session + "; app_b=\"x y\"; latchkey-login-0=stale; __Host-latchkey=other; app_c=3"
	for _, tt := range []struct {
		name   string
		target string
		lines  []string
		user   string // the X-Forwarded-User the app must receive; "" for none
	}{
		{name: "signed in", target: "/private", lines: append(slices.Clone(forged), cookies), user: "grace"},
		{name: "public path, signed in", target: "/public/x", lines: append(slices.Clone(forged), cookies), user: "grace"},
		{name: "public path, anonymous", target: "/public/y", lines: append(slices.Clone(forged), "Cookie: app_a=1; app_b=\"x y\""), user: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawGet(t, app, tt.target, tt.lines...)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d:\n%s", resp.status, resp.body)
			}
			got := up.last(tt.target)
			for name, values := range got.header {
				folded := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				for _, v := range values {
					if strings.Contains(v, "mallory") || strings.Contains(v, "forged") || strings.Contains(v, "evil") || strings.Contains(v, "203.0.113.9") ||
						(folded == "x-forwarded-groups" && tt.user != "grace") {
						t.Errorf("the app received the client's %s: %q", name, v)
					}
				}
				if strings.Contains(name, "_") {
					t.Errorf("the app received %s", name)
				}
			}
			if v := got.header.Values("X-Forwarded-User"); (tt.user == "" && len(v) != 0) || (tt.user != "" && !slices.Equal(v, []string{tt.user})) {
				t.Errorf("X-Forwarded-User = %q, want %q", v, tt.user)
			}
			if v := got.header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
				t.Errorf("X-Forwarded-For = %q, want the client's address alone", v)
			}
			if v := got.header.Get("X-Forwarded-Proto"); v != "http" {
				t.Errorf("X-Forwarded-Proto = %q, want http", v)
			}
			if c := got.header.Values("Cookie"); !slices.Equal(c, []string{`app_a=1; app_b="x y"`}) && !slices.Equal(c, []string{`app_a=1; app_b="x y"; app_c=3`}) {
				t.Errorf("the app received Cookie %q, want its own cookies byte for byte", c)
			}
		})
	}
}

// TestProxyPublicPathsAndPathTricks: public paths reach the app without a
// session, and no spelling of a path lets a request without a session
// reach any other path: it is refused (400) or treated as the path it
// really is (401). The app receives the canonical path.
func TestProxyPublicPathsAndPathTricks(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{"PUBLIC_PATHS": "/static/*,/favicon.ico,/healthz"})

	for _, tt := range []struct {
		target string
		status int
		// reaches is the path the app receives; "" when it must receive
		// nothing.
		reaches string
	}{
		{"/static/app.css", 200, "/static/app.css"},
		{"/static/img/logo.png?v=2", 200, "/static/img/logo.png?v=2"},
		{"/favicon.ico", 200, "/favicon.ico"},
		{"/healthz", 200, "/healthz"},
		{"/static//app.css", 200, "/static/app.css"},
		{"/static/./app.css", 200, "/static/app.css"},
		{"/static/%61pp.css", 200, "/static/app.css"},
		{"/admin", 401, ""},
		{"/static", 401, ""},
		{"/STATIC/app.css", 401, ""},
		{"/healthz/x", 401, ""},
		{"/static/../admin", 401, ""},
		{"/static/x/../../admin", 401, ""},
		{"//admin", 401, ""},
		{"///static/../admin", 401, ""},
		{"/%2e%2e/admin", 401, ""},
		{"/static/%2e%2e/admin", 401, ""},
		{"/static/.%2e/admin", 401, ""},
		{"/static/%2E%2E/admin", 401, ""},
		{"/static/../../../admin", 401, ""},
		{"/static./admin", 401, ""},
		{"/favicon.ico.", 401, ""},
		{"/static/x/..", 200, "/static/"},
		{"/static%2f..%2fadmin", 400, ""},
		{"/static/..%2fadmin", 400, ""},
		{"/static/..%2Fadmin", 400, ""},
		{"/%2fadmin", 400, ""},
		{"/static/..%5cadmin", 400, ""},
		{`/static/..\admin`, 400, ""},
		{"/static/%252e%252e/admin", 400, ""},
		{"/static/..;/admin", 400, ""},
		{"/static/.;/admin", 400, ""},
		{"/static/.../admin", 400, ""},
		{"/static/%c0%ae%c0%ae/admin", 400, ""},
		{"/static/%00/../admin", 400, ""},
		{"/static/%3f/../admin", 400, ""},
		{"/static/%ef%bc%8e%ef%bc%8e/admin", 400, ""},
		{"/static/" + strings.Repeat("a", 9000), 414, ""},
		{"http://" + hostOf(t, app.URL) + "/static/../admin", 401, ""},
	} {
		t.Run(tt.target[:min(len(tt.target), 40)], func(t *testing.T) {
			before := up.count()
			resp := rawGet(t, app, tt.target)
			if resp.status != tt.status {
				t.Errorf("GET %s = %d, want %d:\n%s", tt.target, resp.status, tt.status, resp.body)
			}
			switch {
			case tt.reaches == "" && up.count() != before:
				t.Errorf("GET %s reached the app as %s", tt.target, up.all()[before].uri)
			case tt.reaches != "" && up.last(tt.reaches).uri != tt.reaches:
				t.Errorf("GET %s reached the app as %s, want %s", tt.target, up.last(tt.reaches).uri, tt.reaches)
			}
			if resp.status == http.StatusSeeOther {
				t.Errorf("GET %s without Accept: text/html was redirected", tt.target)
			}
		})
	}

	// latchkey's own routes are found by their canonical path too, and
	// never sent to the app.
	before := up.count()
	if resp := rawGet(t, app, "/static/../.latchkey/healthz"); resp.status != http.StatusOK || resp.body != "ok\n" || up.count() != before {
		t.Errorf("/static/../.latchkey/healthz = %d %q (the app received %d requests), want latchkey's answer", resp.status, resp.body, up.count()-before)
	}
}

// TestProxyAnswersScriptsWithoutRedirects: without a session, htmx,
// fetch, form posts and CORS preflights get 401, never a redirect to the
// provider, which a script could only fail to follow; a navigation is
// sent to sign in. None of them reaches the app.
func TestProxyAnswersScriptsWithoutRedirects(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{})
	host := hostOf(t, app.URL)
	for _, tt := range []struct {
		name       string
		request    string
		status     int
		wantHeader map[string]string
	}{
		{name: "htmx", request: "GET /notes HTTP/1.1\r\nHost: " + host + "\r\nHX-Request: true\r\nHX-Current-URL: " + app.URL + "/board?tab=2\r\nAccept: text/html\r\n",
			status: 401, wantHeader: map[string]string{"HX-Redirect": "/.latchkey/login?return_to=%2Fboard%3Ftab%3D2", "HX-Trigger": `{"latchkey:login-required":{"loginURL":"/.latchkey/login?return_to=%2Fboard%3Ftab%3D2"}}`}},
		{name: "htmx post", request: "POST /notes HTTP/1.1\r\nHost: " + host + "\r\nHX-Request: true\r\nHX-Current-URL: " + app.URL + "/board\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\ntext=hi",
			status: 401, wantHeader: map[string]string{"HX-Redirect": "/.latchkey/login?return_to=%2Fboard"}},
		{name: "fetch", request: "GET /api/notes HTTP/1.1\r\nHost: " + host + "\r\nSec-Fetch-Mode: cors\r\nAccept: */*\r\n",
			status: 401, wantHeader: map[string]string{"WWW-Authenticate": `Latchkey realm="` + host + `", login_url="/.latchkey/login?return_to=%2Fapi%2Fnotes"`}},
		{name: "fetch asking for HTML", request: "GET /notes HTTP/1.1\r\nHost: " + host + "\r\nSec-Fetch-Mode: same-origin\r\nAccept: text/html\r\n", status: 401},
		{name: "API client", request: "GET /api/notes HTTP/1.1\r\nHost: " + host + "\r\nAccept: application/json\r\n", status: 401},
		{name: "form post", request: "POST /notes HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\ntext=hi", status: 401},
		{name: "CORS preflight", request: "OPTIONS /api/notes HTTP/1.1\r\nHost: " + host + "\r\nOrigin: https://other.example\r\nAccess-Control-Request-Method: PUT\r\n", status: 401},
		{name: "navigation", request: "GET /notes?x=1 HTTP/1.1\r\nHost: " + host + "\r\nSec-Fetch-Mode: navigate\r\nAccept: text/html\r\n",
			status: 303, wantHeader: map[string]string{"Location": "/.latchkey/login?return_to=%2Fnotes%3Fx%3D1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.request
			if !strings.Contains(req, "\r\n\r\n") {
				req += "\r\n"
			}
			req = strings.Replace(req, "\r\n", "\r\nConnection: close\r\n", 1)
			before := up.count()
			resp := sendRaw(t, app, req)
			if resp.status != tt.status {
				t.Errorf("status %d, want %d", resp.status, tt.status)
			}
			if tt.status == 401 {
				if loc := resp.header.Get("Location"); loc != "" {
					t.Errorf("a 401 with Location %q", loc)
				}
				if !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), `Latchkey realm="`) {
					t.Errorf("WWW-Authenticate = %q", resp.header.Get("WWW-Authenticate"))
				}
			}
			for k, v := range tt.wantHeader {
				if got := resp.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if up.count() != before {
				t.Errorf("the app received %s", up.all()[before].uri)
			}
		})
	}
}

// TestProxyStreams: a WebSocket and an event stream pass through once
// signed in, each event as it is sent, and are refused before.
func TestProxyStreams(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{})
	b := newBrowser(t)

	wsRequest := func(cookie string) string {
		req := "GET /ws HTTP/1.1\r\nHost: " + hostOf(t, app.URL) + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		if cookie != "" {
			req += "Cookie: latchkey=" + cookie + "\r\n"
		}
		return req + "\r\n"
	}
	before := up.count()
	if resp := sendRaw(t, app, wsRequest("")); resp.status != http.StatusUnauthorized || up.count() != before {
		t.Errorf("a WebSocket without a session = %d (the app received %d requests), want 401", resp.status, up.count()-before)
	}
	if resp := rawGet(t, app, "/sse", "Accept: text/event-stream"); resp.status != http.StatusUnauthorized || up.count() != before {
		t.Errorf("an event stream without a session = %d, want 401", resp.status)
	}

	devSignInAt(t, app, b, "/", "ada")
	cookie := b.cookie(app.URL, "latchkey").Value

	conn, err := net.Dial("tcp", hostOf(t, app.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, wsRequest(cookie))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket upgrade = %v, %v; want 101", resp, err)
	}
	if got := up.last("/ws").header.Get("X-Forwarded-User"); got != "ada" {
		t.Errorf("the upgrade reached the app as %q", got)
	}
	for _, msg := range []string{"hello", "again"} {
		io.WriteString(conn, msg+"\n")
		if line, err := r.ReadString('\n'); err != nil || line != "echo: "+msg+"\n" {
			t.Errorf("over the WebSocket: %q, %v", line, err)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, app.URL+"/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(&http.Cookie{Name: "latchkey", Value: cookie})
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	events := bufio.NewReader(stream.Body)
	if line, err := events.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event = %q, %v", line, err)
	}
	// The second event is sent only once the first has arrived: nothing
	// on the way waited for more of the stream.
	up.next <- struct{}{}
	events.ReadString('\n')
	if line, err := events.ReadString('\n'); err != nil || line != "data: two\n" {
		t.Errorf("second event = %q, %v", line, err)
	}
}

// TestProxyAllowLists: a user the rules do not admit sees a 403 page that
// says who they are signed in as and offers to log out; scripts get a
// plain 403; public paths still pass; an admitted user passes.
func TestProxyAllowLists(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{"ALLOWED_GROUPS": "staff", "PUBLIC_PATHS": "/public"})

	ada := newBrowser(t)
	if landed := devSignInAt(t, app, ada, "/board", "ada"); landed.status != http.StatusOK || !strings.HasPrefix(landed.body, "app: GET /board") {
		t.Errorf("Ada, in staff, should reach the app, got %d:\n%s", landed.status, landed.body)
	}

	alan := newBrowser(t)
	before := up.count()
	page := devSignInAt(t, app, alan, "/board", "alan")
	if page.status != http.StatusForbidden || !page.has("not-allowed") || up.count() != before {
		t.Fatalf("Alan, in no group, should get the 403 page, got %d (the app received %d requests):\n%s", page.status, up.count()-before, page.body)
	}
	if got := page.text("signed-in-as"); !strings.Contains(got, "Alan Turing") || !strings.Contains(got, "alan@example.com") {
		t.Errorf("the 403 page says %q, want who Alan is signed in as", got)
	}
	if got := page.text("not-allowed-reason"); got != "the account is not in a group that is allowed." {
		t.Errorf("the 403 page's reason = %q", got)
	}
	if page.header.Get("Content-Security-Policy") == "" {
		t.Error("the 403 page is latchkey's and carries no CSP")
	}
	fetch := alan.getWith(app.URL+"/api/board", http.Header{"Sec-Fetch-Mode": {"cors"}})
	if fetch.status != http.StatusForbidden || !strings.Contains(fetch.body, "not in a group") || strings.Contains(fetch.body, "<html") {
		t.Errorf("a script of Alan's = %d %q, want a plain 403", fetch.status, fetch.body)
	}
	if public := alan.getWith(app.URL+"/public", navigation); public.status != http.StatusOK || up.last("/public").header.Get("X-Forwarded-User") != "" {
		t.Errorf("a public path for Alan = %d, X-Forwarded-User %q; want it to pass, anonymously", public.status, up.last("/public").header.Get("X-Forwarded-User"))
	}
	out := navSubmit(t, alan, page, `[data-testid="logout-form"]`, nil)
	if out.url.Path != "/.latchkey/" || out.text("notice") != "You have been logged out." {
		t.Errorf("the 403 page's Log out should log Alan out, got %s:\n%s", out.url, out.body)
	}
}

// TestProxyEmailRules: email rules admit only addresses the provider has
// verified.
func TestProxyEmailRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		user    map[string]any
		rules   map[string]string
		allowed bool
		reason  string
	}{
		{name: "a listed domain", user: map[string]any{"email": "ada@example.org"}, rules: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.org"}, allowed: true},
		{name: "a listed address in another case", user: map[string]any{"email": "Ada@Example.ORG"}, rules: map[string]string{"ALLOWED_EMAILS": "ada@example.org"}, allowed: true},
		{name: "an unverified address", user: map[string]any{"email": "ada@example.org", "email_verified": false}, rules: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.org"}, reason: "the provider has not verified the email address."},
		{name: "a subdomain", user: map[string]any{"email": "ada@eu.example.org"}, rules: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.org"}, reason: "the email address is not one of those allowed."},
		{name: "no address", user: map[string]any{"email": nil, "email_verified": nil}, rules: map[string]string{"ALLOWED_EMAILS": "ada@example.org"}, reason: "the provider gave no email address."},
		{name: "groups from the ID token, and a domain", user: map[string]any{"email": "ada@example.org", "roles": []string{"ops"}},
			rules: map[string]string{"ALLOWED_EMAIL_DOMAINS": "example.org", "ALLOWED_GROUPS": "ops", "GROUPS_CLAIM": "roles"}, allowed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t)
			p := oidctest.New(t, oidctest.WithUser(tt.user))
			app := startInFront(t, up.URL(), providerEnv(p, tt.rules))
			b := newBrowser(t)
			page := b.getWith(app.URL+"/board", navigation)
			switch {
			case tt.allowed && (page.status != http.StatusOK || up.last("/board") == nil):
				t.Errorf("want the app, got %d:\n%s", page.status, page.body)
			case !tt.allowed && (page.status != http.StatusForbidden || page.text("not-allowed-reason") != tt.reason):
				t.Errorf("want 403 because %q, got %d %q", tt.reason, page.status, page.text("not-allowed-reason"))
			}
		})
	}
}

// TestProxyRulesApplyOnEveryRequest: the rules are asked on every
// request, not only at login: a session made where anyone may enter is
// refused by an instance with stricter rules, sharing the store.
func TestProxyRulesApplyOnEveryRequest(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	up := startUpstream(t)
	p := oidctest.New(t, oidctest.WithUser(map[string]any{"groups": []string{"staff"}}))
	open := startInFront(t, up.URL(), providerEnv(p, map[string]string{"SESSION_STORE": srv.URL()}))
	strict := startInFront(t, up.URL(), providerEnv(p, map[string]string{"SESSION_STORE": srv.URL(), "ALLOWED_GROUPS": "admins"}))

	b := newBrowser(t)
	if page := b.getWith(open.URL+"/board", navigation); page.status != http.StatusOK {
		t.Fatalf("the open instance = %d:\n%s", page.status, page.body)
	}
	onStrict := holding(t, strict, b.cookie(open.URL, "latchkey").Value)
	if page := onStrict.getWith(strict.URL+"/board", navigation); page.status != http.StatusForbidden || !page.has("not-allowed") {
		t.Errorf("the same session on the strict instance = %d, want 403:\n%s", page.status, page.body)
	}
	if page := onStrict.getWith(strict.URL+"/.latchkey/account", navigation); page.status != http.StatusOK {
		t.Errorf("latchkey's own account page = %d, want 200: it is not the app", page.status)
	}
}

// TestProxyUpstreamDown: when the app does not answer, a navigation gets
// a 502 page in latchkey's look and anything else a plain 502.
func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	app := startInFront(t, "http://127.0.0.1:"+fmt.Sprint(freePort(t)), map[string]string{"PUBLIC_PATHS": "/public"})
	b := newBrowser(t)
	page := devSignInAt(t, app, b, "/board", "ada")
	if page.status != http.StatusBadGateway || !page.has("error") || page.text("error-title") != "The app is not answering" || page.header.Get("Content-Security-Policy") == "" {
		t.Errorf("a navigation to a dead app = %d:\n%s", page.status, page.body)
	}
	assertNoInternals(t, page.body, oidctest.New(t))
	fetch := b.getWith(app.URL+"/api", http.Header{"Sec-Fetch-Mode": {"cors"}})
	if fetch.status != http.StatusBadGateway || strings.Contains(fetch.body, "<html") || strings.Contains(fetch.body, "refused") {
		t.Errorf("a script's request to a dead app = %d %q, want a plain 502", fetch.status, fetch.body)
	}
	if public := newBrowser(t).getWith(app.URL+"/public", navigation); public.status != http.StatusBadGateway || !public.has("error") {
		t.Errorf("a public page of a dead app = %d", public.status)
	}
}

// TestProxyRefusesOtherHosts: a request for another host than BASE_URL's
// is not sent to the app.
func TestProxyRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{"PUBLIC_PATHS": "/public"})
	for _, host := range []string{"evil.example", "127.0.0.1:" + strings.Split(hostOf(t, app.URL), ":")[1], "localhost.:" + strings.Split(hostOf(t, app.URL), ":")[1]} {
		resp := sendRaw(t, app, "GET /public?x=1 HTTP/1.1\r\nHost: "+host+"\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n")
		if resp.status != http.StatusMisdirectedRequest || !strings.Contains(resp.body, app.URL+"/public?x=1") {
			t.Errorf("Host %s = %d, want 421 with a link to BASE_URL:\n%s", host, resp.status, resp.body)
		}
	}
	if up.count() != 0 {
		t.Errorf("the app received %d requests for other hosts", up.count())
	}
	if resp := rawGet(t, app, "/public"); resp.status != http.StatusOK {
		t.Errorf("BASE_URL's host = %d", resp.status)
	}
}

// TestProxyPassesTheAccessToken: with PASS_ACCESS_TOKEN, the app receives
// the user's access token, refreshed once when it has expired however many
// requests wait for it, and never the client's own Authorization.
func TestProxyPassesTheAccessToken(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	p := oidctest.New(t)
	app := startInFront(t, up.URL(), providerEnv(p, map[string]string{"PASS_ACCESS_TOKEN": "true"}))
	b := newBrowser(t)
	if page := b.getWith(app.URL+"/board", http.Header{"Accept": {"text/html"}, "Authorization": {"Bearer forged"}}); page.status != http.StatusOK {
		t.Fatalf("the app = %d:\n%s", page.status, page.body)
	}
	first := up.last("/board").header.Values("Authorization")
	if len(first) != 1 || !strings.HasPrefix(first[0], "Bearer ") || first[0] == "Bearer forged" {
		t.Fatalf("the app received Authorization %q, want the user's access token", first)
	}
	if info := p.Requests(oidctest.EndpointUserinfo); len(info) == 0 || info[len(info)-1].Header.Get("Authorization") != first[0] {
		t.Errorf("the token sent is not the one the provider issued")
	}

	// A login whose access token has already expired: the first requests
	// after it wait for one refresh, and all send the new token.
	p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	expired := newBrowser(t)
	login := expired.noFollow().getWith(app.URL+"/.latchkey/login", nil)
	callback := authorizeAnswer(t, login.header.Get("Location"))
	if landed := expired.noFollow().get(callback); landed.status != http.StatusSeeOther {
		t.Fatalf("callback = %d:\n%s", landed.status, landed.body)
	}
	p.SetBehavior(oidctest.Behavior{})
	grants := len(refreshGrants(p))
	cookie := expired.cookie(app.URL, "latchkey").Value
	const requests = 5
	statuses := make(chan int, requests)
	for i := range requests {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/burst/%d", app.URL, i), nil)
			req.AddCookie(&http.Cookie{Name: "latchkey", Value: cookie})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range requests {
		if status := <-statuses; status != http.StatusOK {
			t.Errorf("a request after the token expired = %d", status)
		}
	}
	if n := len(refreshGrants(p)) - grants; n != 1 {
		t.Errorf("%d requests refreshed the token %d times, want once", requests, n)
	}
	var tokens []string
	for i := range requests {
		tokens = append(tokens, up.last(fmt.Sprintf("/burst/%d", i)).header.Get("Authorization"))
	}
	if len(slices.Compact(slices.Clone(tokens))) != 1 || tokens[0] == first[0] || tokens[0] == "" {
		t.Errorf("the requests sent the tokens %q, want one new token", tokens)
	}
}

// TestProxyRenamedHeaders: IDENTITY_HEADERS renames the headers or turns
// them off, and the default names are still stripped.
func TestProxyRenamedHeaders(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	app := startInFront(t, up.URL(), map[string]string{"IDENTITY_HEADERS": "user=Remote-User,assertion=none,groups=none"})
	b := newBrowser(t)
	devSignInAt(t, app, b, "/", "ada")
	rawGet(t, app, "/renamed", "Cookie: latchkey="+b.cookie(app.URL, "latchkey").Value, "X-Forwarded-User: mallory", "X-Latchkey-Assertion: forged", "X-Forwarded-Groups: admins")
	got := up.last("/renamed")
	if v := got.header.Values("Remote-User"); !slices.Equal(v, []string{"ada"}) {
		t.Errorf("Remote-User = %q, want ada", v)
	}
	for _, name := range []string{"X-Forwarded-User", "X-Latchkey-Assertion", "X-Forwarded-Groups"} {
		if v := got.header.Values(name); len(v) != 0 {
			t.Errorf("the app received %s %q", name, v)
		}
	}
	if v := got.header.Get("X-Forwarded-Email"); v != "ada@example.com" {
		t.Errorf("X-Forwarded-Email = %q", v)
	}
}
