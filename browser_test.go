package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// browserTestTimeout bounds each browser test, from starting Chromium to
// the last check.
const browserTestTimeout = 60 * time.Second

// TestBrowserPopupLoginAndCrossTabLogout signs in through the popup window
// and checks that the page the user was on is updated in place, then that
// logging out in one tab reaches every other open tab of the app.
func TestBrowserPopupLoginAndCrossTabLogout(t *testing.T) {
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
	inTab(t, popup, "sign in as Ada in the popup",
		chromedp.WaitVisible(testid("choose-ada")),
		chromedp.Click(testid("choose-ada")),
	)
	popupGone, err := chromedp.Detached(popup)
	if err != nil {
		t.Fatalf("watch the popup: %v", err)
	}
	select {
	case <-popupGone:
	case <-popup.Done():
		t.Fatalf("the popup did not close itself after signing in: %v", popup.Err())
	}

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

// chromiumPath returns the Chromium to drive, and skips the test when this
// machine has none (CI installs the Debian package).
func chromiumPath(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("Chromium not found at /usr/bin/chromium nor as chromium on PATH; install it (apt-get install chromium) to run the browser tests")
	return ""
}

// startChromium starts a headless Chromium with a fresh profile and returns
// the context of its first tab. The browser stops when the test ends or
// browserTestTimeout passes.
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
