package main

import (
	"context"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// The test in this file drives a real Chromium through the example app
// (examples/notes) behind latchkey: the login box in the app's own page,
// and the login asked for in the middle of work.

// startNotes builds the example app, runs it for latchkey at latchkeyURL
// and returns its address.
func startNotes(t *testing.T, latchkeyURL string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "notes")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/notes").CombinedOutput(); err != nil {
		t.Fatalf("build the example app: %v\n%s", err, out)
	}
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logs := &outputBuffer{}
	startProcess(t, exec.Command(bin, "--addr", addr, "--latchkey", latchkeyURL), port, logs)
	return addr
}

// TestBrowserBoxInTheAppsPage: the example app's page shows latchkey's
// login box; Log In opens the popup, and the box of every tab turns into
// the profile card in place. When the session then ends on the server
// while a form is half filled, sending it opens the login popup, and once
// signed in the form's request completes with what was typed.
func TestBrowserBoxInTheAppsPage(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	port := freePort(t)
	base := "http://localhost:" + strconv.Itoa(port)
	notes := startNotes(t, base)
	app := startInFront(t, "http://"+notes, map[string]string{"PORT": strconv.Itoa(port), "PUBLIC_PATHS": "/,/notes.css"})

	check := newPageCheck(t, "notes-")
	problems := &pageProblems{}
	first := startChromium(t, true, problems.watch("first tab"))
	inTab(t, first, "open the app's page",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("login-button")),
	)
	check.page(first, "box")
	inTab(t, first, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__marker = 42`))
	if got := readTab(t, first, "read the greeting", chromedp.Text(testid("hello"))); got != "Hello, visitor" {
		t.Errorf("the app's page greets %q before login", got)
	}
	if got := readTab(t, first, "read the box's style", chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('[data-testid="login-button"]')).borderRadius`)); got != "8px" {
		t.Errorf("the box is not styled by latchkey's box.css (border-radius %q)", got)
	}
	second, closeSecond := chromedp.NewContext(first, problems.watch("second tab"))
	defer closeSecond()
	inTab(t, second, "open the app's page in a second tab",
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(testid("login-button")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 7`),
	)

	signInPopup(t, first, clickLogInForPopup(t, first), problems, "ada")
	inTab(t, first, "wait for the profile card in the first tab", chromedp.WaitVisible(testid("profile-card")))
	check.page(first, "box-signed-in")
	waitLive(t, first, "You are logged in as Ada Lovelace.")
	inTab(t, second, "wait for the profile card in the second tab", chromedp.WaitVisible(testid("profile-card")))
	for _, tab := range []struct {
		ctx    context.Context
		marker string
	}{{first, "42"}, {second, "7"}} {
		if got := markerInTab(t, tab.ctx); got != tab.marker {
			t.Errorf("window.__marker = %s after signing in, want %s: the page was reloaded", got, tab.marker)
		}
		if got := readTab(t, tab.ctx, "read the user name", chromedp.Text(testid("user-name"))); got != "Ada Lovelace" {
			t.Errorf("profile card name = %q", got)
		}
	}

	// The session ends on the server, say in another browser, while the
	// user writes a note.
	inTab(t, first, "half fill the form", chromedp.SendKeys(testid("note-text"), "half-written note"))
	endSessionElsewhere(t, first, app)

	popups := chromedp.WaitNewTarget(first, func(info *target.Info) bool { return info.Type == "page" })
	inTab(t, first, "send the form", chromedp.Click(testid("save-note")))
	var popupID target.ID
	select {
	case popupID = <-popups:
	case <-time.After(15 * time.Second):
		t.Fatal("sending the form after the session ended opened no login popup")
	}
	signInPopup(t, first, popupID, problems, "ada")
	inTab(t, first, "wait for the note", chromedp.WaitVisible(testid("note")))
	if got := readTab(t, first, "read the note", chromedp.Text(testid("note"))); got != "half-written note" {
		t.Errorf("the note saved = %q, want what was typed", got)
	}
	if got := markerInTab(t, first); got != "42" {
		t.Errorf("window.__marker = %s after the login, want 42: the page was reloaded and the form lost", got)
	}
	if got := pathInTab(t, first); got != "/" {
		t.Errorf("the tab is at %s, want the app's page", got)
	}
	// The 401 that asked for the login is the one error the page saw.
	problems.mu.Lock()
	problems.list = slices.DeleteFunc(problems.list, func(p string) bool {
		return strings.HasPrefix(p, "first tab: network error:") && strings.Contains(p, "status of 401") && strings.HasSuffix(p, app.URL+"/notes)")
	})
	problems.mu.Unlock()
	problems.check(t)
}

// signInPopup signs in as user in the popup window id, opened by the page
// in opener, and waits until it has closed itself.
func signInPopup(t *testing.T, opener context.Context, id target.ID, problems *pageProblems, user string) {
	t.Helper()
	popup, closePopup := chromedp.NewContext(opener, chromedp.WithTargetID(id), problems.watch("popup"))
	defer closePopup()
	inTab(t, popup, "wait for the sign-in page", chromedp.WaitVisible(testid("choose-"+user)))
	clickClosing(t, popup, "signing in as "+user, testid("choose-"+user))
}

// endSessionElsewhere logs the tab's session out with a client of its
// own, as another browser holding the same session would: the tab is not
// told.
func endSessionElsewhere(t *testing.T, tab context.Context, app *testApp) {
	t.Helper()
	cookies, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{app.URL}})
	if err != nil {
		t.Fatalf("read the tab's cookies: %v", err)
	}
	var session string
	for _, c := range cookies.Cookies {
		if c.Name == "latchkey" {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("the tab has no session cookie")
	}
	other := holding(t, app, session)
	account := other.getWith(app.URL+"/.latchkey/account", navigation)
	csrf := account.doc.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
	out := other.noFollow().post(app.URL+"/.latchkey/logout", url.Values{"csrf": {csrf}}, http.Header{"Origin": {app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if out.status != http.StatusSeeOther {
		t.Fatalf("logout elsewhere = %d:\n%s", out.status, out.body)
	}
	if after := holding(t, app, session).getWith(app.URL+"/.latchkey/account", navigation); after.has("dashboard") || strings.Contains(after.url.Path, "account") && after.status == http.StatusOK {
		t.Fatalf("the session is still open after logging out elsewhere")
	}
}

// TestBrowserLoginPromptWhenPopupBlocked: when the browser will not open
// the login popup by itself, the page asks with a button that does, and
// the form's request still completes once signed in.
func TestBrowserLoginPromptWhenPopupBlocked(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	port := freePort(t)
	notes := startNotes(t, "http://localhost:"+strconv.Itoa(port))
	app := startInFront(t, "http://"+notes, map[string]string{"PORT": strconv.Itoa(port), "PUBLIC_PATHS": "/,/notes.css"})
	problems := &pageProblems{}
	tab := startChromium(t, true, problems.watch("tab"))
	inTab(t, tab, "open the app's page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))
	signInPopup(t, tab, clickLogInForPopup(t, tab), problems, "grace")
	inTab(t, tab, "wait for the profile card", chromedp.WaitVisible(testid("profile-card")))
	endSessionElsewhere(t, tab, app)

	inTab(t, tab, "send a note with popups blocked",
		// What a popup blocker does to a window.open outside a click.
		chromedp.Evaluate[chromedp.Void](`window.__open = window.open; window.open = function () { return null; }`),
		chromedp.SendKeys(testid("note-text"), "kept while blocked"),
		chromedp.Click(testid("save-note")),
		chromedp.WaitVisible(`[data-latchkey-prompt] button`),
		chromedp.Evaluate[chromedp.Void](`window.open = window.__open`),
	)
	popups := chromedp.WaitNewTarget(tab, func(info *target.Info) bool { return info.Type == "page" })
	inTab(t, tab, "click the prompt's Log in", chromedp.Click(`[data-latchkey-prompt] button`))
	select {
	case id := <-popups:
		signInPopup(t, tab, id, problems, "grace")
	case <-time.After(15 * time.Second):
		t.Fatal("the prompt's Log in opened no popup")
	}
	inTab(t, tab, "wait for the note", chromedp.WaitVisible(testid("note")))
	if got := readTab(t, tab, "read the note", chromedp.Text(testid("note"))); got != "kept while blocked" {
		t.Errorf("the note saved = %q", got)
	}
	if n := readTab(t, tab, "count prompts", chromedp.Evaluate[int](`document.querySelectorAll('[data-latchkey-prompt]').length`)); n != 0 {
		t.Error("the prompt is still shown after signing in")
	}
}
