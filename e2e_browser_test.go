package main

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The tests in this file drive a real Chromium through the built-in
// development provider: the popup login, the fallback when the popup is
// blocked, and the plain links and forms without JavaScript.

// TestBrowserPopupLoginAndCrossTabLogout signs in through the popup window
// and checks that the page the user was on is updated in place, then that
// logging out in one tab reaches every other open tab of the app.
func TestBrowserPopupLoginAndCrossTabLogout(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	problems := &pageProblems{}
	home := startChromium(t, true, problems.watch("first tab"))

	inTab(t, home, "open the home page",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("login-button")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 42`),
	)

	popupID := clickLogInForPopup(t, home)

	popup, closePopup := chromedp.NewContext(home, chromedp.WithTargetID(popupID), problems.watch("popup"))
	defer closePopup()
	inTab(t, popup, "wait for the sign-in page", chromedp.WaitVisible(testid("choose-ada")))
	clickClosing(t, popup, "signing in as Ada in the popup", testid("choose-ada"))

	inTab(t, home, "wait for the profile card in place of the login box",
		chromedp.WaitVisible(testid("profile-card")))
	if got := readTab(t, home, "read the user name", chromedp.Text(testid("user-name"))); got != "Ada Lovelace" {
		t.Errorf("profile card name = %q, want %q", got, "Ada Lovelace")
	}
	if got := countInTab(t, home, "login-box"); got != 0 {
		t.Errorf("%d login boxes still shown next to the profile card", got)
	}
	if got := markerInTab(t, home); got != "42" {
		t.Errorf("window.__marker = %s after signing in, want 42: the page was reloaded", got)
	}
	if got := pathInTab(t, home); got != "/" {
		t.Errorf("after signing in the first tab is at %s, want /", got)
	}

	other, closeOther := chromedp.NewContext(home, problems.watch("second tab"))
	defer closeOther()
	inTab(t, other, "open the home page in a second tab",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("profile-card")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 7`),
	)
	dashboard, closeDashboard := chromedp.NewContext(home, problems.watch("dashboard tab"))
	defer closeDashboard()
	inTab(t, dashboard, "open the dashboard in a third tab",
		chromedp.Navigate(app.URL+"/dashboard"),
		chromedp.WaitVisible(testid("dashboard")),
	)

	inTab(t, home, "log out in the first tab",
		chromedp.Click(testid("logout-button")),
		chromedp.WaitVisible(testid("login-box")),
	)
	if got := pathInTab(t, home); got != "/" {
		t.Errorf("after logging out the first tab is at %s, want /", got)
	}

	inTab(t, other, "wait for the login box in the second tab", chromedp.WaitVisible(testid("login-box")))
	if got := countInTab(t, other, "profile-card"); got != 0 {
		t.Errorf("the second tab still shows %d profile cards after logout", got)
	}
	if got := markerInTab(t, other); got != "7" {
		t.Errorf("window.__marker = %s in the second tab after logout, want 7: the tab was reloaded", got)
	}

	inTab(t, dashboard, "wait for the dashboard tab to leave the dashboard", chromedp.WaitVisible(testid("login-box")))
	if got := pathInTab(t, dashboard); got != "/" {
		t.Errorf("after logout the dashboard tab is at %s, want /", got)
	}
	if got := countInTab(t, dashboard, "dashboard"); got != 0 {
		t.Error("the dashboard tab still shows the dashboard after logout")
	}

	problems.check(t)
}

// TestBrowserLoginWhenPopupBlocked checks that when the popup cannot open,
// Log In falls back to the full-redirect flow in the same tab.
func TestBrowserLoginWhenPopupBlocked(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	problems := &pageProblems{}
	tab := startChromium(t, false, problems.watch("tab"))

	inTab(t, tab, "open the home page",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("login-button")),
		// What a popup blocker does: window.open gives no window.
		chromedp.Evaluate[chromedp.Void](`window.open = function () { return null; }`),
	)
	inTab(t, tab, "click Log In",
		chromedp.Click(testid("login-button")),
		chromedp.WaitVisible(testid("choose-grace")),
	)
	if got := pathInTab(t, tab); !strings.HasPrefix(got, "/dev-idp/") {
		t.Errorf("Log In with the popup blocked went to %s, want the development sign-in page", got)
	}
	inTab(t, tab, "sign in as Grace",
		chromedp.Click(testid("choose-grace")),
		chromedp.WaitVisible(testid("welcome")),
	)
	if got := readTab(t, tab, "read the greeting", chromedp.Text(testid("welcome"))); got != "Welcome Grace Hopper" {
		t.Errorf("dashboard greeting = %q, want %q", got, "Welcome Grace Hopper")
	}
	if got := pathInTab(t, tab); got != "/dashboard" {
		t.Errorf("signing in landed on %s, want /dashboard", got)
	}
	problems.check(t)
}

// TestBrowserLoginWithoutJavaScript drives the plain links and forms with
// scripts turned off: login and logout still work through redirects.
func TestBrowserLoginWithoutJavaScript(t *testing.T) {
	t.Parallel()
	app := startBrowserApp(t)
	tab := startChromium(t, false)

	if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn off JavaScript: %v", err)
	}
	inTab(t, tab, "open the home page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))
	if got := readTab(t, tab, "look for htmx", chromedp.Evaluate[string](`typeof window.htmx`)); got != "undefined" {
		t.Fatalf("typeof window.htmx = %q: the page's scripts ran", got)
	}

	inTab(t, tab, "click Log In",
		chromedp.Click(testid("login-button")),
		chromedp.WaitVisible(testid("choose-alan")),
	)
	inTab(t, tab, "sign in as Alan",
		chromedp.Click(testid("choose-alan")),
		chromedp.WaitVisible(testid("welcome")),
	)
	if got := readTab(t, tab, "read the greeting", chromedp.Text(testid("welcome"))); got != "Welcome Alan Turing" {
		t.Errorf("dashboard greeting = %q, want %q", got, "Welcome Alan Turing")
	}
	if got := pathInTab(t, tab); got != "/dashboard" {
		t.Errorf("signing in landed on %s, want /dashboard", got)
	}

	inTab(t, tab, "submit the logout form",
		chromedp.Click(chromedp.CSS(`[data-testid="logout-form"] [data-testid="logout-button"]`)),
		chromedp.WaitVisible(testid("login-box")),
	)
	if got := pathInTab(t, tab); got != "/" {
		t.Errorf("logging out landed on %s, want /", got)
	}
	if got := countInTab(t, tab, "profile-card"); got != 0 {
		t.Error("the profile card is still shown after logout")
	}
}

// startBrowserApp runs the program with the built-in development provider
// and waits until it can sign people in. When the test fails, the
// program's log is shown.
func startBrowserApp(t *testing.T) *testApp {
	t.Helper()
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.logs)
		}
	})
	return app
}
