package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"latchkey/auth/oidctest"
)

// The tests in this file follow every way a popup login can end — logged
// in, cancelled, expired, refused by the development provider, the
// provider down, Close — and what the page that opened it shows then:
// the header and the box in step with the session, focus on the new
// content and the change said in the live region.

// TestBrowserPopupCancelAndTryAgain: Cancel in the popup closes it, and
// the page that opened it says why in place of its login box, with focus
// on the message. Its Try again opens the popup again, and logging in
// there turns the box into the profile card and puts Dashboard in the
// header; logging out in another tab takes both back.
func TestBrowserPopupCancelAndTryAgain(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	problems := &pageProblems{}
	home := startChromium(t, true, problems.watch("home"))
	inTab(t, home, "open the home page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))
	if n := countInTab(t, home, "nav-dashboard"); n != 0 {
		t.Errorf("the header links to the dashboard before login")
	}

	popup, closePopup := chromedp.NewContext(home, chromedp.WithTargetID(clickLogInForPopup(t, home)), problems.watch("popup"))
	defer closePopup()
	inTab(t, popup, "wait for the sign-in page", chromedp.WaitVisible(testid("cancel")))
	checkFitsPopup(t, popup)
	clickClosing(t, popup, "cancelling", testid("cancel"))

	waitInTab(t, home, "the message in place of the login box", `document.querySelector('[data-testid="login-problem"]')`)
	if got := readTab(t, home, "read the message", chromedp.Text(testid("login-problem"))); !strings.Contains(got, "Login cancelled") {
		t.Errorf("the box says %q, want Login cancelled", got)
	}
	if n := countInTab(t, home, "login-box"); n != 0 {
		t.Error("the login box is still shown beside the message")
	}
	if got := focusedText(t, home); got != "Login cancelled" {
		t.Errorf("focus is on %q, want the message's heading", got)
	}
	waitLive(t, home, "Login cancelled")
	newPageCheck(t, "").page(home, "home-login-cancelled")

	popup2, closePopup2 := chromedp.NewContext(home, chromedp.WithTargetID(clickForPopup(t, home, `[data-testid="login-problem"] a`)), problems.watch("second popup"))
	defer closePopup2()
	inTab(t, popup2, "wait for the sign-in page", chromedp.WaitVisible(testid("choose-ada")))
	clickClosing(t, popup2, "logging in as Ada", testid("choose-ada"))

	inTab(t, home, "wait for the profile card", chromedp.WaitVisible(testid("profile-card")), chromedp.WaitVisible(testid("nav-dashboard")))
	if got := focusedText(t, home); got != "Ada Lovelace" {
		t.Errorf("after logging in, focus is on %q, want the profile card's heading", got)
	}
	waitLive(t, home, "You are logged in as Ada Lovelace.")
	if n := countInTab(t, home, "login-problem"); n != 0 {
		t.Error("the message is still shown after logging in")
	}

	other, closeOther := chromedp.NewContext(home, problems.watch("second tab"))
	defer closeOther()
	inTab(t, other, "log out in a second tab", chromedp.Navigate(app.URL+"/logout"),
		chromedp.WaitVisible(testid("logout-button")), chromedp.Click(testid("logout-button")), chromedp.WaitVisible(testid("login-box")))
	inTab(t, home, "wait for the login box in the first tab", chromedp.WaitVisible(testid("login-button")))
	if n := countInTab(t, home, "nav-dashboard"); n != 0 {
		t.Error("after logging out in another tab, the header still links to the dashboard")
	}
	waitLive(t, home, "You are logged out.")
	problems.allow(403, app.URL+"/callback?")
	problems.check(t)
}

// TestBrowserPopupEndings: a login that ends in the popup without a
// session closes the popup and shows why where it was started, however it
// ended: an expired login (its attempt cookie gone), a request the
// development provider refuses. A popup nobody waits for stays open,
// with Try again and Close.
func TestBrowserPopupEndings(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	problems := &pageProblems{}
	home := startChromium(t, true, problems.watch("home"))
	inTab(t, home, "open the home page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))

	for _, tt := range []struct {
		name      string
		spoil     chromedp.Action[chromedp.Void]
		wantTitle string
	}{
		{
			name: "expired",
			spoil: chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				for _, slot := range []string{"latchkey-login-0", "latchkey-login-1", "latchkey-login-2"} {
					if _, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: slot, URL: app.URL}); err != nil {
						return err
					}
				}
				return nil
			}),
			wantTitle: "Login expired",
		},
		{
			name:      "refused by the provider",
			spoil:     chromedp.SetValue(`input[name="authRequestID"]`, "unknown"),
			wantTitle: "Login request refused",
		},
	} {
		popup, closePopup := chromedp.NewContext(home, chromedp.WithTargetID(clickForPopup(t, home, `[data-latchkey-box] a[data-login-popup]`)), problems.watch("popup "+tt.name))
		inTab(t, popup, tt.name+": spoil the login", chromedp.WaitVisible(testid("choose-grace")), tt.spoil)
		clickClosing(t, popup, tt.name+": logging in as Grace", testid("choose-grace"))
		closePopup()
		waitInTab(t, home, tt.name+": the message", `(document.querySelector('[data-testid="login-problem"] h2') || {}).textContent === `+jsString(tt.wantTitle))
		if got := focusedText(t, home); got != tt.wantTitle {
			t.Errorf("%s: focus is on %q, want %q", tt.name, got, tt.wantTitle)
		}
		waitLive(t, home, tt.wantTitle)
	}

	// A popup whose opener no longer listens keeps its page: Try again
	// stays a popup login, and Close closes the window instead of
	// turning it into a second window of the site. It is opened as Log in
	// does, but from outside the page's script, which so waits for no
	// login and does not answer it.
	popups := chromedp.WaitNewTarget(home, func(info *target.Info) bool { return info.Type == "page" })
	inTab(t, home, "open the popup", chromedp.Evaluate[chromedp.Void](`void window.open('/login?popup=1', 'latchkey-login', 'popup,width=520,height=640')`))
	popup, closePopup := chromedp.NewContext(home, chromedp.WithTargetID(<-popups), problems.watch("popup without an opener"))
	defer closePopup()
	inTab(t, popup, "cancel", chromedp.WaitVisible(testid("cancel")), chromedp.Click(testid("cancel")), chromedp.WaitVisible(testid("error")))
	if got := readTab(t, popup, "read the title", chromedp.Text(testid("error-title"))); got != "Login cancelled" {
		t.Errorf("the popup says %q", got)
	}
	if href := readTab(t, popup, "read Try again", chromedp.AttributeValue(testid("try-again"), "href")); !strings.Contains(href.Value, "popup=1") {
		t.Errorf("Try again in the popup is %q, not a popup login", href.Value)
	}
	if got := readTab(t, popup, "read Close", chromedp.Text(testid("home-link"))); got != "Close" {
		t.Errorf("the popup's second button says %q, want Close", got)
	}
	if n := countInTab(t, popup, "nav-dashboard") + readTab(t, popup, "count header links", chromedp.Evaluate[int](`document.querySelectorAll('header a').length`)); n != 0 {
		t.Errorf("the popup's header has %d links", n)
	}
	clickClosing(t, popup, "clicking Close", testid("home-link"))
	problems.allow(403, app.URL+"/callback?")
	problems.allow(400, app.URL+"/callback?")
	problems.allow(400, app.URL+"/dev-idp/login")
	problems.check(t)
}

// TestBrowserPopupProviderDown: with the identity provider down, the
// popup's 503 closes it, and the page says so in place of its login box.
func TestBrowserPopupProviderDown(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	p := oidctest.New(t)
	p.SetBehavior(oidctest.Behavior{DiscoveryDown: true})
	app := startApp(t, providerEnv(p, nil))
	problems := &pageProblems{}
	home := startChromium(t, true, problems.watch("home"))
	inTab(t, home, "open the home page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))
	// The popup may close before a test could attach to it: watch the
	// browser's windows instead.
	popupID := clickLogInForPopup(t, home)
	waitFor(t, "the popup to close itself", func() bool {
		targets, err := chromedp.Targets(home)
		if err != nil {
			t.Fatalf("list the browser's windows: %v", err)
		}
		return !slices.ContainsFunc(targets, func(info *target.Info) bool { return info.TargetID == popupID })
	})
	waitInTab(t, home, "the message", `(document.querySelector('[data-testid="login-problem"] h2') || {}).textContent === 'Identity provider unavailable'`)
	if n := readTab(t, home, "look for Try again", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="login-problem"] a[data-login-popup]').length`)); n != 1 {
		t.Errorf("the message offers %d popup logins, want one Try again", n)
	}
	problems.allow(http.StatusServiceUnavailable, app.URL+"/login?")
	problems.check(t)
}

// checkFitsPopup fails the test unless the sign-in page in popup shows
// its three demo users and Cancel whole, and its development warning
// once: in the popup's own window, and on a phone, where the popup is a
// tab of the phone's size.
func checkFitsPopup(t *testing.T, popup context.Context) {
	t.Helper()
	const fits = `[...document.querySelectorAll('[data-testid^="choose-"], [data-testid="cancel"]')]
		.filter(e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }).length`
	if n := readTab(t, popup, "count what fits", chromedp.Evaluate[int](fits)); n != 4 {
		size := readTab(t, popup, "read the size", chromedp.Evaluate[string](`innerWidth + '×' + innerHeight`))
		t.Errorf("in the %s popup, %d of the 3 demo users and Cancel are in view, want all 4", size, n)
	}
	if n := readTab(t, popup, "count the warnings", chromedp.Evaluate[int](`document.querySelectorAll('.dev-idp-banner').length`)); n != 1 {
		t.Errorf("the development warning is shown %d times, want once", n)
	}
	// A phone's viewport with its browser's bars: 390 × 664.
	if _, err := chromedp.Call(popup, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 664, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatalf("emulate a phone: %v", err)
	}
	defer func() { _, _ = chromedp.Call(popup, emulation.ClearDeviceMetricsOverride, cdp.Empty{}) }()
	if _, err := chromedp.Run(popup, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("wait for the page to be drawn: %v", err)
	}
	if n := readTab(t, popup, "count what fits on a phone", chromedp.Evaluate[int](fits)); n != 4 {
		t.Errorf("on a phone, %d of the 3 demo users and Cancel are in view, want all 4", n)
	}
}

// clickForPopup clicks the element sel in tab and returns the popup
// window it opens.
func clickForPopup(t *testing.T, tab context.Context, sel string) target.ID {
	t.Helper()
	popups := chromedp.WaitNewTarget(tab, func(info *target.Info) bool { return info.Type == "page" })
	inTab(t, tab, "click "+sel, chromedp.Click(sel))
	select {
	case id := <-popups:
		return id
	case <-time.After(15 * time.Second):
		t.Fatalf("clicking %s opened no popup", sel)
	}
	return ""
}

// waitClosed waits until the popup has closed itself, after what.
func waitClosed(t *testing.T, popup context.Context, what string) {
	t.Helper()
	gone, err := chromedp.Detached(popup)
	if err != nil {
		t.Fatalf("watch the popup: %v", err)
	}
	select {
	case <-gone:
	case <-popup.Done():
		t.Fatalf("the popup did not close itself after %s: %v", what, popup.Err())
	}
}

// waitInTab waits until the JavaScript expression holds in tab.
func waitInTab(t *testing.T, tab context.Context, what, expression string) {
	t.Helper()
	inTab(t, tab, "wait for "+what, chromedp.Poll[chromedp.Void](expression,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
}

// waitLive waits until the page's live region says text.
func waitLive(t *testing.T, tab context.Context, text string) {
	t.Helper()
	waitInTab(t, tab, "the live region to say "+text,
		`[...document.querySelectorAll('[data-latchkey-status]')].some(e => e.getAttribute('aria-live') === 'polite' && e.textContent.includes(`+jsString(text)+`))`)
}

// focusedText is the text of the element that has focus.
func focusedText(t *testing.T, tab context.Context) string {
	t.Helper()
	return readTab(t, tab, "read what has focus", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.textContent.trim() : ''`))
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestBrowserDashboardSwaps: every control of the dashboard that swaps
// part of it moves focus to the new part's heading and says what it did
// in the live region — Refresh profile also when nothing changed — and
// the sessions panel lists this device first, in the viewer's time zone,
// with buttons that fit on one line on a phone.
func TestBrowserDashboardSwaps(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	// Two more sessions of Ada's, from other browsers.
	for range 2 {
		devSignInAt(t, app, newBrowser(t), "/login", "ada")
	}
	problems := &pageProblems{}
	tab := startChromium(t, false, problems.watch("tab"))
	if _, err := chromedp.Call(tab, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatalf("set the time zone: %v", err)
	}
	inTab(t, tab, "log in as Ada", chromedp.Navigate(app.URL+"/login"), chromedp.WaitVisible(testid("choose-ada")),
		chromedp.Click(testid("choose-ada")), chromedp.WaitVisible(testid("sessions-panel")))

	if n := countInTab(t, tab, "session"); n != 3 {
		t.Fatalf("the panel lists %d sessions, want 3", n)
	}
	if n := readTab(t, tab, "find this device", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="session"]:first-child [data-testid="this-device"]').length`)); n != 1 {
		t.Error("this device is not listed first")
	}
	if got := readTab(t, tab, "read a session's time", chromedp.Text(testid("session-time"))); !strings.Contains(got, "GMT+9") {
		t.Errorf("the session's time reads %q, want it in the viewer's zone (GMT+9)", got)
	}
	if _, err := chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatalf("emulate a phone: %v", err)
	}
	const lines = `Math.max(...[...document.querySelectorAll('.session .button, [data-testid="end-other-sessions"]')].map(b => {
		const r = document.createRange(); r.selectNodeContents(b);
		return new Set([...r.getClientRects()].map(c => Math.round(c.top))).size; }))`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if n := readTab(t, tab, "count the buttons' lines", chromedp.Evaluate[int](lines)); n != 1 {
		t.Errorf("at 390 px the sessions panel's buttons take %d lines, want 1", n)
	}
	if _, err := chromedp.Call(tab, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	inTab(t, tab, "refresh the profile", chromedp.Click(testid("refresh-profile")), chromedp.WaitVisible(testid("profile-status")))
	if got := readTab(t, tab, "read the status", chromedp.Text(testid("profile-status"))); got != "Profile refreshed: nothing changed." {
		t.Errorf("after Refresh profile the panel says %q", got)
	}
	waitLive(t, tab, "Profile refreshed: nothing changed.")
	if got := focusedText(t, tab); got != "Welcome Ada Lovelace" {
		t.Errorf("after Refresh profile, focus is on %q, want the profile's heading", got)
	}

	inTab(t, tab, "sign out one other session", chromedp.Click(testid("end-session")))
	waitInTab(t, tab, "two sessions", `document.querySelectorAll('[data-testid="session"]').length === 2`)
	waitLive(t, tab, "Signed out Go-http-client")
	if got := focusedText(t, tab); got != "Where you are logged in" {
		t.Errorf("after Sign out, focus is on %q, want the panel's heading", got)
	}

	inTab(t, tab, "sign out everywhere else", chromedp.Click(testid("end-other-sessions")))
	waitInTab(t, tab, "one session", `document.querySelectorAll('[data-testid="session"]').length === 1`)
	waitLive(t, tab, "Signed out 1 other session.")
	if got := focusedText(t, tab); got != "Where you are logged in" {
		t.Errorf("after Sign out everywhere else, focus is on %q, want the panel's heading", got)
	}
	problems.check(t)
}
