package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"
)

// The tests in this file sign in through providers written by others: npm's
// oidc-provider, a certified OpenID provider, run by node from
// testdata/oidc-provider, and the built-in development provider. The same
// steps drive both.

const (
	interopClientID     = "latchkey"
	interopClientSecret = "interop-client-secret-0123456789abcdef"
	// interopName and interopEmail are the profile testdata/oidc-provider
	// gives every user.
	interopName  = "Interop User"
	interopEmail = "interop@example.com"
)

// TestInteropOIDCProvider logs in, reads the dashboard, refreshes the
// profile and logs out (RP-initiated) against oidc-provider, then logs in
// again and ends the session at oidc-provider itself: its back-channel
// logout token must end the app's session.
func TestInteropOIDCProvider(t *testing.T) {
	t.Parallel()
	op, app := startAppWithOIDCProvider(t)
	provider := op.interop(app)
	b := newBrowser(t)

	dash := stepLogIn(t, provider, b)

	refreshes := op.count("grant.success", "refresh_token")
	stepRefreshProfile(t, provider, b, dash)
	// The access token lives shorter than the app's expiry margin, so the
	// profile could only be read after a refresh_token grant.
	waitFor(t, "a refresh_token grant at oidc-provider", func() bool {
		return op.count("grant.success", "refresh_token") == refreshes+1
	})

	stepLogOut(t, provider, b)

	// Back-channel logout: signed in again (oidc-provider must ask who is
	// signing in: the logout ended its session too), the user ends the
	// session at oidc-provider itself, which tells the app.
	stepLogIn(t, provider, b)
	delivered := op.count("backchannel.success", "")
	done := op.confirmLogout(t, b, b.get(op.issuer+"/session/end"))
	if done.status != http.StatusOK || !strings.HasPrefix(done.url.String(), op.issuer+"/") {
		t.Fatalf("ending the session at oidc-provider should end on its own page, got %d at %s:\n%s", done.status, done.url, done.body)
	}
	// The browser has not been back to the app since: only the logout
	// token can have ended the session its cookie names.
	assertAnonymous(t, app, b)
	waitFor(t, "oidc-provider to report the logout token delivered", func() bool {
		return op.count("backchannel.success", "") > delivered
	})

	if n := op.count("backchannel.error", ""); n > 0 {
		t.Errorf("oidc-provider could not deliver %d logout tokens to the app: %v", n, op.eventList())
	}
}

// TestInteropOIDCProviderBrowser signs in at oidc-provider once with a real
// Chromium, through the popup: the home page's login box becomes the
// profile card in place.
func TestInteropOIDCProviderBrowser(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	_, app := startAppWithOIDCProvider(t)
	problems := &pageProblems{}
	home := startChromium(t, true, problems.watch("home tab"))

	inTab(t, home, "open the home page",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("login-button")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 42`),
	)
	popupID := clickLogInForPopup(t, home)

	// The popup shows oidc-provider's own pages, not watched for problems:
	// they load web fonts, which cannot be reached from a test machine.
	popup, closePopup := chromedp.NewContext(home, chromedp.WithTargetID(popupID))
	defer closePopup()
	inTab(t, popup, "sign in on oidc-provider's login page",
		chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), "interop"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any password"),
		chromedp.Click(chromedp.CSS(`input[name="prompt"][value="login"] ~ button[type="submit"]`)),
	)
	popupGone, err := chromedp.Detached(popup)
	if err != nil {
		t.Fatalf("watch the popup: %v", err)
	}
	inTab(t, popup, "allow latchkey on oidc-provider's consent page",
		chromedp.Click(chromedp.CSS(`input[name="prompt"][value="consent"] ~ button[type="submit"]`)),
	)
	select {
	case <-popupGone:
	case <-popup.Done():
		t.Fatalf("the popup did not close itself after signing in: %v", popup.Err())
	}

	inTab(t, home, "wait for the profile card in place of the login box",
		chromedp.WaitVisible(testid("profile-card")))
	if got := readTab(t, home, "read the user name", chromedp.Text(testid("user-name"))); got != interopName {
		t.Errorf("profile card name = %q, want %q", got, interopName)
	}
	if got := readTab(t, home, "read the email", chromedp.Text(testid("user-email"))); got != interopEmail {
		t.Errorf("profile card email = %q, want %q", got, interopEmail)
	}
	if got := countInTab(t, home, "login-box"); got != 0 {
		t.Errorf("%d login boxes still shown next to the profile card", got)
	}
	if got := markerInTab(t, home); got != "42" {
		t.Errorf("window.__marker = %s after signing in, want 42: the page was reloaded", got)
	}
	problems.check(t)
}

// TestInteropDevProvider takes the built-in development provider through
// the same steps as TestInteropOIDCProvider.
func TestInteropDevProvider(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	provider := interopProvider{
		app:   app,
		name:  "Ada Lovelace",
		email: "ada@example.com",
		signIn: func(t *testing.T, b *browser, p *page) *page {
			t.Helper()
			if !p.has("dev-signin") {
				t.Fatalf("login should reach the development sign-in page, got %d at %s:\n%s", p.status, p.url, p.body)
			}
			return b.submit(p, "form", url.Values{"user": {"ada"}})
		},
	}
	b := newBrowser(t)
	dash := stepLogIn(t, provider, b)
	stepRefreshProfile(t, provider, b, dash)
	stepLogOut(t, provider, b)
}

// interopProvider is an OpenID provider as the shared steps see it: the app
// signs in at it, and signIn and confirmLogout answer its pages as a user.
type interopProvider struct {
	app *testApp
	// name and email are the profile the provider gives the user who signs in.
	name, email string
	// signIn takes a browser from the provider's first page after /login
	// back to the app.
	signIn func(t *testing.T, b *browser, p *page) *page
	// confirmLogout answers what the provider asks after the app's logout,
	// until the browser is back at the app; nil when it asks nothing.
	confirmLogout func(t *testing.T, b *browser, p *page) *page
}

// stepLogIn signs b in through the provider and checks the dashboard and
// the home page's profile card.
func stepLogIn(t *testing.T, provider interopProvider, b *browser) *page {
	t.Helper()
	app := provider.app
	if home := b.get(app.URL + "/"); !home.has("login-box") {
		t.Fatalf("the home page should offer to log in:\n%s", home.body)
	}
	dash := provider.signIn(t, b, b.get(app.URL+"/login"))
	if dash.status != http.StatusOK || dash.url.Host != hostOf(t, app.URL) || dash.url.Path != "/dashboard" {
		t.Fatalf("signing in should land on the dashboard, got %d at %s:\n%s\napp log:\n%s", dash.status, dash.url, dash.body, app.logs)
	}
	checkProfilePanel(t, provider, dash)
	home := b.get(app.URL + "/")
	if got := home.text("user-name"); got != provider.name {
		t.Errorf("profile card name = %q, want %q", got, provider.name)
	}
	if got := home.text("user-email"); got != provider.email {
		t.Errorf("profile card email = %q, want %q", got, provider.email)
	}
	return dash
}

// stepRefreshProfile presses "Refresh profile" as htmx does: the answer is
// the profile panel alone, read from the provider again.
func stepRefreshProfile(t *testing.T, provider interopProvider, b *browser, dash *page) {
	t.Helper()
	status, _, body := refreshProfile(t, provider.app, b, dash)
	if status != http.StatusOK {
		t.Fatalf("refresh profile = %d, want 200:\n%s\napp log:\n%s", status, body, provider.app.logs)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the refreshed profile panel: %v", err)
	}
	panel := &page{status: status, body: body, doc: doc}
	if panel.has("auth-box") {
		t.Errorf("refresh profile answered a whole page, want the profile panel alone:\n%s", body)
	}
	checkProfilePanel(t, provider, panel)
}

// stepLogOut presses the home page's Log out, answers the provider, and
// checks that the browser is back, logged out, at the app.
func stepLogOut(t *testing.T, provider interopProvider, b *browser) {
	t.Helper()
	app := provider.app
	after := b.submit(b.get(app.URL+"/"), `[data-testid="logout-form"]`, nil)
	if provider.confirmLogout != nil {
		after = provider.confirmLogout(t, b, after)
	}
	if after.url.Host != hostOf(t, app.URL) || after.url.Path != "/" || !after.has("login-box") {
		t.Fatalf("logout should come back to the home page's login box, got %d at %s:\n%s", after.status, after.url, after.body)
	}
	if got := after.text("notice"); got != "You have been logged out." {
		t.Errorf("after logout notice = %q, want %q", got, "You have been logged out.")
	}
	assertAnonymous(t, app, b)
}

// checkProfilePanel checks that p shows the provider's user and claims.
func checkProfilePanel(t *testing.T, provider interopProvider, p *page) {
	t.Helper()
	if !p.has("dashboard") {
		t.Fatalf("no profile panel:\n%s", p.body)
	}
	if got, want := p.text("welcome"), "Welcome "+provider.name; got != want {
		t.Errorf("greeting = %q, want %q", got, want)
	}
	claims := p.text("claims")
	for _, want := range []string{`"name": "` + provider.name + `"`, `"email": "` + provider.email + `"`} {
		if !strings.Contains(claims, want) {
			t.Errorf("claims lack %s:\n%s", want, claims)
		}
	}
}

// oidcProvider is npm's oidc-provider, run by node from testdata/oidc-provider.
type oidcProvider struct {
	issuer string
	log    *outputBuffer
	stop   func()

	mu     sync.Mutex
	events []oidcProviderEvent
}

// oidcProviderEvent is one line testdata/oidc-provider/server.mjs prints
// after its issuer.
type oidcProviderEvent struct {
	Event     string `json:"event"`
	GrantType string `json:"grant_type,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

// startOIDCProvider runs testdata/oidc-provider/server.mjs with env added
// to this process's environment and waits for its issuer. The provider
// stops when the test ends. The test is skipped when node or the npm
// package is missing.
func startOIDCProvider(t *testing.T, env map[string]string) *oidcProvider {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipBecause(t, "node not found (install Node.js, then run npm ci)")
	}
	if _, err := os.Stat("node_modules/oidc-provider/package.json"); err != nil {
		skipBecause(t, "node_modules/oidc-provider is missing (run npm ci)")
	}

	cmd := exec.Command(node, "testdata/oidc-provider/server.mjs")
	cmd.Env = cmd.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	op := &oidcProvider{log: &outputBuffer{}}
	cmd.Stderr = op.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("oidc-provider stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oidc-provider: %v", err)
	}

	issuer := make(chan string, 1)
	exited := make(chan struct{})
	var exitErr error
	go func() {
		defer close(exited)
		op.read(stdout, issuer)
		exitErr = cmd.Wait()
	}()
	op.stop = sync.OnceFunc(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if exitErr != nil {
				t.Errorf("oidc-provider did not exit cleanly on SIGTERM: %v\n%s", exitErr, op.log)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("oidc-provider did not stop within 10s of SIGTERM:\n%s", op.log)
		}
	})
	t.Cleanup(op.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oidc-provider log:\n%s\nevents: %v", op.log, op.eventList())
		}
	})

	select {
	case op.issuer = <-issuer:
		return op
	case <-exited:
		t.Fatalf("oidc-provider exited before it listened: %v\n%s", exitErr, op.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("oidc-provider printed no issuer within 30s:\n%s", op.log)
	}
	return nil
}

// read reads the provider's stdout until it closes: the issuer line, then
// events.
func (op *oidcProvider) read(stdout io.Reader, issuer chan<- string) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var line struct {
			Issuer string `json:"issuer"`
			oidcProviderEvent
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			op.log.Write([]byte("stdout: " + sc.Text() + "\n"))
			continue
		}
		if line.Issuer != "" {
			issuer <- line.Issuer
			continue
		}
		op.mu.Lock()
		op.events = append(op.events, line.oidcProviderEvent)
		op.mu.Unlock()
	}
}

// count returns how many events named event the provider has reported,
// only those of grantType when it is not empty.
func (op *oidcProvider) count(event, grantType string) int {
	op.mu.Lock()
	defer op.mu.Unlock()
	n := 0
	for _, e := range op.events {
		if e.Event == event && (grantType == "" || e.GrantType == grantType) {
			n++
		}
	}
	return n
}

func (op *oidcProvider) eventList() []oidcProviderEvent {
	op.mu.Lock()
	defer op.mu.Unlock()
	return append([]oidcProviderEvent(nil), op.events...)
}

// interop is the provider as the shared steps drive it, through app.
func (op *oidcProvider) interop(app *testApp) interopProvider {
	return interopProvider{
		app:           app,
		name:          interopName,
		email:         interopEmail,
		signIn:        op.signIn,
		confirmLogout: op.confirmLogout,
	}
}

// signIn fills in oidc-provider's login form, where any name and password
// sign in, and accepts its consent page, until the browser has left the
// provider. The provider must ask who is signing in.
func (op *oidcProvider) signIn(t *testing.T, b *browser, p *page) *page {
	t.Helper()
	askedLogin := false
	for range 5 {
		if !strings.HasPrefix(p.url.String(), op.issuer+"/") {
			if !askedLogin {
				t.Errorf("oidc-provider signed the browser in without showing its login form")
			}
			return p
		}
		switch {
		case p.doc.Find(`form input[name="prompt"][value="login"]`).Length() > 0:
			askedLogin = true
			p = b.submit(p, "form", url.Values{"login": {"interop"}, "password": {"any password"}})
		case p.doc.Find(`form input[name="prompt"][value="consent"]`).Length() > 0:
			p = b.submit(p, "form", nil)
		default:
			t.Fatalf("unexpected oidc-provider page, %d at %s:\n%s", p.status, p.url, p.body)
		}
	}
	t.Fatalf("still at oidc-provider after five pages, at %s:\n%s", p.url, p.body)
	return nil
}

// confirmLogout answers yes on oidc-provider's sign-out question.
func (op *oidcProvider) confirmLogout(t *testing.T, b *browser, p *page) *page {
	t.Helper()
	if !strings.HasPrefix(p.url.String(), op.issuer+"/session/end") {
		t.Fatalf("logout should ask at oidc-provider's end_session endpoint, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	return b.submit(p, `form[id="op.logoutForm"]`, url.Values{"logout": {"yes"}})
}

// startAppWithOIDCProvider starts oidc-provider with a client registered
// for an app on a free port, then that app, and waits until the app has
// read the provider's discovery document.
func startAppWithOIDCProvider(t *testing.T) (*oidcProvider, *testApp) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		// The redirect URI is registered before the app starts, so the app's
		// port is chosen here; another process may take it in between.
		port := strconv.Itoa(freePort(t))
		base := "http://127.0.0.1:" + port
		op := startOIDCProvider(t, map[string]string{
			"LK_CLIENT_ID":       interopClientID,
			"LK_CLIENT_SECRET":   interopClientSecret,
			"LK_REDIRECT_URI":    base + "/callback",
			"LK_POST_LOGOUT_URI": base + "/",
			"LK_BACKCHANNEL_URI": base + "/backchannel-logout",
		})
		app, err := launchApp(t, map[string]string{
			"HOST":               "127.0.0.1",
			"PORT":               port,
			"BASE_URL":           base,
			"OIDC_ISSUER":        op.issuer,
			"OIDC_CLIENT_ID":     interopClientID,
			"OIDC_CLIENT_SECRET": interopClientSecret,
			"SESSION_SECRET":     testSessionSecret,
			"DATA_DIR":           t.TempDir(),
		})
		if errors.Is(err, syscall.EADDRINUSE) && attempt < 3 {
			op.stop()
			continue
		}
		if err != nil {
			t.Fatalf("run returned before listening: %v", err)
		}
		app.waitReady(t)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("app log:\n%s", app.logs)
			}
		})
		return op, app
	}
}
