package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"latchkey/auth/oidctest"
)

// The tests in this file check that sessions are kept on the server and
// really end, in every store, across restarts and instances; the sessions
// panel; and refreshing without a refresh token. The checks of
// docs/security.md on refresh and back-channel logout run in
// TestConformance.

// TestSessionReplayAfterLogout covers R12 in every store: a cookie saved
// before logout and replayed from another browser is anonymous.
func TestSessionReplayAfterLogout(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"embedded", func(t *testing.T) map[string]string { return map[string]string{"DATA_DIR": t.TempDir()} }},
		{"memory", func(*testing.T) map[string]string { return map[string]string{"SESSION_STORE": "memory"} }},
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"SESSION_STORE": startRedis(t).URL()}
		}},
	}
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			env := store.env(t)
			p, app := startWithProvider(t, env)
			r := signIn(t, app, p)
			saved := r.b.cookie(app.URL, "latchkey").Value
			if dir := env["DATA_DIR"]; dir != "" {
				if _, err := os.Stat(filepath.Join(dir, "sessions.db")); err != nil {
					t.Errorf("the embedded store's file is not in DATA_DIR: %v", err)
				}
			}

			after := r.b.submit(r.final, `[data-testid="logout-form"]`, nil)
			if after.url.Path != "/" || !after.has("login-box") {
				t.Fatalf("logout should end on the home page's login box, got %s:\n%s", after.url, after.body)
			}
			replay := holding(t, app, saved)
			assertAnonymous(t, app, replay)
			fragment := replay.getWith(app.URL+"/", http.Header{"HX-Request": {"true"}})
			if fragment.has("profile-card") || fragment.doc.Find(`[data-signed-in="true"]`).Length() > 0 {
				t.Errorf("the replayed cookie still signs in the auth box:\n%s", fragment.body)
			}
		})
	}
}

// TestEmbeddedStoreSurvivesRestart: with the default store, a session
// outlives the process, and a logged-out one stays dead.
func TestEmbeddedStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	dataDir := t.TempDir()
	env := func() map[string]string { return providerEnv(p, map[string]string{"DATA_DIR": dataDir}) }

	first := startApp(t, env())
	first.waitReady(t)
	kept := signIn(t, first, p)
	cookie := kept.b.cookie(first.URL, "latchkey").Value
	ended := signIn(t, first, p)
	endedCookie := ended.b.cookie(first.URL, "latchkey").Value
	ended.b.submit(ended.final, `[data-testid="logout-form"]`, nil)
	first.Stop()

	second := startApp(t, env())
	second.waitReady(t)
	dash := holding(t, second, cookie).get(second.URL + "/dashboard")
	if dash.status != http.StatusOK || dash.url.Path != "/dashboard" || dash.text("welcome") != "Welcome "+oidctest.DefaultName {
		t.Errorf("after a restart the old cookie should show the dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	assertAnonymous(t, second, holding(t, second, endedCookie))
}

// TestTwoInstancesShareRedis covers F3 and F4: two instances on one Redis
// serve one site; a session begun on A is used and ended on B, at once.
func TestTwoInstancesShareRedis(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	p := oidctest.New(t)
	extra := map[string]string{"SESSION_STORE": srv.URL()}
	a := startApp(t, providerEnv(p, extra))
	b := startApp(t, providerEnv(p, extra))
	a.waitReady(t)
	b.waitReady(t)

	r := signIn(t, a, p)
	cookie := r.b.cookie(a.URL, "latchkey").Value
	onB := holding(t, b, cookie)
	dash := onB.get(b.URL + "/dashboard")
	if dash.status != http.StatusOK || dash.url.String() != b.URL+"/dashboard" || dash.text("welcome") != "Welcome "+oidctest.DefaultName {
		t.Fatalf("a session begun on A should open B's dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	out := onB.submit(dash, `[data-testid="logout-form"]`, nil)
	if out.url.Host != hostOf(t, b.URL) || out.url.Path != "/" || out.text("notice") != "You have been logged out." {
		t.Errorf("logout on B should come back to B's home page, got %s, notice %q", out.url, out.text("notice"))
	}
	assertEndedOn(t, a, holding(t, a, cookie))

	// The provider's logout token may reach any instance.
	viaA := signIn(t, a, p)
	sid := claimOf(t, p.LastIDToken(), "sid")
	other := signIn(t, a, p)
	if status, _ := postLogoutToken(t, b, signLogoutToken(t, p, logoutClaims(p, sid), oidctest.SignValid, "logout+jwt")); status != http.StatusOK {
		t.Fatalf("back-channel logout on B = %d, want 200\nlogs:\n%s", status, b.logs)
	}
	assertEndedOn(t, a, viaA.b)
	assertSessionValid(t, a, other.b)
}

// TestSessionsPanelAcrossInstances: each instance remembers the sessions
// panel's list, and still shows at once a sign-in on another instance and
// an ending there.
func TestSessionsPanelAcrossInstances(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	env := func() map[string]string {
		return map[string]string{"SESSION_STORE": srv.URL(), "SESSION_SECRET": testSessionSecret}
	}
	a, b := startApp(t, env()), startApp(t, env())
	a.waitReady(t)
	b.waitReady(t)
	phone, laptop := browserAs(t, safariOnIPhone), browserAs(t, firefoxOnLinux)
	devSignIn(t, a, phone, "ada")
	if devices, _ := panelSessions(phone.get(a.URL + "/dashboard")); !slices.Equal(devices, []string{"Safari on iOS"}) {
		t.Fatalf("A's panel lists %q, want the phone alone", devices)
	}
	dash := devSignIn(t, b, laptop, "ada")
	panelOn(t, a, phone, []string{"Firefox on Linux", "Safari on iOS"}, "after the laptop signed in on B")

	panel := htmxSubmit(t, b, laptop, dash, `[data-testid="end-session"]`, "")
	if devices, _ := panelSessions(panel); !slices.Equal(devices, []string{"Firefox on Linux"}) {
		t.Fatalf("after ending the phone's session B's panel lists %q", devices)
	}
	assertEndedOn(t, a, phone)
	panelOn(t, a, holding(t, a, laptop.cookie(b.URL, "latchkey").Value), []string{"Firefox on Linux"}, "after the phone's session ended on B")
}

// panelOn waits until br's sessions panel on app lists want; the instances
// hear of each other's changes through Redis, within milliseconds.
func panelOn(t *testing.T, app *testApp, br *browser, want []string, after string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		devices, _ := panelSessions(br.get(app.URL + "/dashboard"))
		if slices.Equal(devices, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s the panel lists %q, want %q", after, devices, want)
		}
		time.Sleep(pollInterval)
	}
}

// TestRedisOutage: with Redis down, a signed-in request gets the app's
// 503 page, never a 500; once Redis is back, the same process serves again.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	p, app := startWithProvider(t, map[string]string{"SESSION_STORE": srv.URL()})
	r := signIn(t, app, p)
	nf := r.b.noFollow()

	srv.Stop()
	// The instance serves the pages it remembers until its subscription to
	// Redis reports the loss, within milliseconds; never an error of its own.
	var down *page
	waitFor(t, "the app to take Redis as down", func() bool {
		down = nf.get(app.URL + "/dashboard")
		if down.status != http.StatusOK && down.status != http.StatusServiceUnavailable {
			t.Fatalf("/dashboard as Redis went down = %d, want the dashboard or the 503 error page:\n%s", down.status, down.body)
		}
		return down.status == http.StatusServiceUnavailable
	})
	if !down.has("error") {
		t.Fatalf("/dashboard with Redis down = %d, want the 503 error page:\n%s", down.status, down.body)
	}
	if got := down.text("error-title"); got != "Sessions unavailable" {
		t.Errorf("503 page title = %q", got)
	}
	assertNoInternals(t, down.body, p)
	for _, word := range []string{"redis", "Redis", "127.0.0.1", "dial tcp"} {
		if strings.Contains(down.body, word) {
			t.Errorf("the 503 page mentions %q", word)
		}
	}
	partial := nf.getWith(app.URL+"/", http.Header{"HX-Request": {"true"}})
	if partial.status != http.StatusServiceUnavailable || !partial.has("error") || partial.has("auth-box") {
		t.Errorf("htmx / with Redis down = %d, want the 503 error card alone:\n%s", partial.status, partial.body)
	}
	if health := newBrowser(t).get(app.URL + "/healthz"); health.status != http.StatusOK {
		t.Errorf("/healthz with Redis down = %d, want 200: the process is up", health.status)
	}
	if home := newBrowser(t).get(app.URL + "/"); home.status != http.StatusOK || !home.has("login-box") {
		t.Errorf("a visitor's home page with Redis down = %d, want 200", home.status)
	}

	srv.Restart()
	var back *page
	waitFor(t, "the app to reach Redis again", func() bool {
		back = nf.get(app.URL + "/dashboard")
		if back.status == http.StatusInternalServerError {
			t.Fatalf("/dashboard answered 500 while Redis came back:\n%s", back.body)
		}
		return back.status != http.StatusServiceUnavailable
	})
	// The new Redis is empty: the session is gone, and logging in works.
	if back.status != http.StatusSeeOther || !strings.HasPrefix(back.header.Get("Location"), "/login?") {
		t.Errorf("/dashboard after the outage = %d Location %q, want a redirect to log in", back.status, back.header.Get("Location"))
	}
	again := &loginRun{app: app, p: p, b: r.b, rec: r.rec, final: r.b.get(app.URL + "/login")}
	assertSignedIn(t, again)
}

// TestOfflineAccessRequested: the app asks for offline_access, and so for
// a refresh token, only when the provider advertises it. Refreshing itself
// is in TestConformance.
func TestOfflineAccessRequested(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		advertised bool
	}{{"offline_access advertised", true}, {"offline_access not advertised", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, app := startWithProvider(t, nil, oidctest.WithOfflineAccess(tc.advertised))
			signIn(t, app, p)
			scope := strings.Fields(p.LastAuthorize().Get("scope"))
			if got := slices.Contains(scope, "offline_access"); got != tc.advertised {
				t.Errorf("authorize scope %q: offline_access requested = %v, want %v", scope, got, tc.advertised)
			}
			if !slices.Contains(scope, "openid") {
				t.Errorf("authorize scope %q lacks openid", scope)
			}
		})
	}
}

// Browsers the sessions panel must tell apart.
const (
	firefoxOnLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	safariOnIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	chromeOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

// userAgent sends every request with one User-Agent header.
type userAgent struct {
	name string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", u.name)
	return u.next.RoundTrip(req)
}

// browserAs is a fresh browser that calls itself ua.
func browserAs(t *testing.T, ua string) *browser {
	t.Helper()
	b, _ := newRecordingBrowser(t)
	b.client.Transport = userAgent{name: ua, next: b.client.Transport}
	return b
}

// devSignIn signs b in as user at the development provider and returns
// the dashboard.
func devSignIn(t *testing.T, app *testApp, b *browser, user string) *page {
	t.Helper()
	signInPage := b.get(app.URL + "/login")
	if !signInPage.has("dev-signin") {
		t.Fatalf("login should reach the development sign-in page, got %d at %s:\n%s", signInPage.status, signInPage.url, signInPage.body)
	}
	dash := b.submit(signInPage, "form", url.Values{"user": {user}})
	if dash.status != http.StatusOK || dash.url.Path != "/dashboard" {
		t.Fatalf("sign-in as %s should land on the dashboard, got %d at %s:\n%s", user, dash.status, dash.url, dash.body)
	}
	return dash
}

// panelSessions lists the sessions a sessions panel shows: device name,
// and whether it is this device.
func panelSessions(p *page) (devices []string, current int) {
	p.doc.Find(`[data-testid="sessions-panel"] [data-testid="session"]`).Each(func(_ int, s *goquery.Selection) {
		devices = append(devices, strings.TrimSpace(s.Find(`[data-testid="session-device"]`).Text()))
		if s.Find(`[data-testid="this-device"]`).Length() > 0 {
			current++
		}
	})
	slices.Sort(devices)
	return devices, current
}

// htmxSubmit posts the form around the button found by selector, with
// csrf replacing its token when not empty, as htmx does.
func htmxSubmit(t *testing.T, app *testApp, b *browser, p *page, selector, csrf string) *page {
	t.Helper()
	form := p.doc.Find(selector).First().Closest("form")
	if form.Length() == 0 {
		t.Fatalf("no form around %q:\n%s", selector, p.body)
	}
	target := form.AttrOr("hx-post", "")
	if target == "" || target != form.AttrOr("action", "") {
		t.Fatalf("form hx-post %q and action %q should name the same URL", target, form.AttrOr("action", ""))
	}
	if csrf == "" {
		csrf = form.Find(`input[name="csrf"]`).AttrOr("value", "")
	}
	return b.noFollow().post(app.URL+target, url.Values{"csrf": {csrf}}, http.Header{
		"HX-Request": {"true"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"},
	})
}

// TestSessionsPanel: the dashboard lists the user's sessions, and each can
// be ended from there.
func TestSessionsPanel(t *testing.T) {
	t.Parallel()
	t.Run("two devices, end the other", func(t *testing.T) {
		t.Parallel()
		app := startApp(t, map[string]string{})
		app.waitReady(t)
		laptop, phone := browserAs(t, firefoxOnLinux), browserAs(t, safariOnIPhone)
		devSignIn(t, app, phone, "ada")
		dash := devSignIn(t, app, laptop, "ada")

		devices, current := panelSessions(dash)
		if want := []string{"Firefox on Linux", "Safari on iOS"}; !slices.Equal(devices, want) || current != 1 {
			t.Fatalf("sessions panel lists %q with %d marked this device, want %q and 1", devices, current, want)
		}
		this := dash.doc.Find(`[data-testid="session"]:has([data-testid="this-device"]) [data-testid="session-device"]`).Text()
		if strings.TrimSpace(this) != "Firefox on Linux" {
			t.Errorf("this device = %q, want Firefox on Linux", this)
		}
		if n := dash.doc.Find(`[data-testid="session"]:has([data-testid="this-device"]) [data-testid="end-session"]`).Length(); n != 0 {
			t.Error("this device has a sign-out button of its own in the panel")
		}

		bad := htmxSubmit(t, app, laptop, dash, `[data-testid="end-session"]`, "not-the-csrf-token")
		if bad.status != http.StatusForbidden || !bad.has("error") {
			t.Errorf("ending a session with a wrong csrf = %d, want a 403 error:\n%s", bad.status, bad.body)
		}
		assertSessionValid(t, app, phone)

		panel := htmxSubmit(t, app, laptop, dash, `[data-testid="end-session"]`, "")
		if panel.status != http.StatusOK || !panel.has("sessions-panel") || panel.has("auth-box") {
			t.Fatalf("ending a session = %d, want the sessions panel alone:\n%s", panel.status, panel.body)
		}
		if devices, current := panelSessions(panel); !slices.Equal(devices, []string{"Firefox on Linux"}) || current != 1 {
			t.Errorf("after ending the phone's session the panel lists %q (%d current)", devices, current)
		}
		assertAnonymous(t, app, phone)
		assertSessionValid(t, app, laptop)
	})

	t.Run("sign out everywhere else", func(t *testing.T) {
		t.Parallel()
		app := startApp(t, map[string]string{})
		app.waitReady(t)
		phone, desktop, laptop := browserAs(t, safariOnIPhone), browserAs(t, chromeOnWindows), browserAs(t, firefoxOnLinux)
		devSignIn(t, app, phone, "ada")
		devSignIn(t, app, desktop, "ada")
		grace := browserAs(t, safariOnIPhone)
		devSignIn(t, app, grace, "grace")
		dash := devSignIn(t, app, laptop, "ada")
		if devices, _ := panelSessions(dash); len(devices) != 3 {
			t.Fatalf("the panel lists %q, want ada's three sessions", devices)
		}

		panel := htmxSubmit(t, app, laptop, dash, `[data-testid="end-other-sessions"]`, "")
		if panel.status != http.StatusOK || !panel.has("sessions-panel") {
			t.Fatalf("sign out everywhere else = %d:\n%s", panel.status, panel.body)
		}
		if devices, current := panelSessions(panel); !slices.Equal(devices, []string{"Firefox on Linux"}) || current != 1 {
			t.Errorf("after signing out everywhere else the panel lists %q (%d current)", devices, current)
		}
		if panel.has("end-other-sessions") {
			t.Error("the panel still offers to sign out everywhere else with one session left")
		}
		assertAnonymous(t, app, phone)
		assertAnonymous(t, app, desktop)
		assertSessionValid(t, app, laptop)
		assertSessionValid(t, app, grace)
	})

	t.Run("another user's session", func(t *testing.T) {
		t.Parallel()
		app := startApp(t, map[string]string{})
		app.waitReady(t)
		alanPhone, alanLaptop := browserAs(t, safariOnIPhone), browserAs(t, firefoxOnLinux)
		devSignIn(t, app, alanPhone, "alan")
		alanDash := devSignIn(t, app, alanLaptop, "alan")
		// Alan's laptop sees the key of his phone's session in its panel.
		action := alanDash.doc.Find(`[data-testid="end-session"]`).Closest("form").AttrOr("hx-post", "")
		if !strings.HasPrefix(action, "/sessions/") {
			t.Fatalf("no end-session form on alan's dashboard:\n%s", alanDash.body)
		}

		ada := browserAs(t, chromeOnWindows)
		adaDash := devSignIn(t, app, ada, "ada")
		got := ada.noFollow().post(app.URL+action, url.Values{"csrf": {csrfOf(adaDash)}}, http.Header{
			"HX-Request": {"true"}, "Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"},
		})
		if got.status >= 500 {
			t.Errorf("ending another user's session = %d", got.status)
		}
		if devices, _ := panelSessions(got); len(devices) > 1 {
			t.Errorf("ada's panel lists %q, want only her own session", devices)
		}
		assertSessionValid(t, app, alanPhone)
		assertSessionValid(t, app, alanLaptop)
		assertSessionValid(t, app, ada)
	})
}

// TestIdleTimeoutLongerThanMaxAge: an idle timeout that can never happen
// is a configuration error, exit status 2, naming SESSION_IDLE_TIMEOUT.
// The timeouts themselves are tested with a fake clock in auth.
func TestIdleTimeoutLongerThanMaxAge(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The child mode of TestMainExitStatusForBadConfiguration runs main.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainExitStatusForBadConfiguration$")
	cmd.Env = []string{exitStatusChild + "=1", "PORT=0", "DATA_DIR=" + t.TempDir(),
		"SESSION_IDLE_TIMEOUT=2h", "SESSION_MAX_AGE=1h"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "SESSION_IDLE_TIMEOUT: 2h0m0s is longer than SESSION_MAX_AGE") {
		t.Errorf("stderr should name SESSION_IDLE_TIMEOUT and SESSION_MAX_AGE:\n%s", stderr.String())
	}
}

// TestDevProviderBackChannelLogout: logging out ends the development
// provider's session, whose logout token comes back through the back
// channel and ends only the sessions of that provider session.
func TestDevProviderBackChannelLogout(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	first, second := browserAs(t, firefoxOnLinux), browserAs(t, safariOnIPhone)
	dash := devSignIn(t, app, first, "ada")
	devSignIn(t, app, second, "ada")

	var hops []string
	first.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Path)
		return nil
	}
	after := first.submit(dash, `[data-testid="logout-form"]`, nil)
	if !slices.Contains(hops, "/dev-idp/end_session") {
		t.Errorf("logout went through %q, want the development provider's end_session", hops)
	}
	if after.url.Host != hostOf(t, app.URL) || after.url.Path != "/" || after.text("notice") != "You have been logged out." {
		t.Errorf("logout ended at %s with notice %q", after.url, after.text("notice"))
	}
	assertAnonymous(t, app, first)
	assertSessionValid(t, app, second)

	logs := app.logs.String()
	if !strings.Contains(logs, "back-channel logout delivered") {
		t.Errorf("the development provider did not deliver a logout token:\n%s", logs)
	}
	found := false
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `msg="back-channel logout"`) && strings.Contains(line, " sessions=") {
			found = true
		}
	}
	if !found {
		t.Errorf("no back-channel logout line with sessions= in the log:\n%s", logs)
	}
}

// TestRefreshWithoutRefreshToken: a provider that gave no refresh token
// cannot refresh, but that does not end the app's own session.
func TestRefreshWithoutRefreshToken(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil, oidctest.WithOfflineAccess(false))
	p.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
	r := signIn(t, app, p)
	status, header, body := refreshProfile(t, app, r.b, r.final)
	if status != http.StatusUnauthorized || header.Get("HX-Redirect") != "" {
		t.Fatalf("refresh without a refresh token = %d, HX-Redirect %q; want 401 in place", status, header.Get("HX-Redirect"))
	}
	if !strings.Contains(body, "Log in again to refresh") || !strings.Contains(body, `href="/login?return_to=%2Fdashboard"`) {
		t.Errorf("the answer should offer a new login:\n%s", body)
	}
	if n := len(refreshGrants(p)); n != 0 {
		t.Errorf("%d refresh grants without a refresh token", n)
	}
	assertSessionValid(t, app, r.b)
}
