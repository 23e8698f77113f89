package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The browser tests look at every page as people see it: at a desktop
// and a phone width, in the light and the dark colour scheme, checked by
// axe-core (npm's axe-core, installed by npm ci) for accessibility
// violations. With LATCHKEY_SCREENSHOTS=dir set, each page is also saved
// as a PNG in dir at each width and scheme, so that whoever changes a page
// can look at what they changed.

// pageView is one way a page is looked at.
type pageView struct {
	width, height int64
	scheme        string // prefers-color-scheme
}

// pageViews are the widths and schemes every page is checked at.
var pageViews = []pageView{
	{1280, 800, "light"},
	{1280, 800, "dark"},
	{390, 844, "light"},
	{390, 844, "dark"},
}

// axeCorePath is axe-core's browser bundle, as npm ci installs it.
const axeCorePath = "node_modules/axe-core/axe.min.js"

// pageCheck checks pages in a browser tab: axe-core at every view, and
// screenshots when LATCHKEY_SCREENSHOTS is set.
type pageCheck struct {
	t     *testing.T
	axe   string // axe-core's source
	shots string // where screenshots go; "" for none
	// prefix starts the screenshots' names, so that tests running at
	// once do not write over each other's.
	prefix string
}

// newPageCheck reads axe-core, and skips the test when npm ci has not
// installed it.
func newPageCheck(t *testing.T, prefix string) *pageCheck {
	t.Helper()
	src, err := os.ReadFile(axeCorePath)
	if err != nil {
		skipBecause(t, axeCorePath+" is missing (run npm ci)")
	}
	c := &pageCheck{t: t, axe: string(src), prefix: prefix, shots: os.Getenv("LATCHKEY_SCREENSHOTS")}
	if c.shots != "" {
		if err := os.MkdirAll(c.shots, 0o755); err != nil {
			t.Fatalf("make the screenshot folder: %v", err)
		}
	}
	return c
}

// axeViolation is what axe-core reports of one rule a page breaks.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// runAxe runs axe-core on the page and returns its serious and critical
// violations.
const runAxe = `(async () => {
	const result = await axe.run(document, {resultTypes: ['violations']});
	return result.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\s+/g, ' '))}));
})()`

// settled resolves once the page has been laid out and painted after a
// change of view.
const settled = `new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))`

// page checks the page now shown in tab, named name, at every view, and
// leaves the tab at the browser's own view.
func (c *pageCheck) page(tab context.Context, name string) {
	c.t.Helper()
	defer func() {
		if _, err := chromedp.Call(tab, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			c.t.Errorf("%s: reset the view: %v", name, err)
		}
		if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
			c.t.Errorf("%s: reset the colour scheme: %v", name, err)
		}
	}()
	for _, v := range pageViews {
		c.view(tab, name, v)
	}
}

func (c *pageCheck) view(tab context.Context, name string, v pageView) {
	c.t.Helper()
	what := fmt.Sprintf("%s at %d px, %s", name, v.width, v.scheme)
	if _, err := chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: v.width, Height: v.height, DeviceScaleFactor: 1, Mobile: v.width < 600,
	}); err != nil {
		c.t.Fatalf("%s: set the width: %v", what, err)
	}
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		// Without transitions, colours are read as they end up.
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}, {Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		c.t.Fatalf("%s: set the colour scheme: %v", what, err)
	}
	loaded, err := chromedp.Run(tab, chromedp.Evaluate[bool](`typeof axe === 'object'`))
	if err != nil {
		c.t.Fatalf("%s: look for axe-core: %v", what, err)
	}
	if !loaded {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](c.axe)); err != nil {
			c.t.Fatalf("%s: load axe-core: %v", what, err)
		}
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise)); err != nil {
		c.t.Fatalf("%s: wait for the page to be drawn: %v", what, err)
	}
	violations, err := chromedp.Run(tab, chromedp.Evaluate[[]axeViolation](runAxe, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("%s: run axe-core: %v", what, err)
	}
	for _, vi := range violations {
		c.t.Errorf("%s: axe %s (%s): %s\n\t%s", what, vi.ID, vi.Impact, vi.Help, strings.Join(vi.Nodes, "\n\t"))
	}
	if c.shots == "" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("%s: take a screenshot: %v", what, err)
	}
	file := filepath.Join(c.shots, fmt.Sprintf("%s%s-%d-%s.png", c.prefix, name, v.width, v.scheme))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		c.t.Fatalf("%s: save the screenshot: %v", what, err)
	}
}

// TestBrowserPagesAccessible opens every page of latchkey's own that a
// person can meet, signed out and signed in, and checks each at every
// view.
func TestBrowserPagesAccessible(t *testing.T) {
	t.Parallel()
	check := newPageCheck(t, "")
	app := startBrowserApp(t)
	problems := &pageProblems{}
	tab := startChromium(t, false, problems.watch("tab"))

	inTab(t, tab, "open the home page", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("login-button")))
	check.page(tab, "home")
	inTab(t, tab, "open a page that is not there", chromedp.Navigate(app.URL+"/nope"), chromedp.WaitVisible(testid("error")))
	check.page(tab, "not-found")
	inTab(t, tab, "open /logout signed out", chromedp.Navigate(app.URL+"/logout"), chromedp.WaitVisible(testid("logout-confirm")))
	check.page(tab, "logout-signed-out")

	// The pages a popup login shows, opened in the tab.
	inTab(t, tab, "start a popup login", chromedp.Navigate(app.URL+"/login?popup=1"), chromedp.WaitVisible(testid("choose-ada")))
	check.page(tab, "dev-sign-in")
	inTab(t, tab, "cancel it", chromedp.Click(testid("cancel")), chromedp.WaitVisible(testid("error")))
	check.page(tab, "popup-cancelled")
	const gap = `(() => { const a = document.querySelector('[data-testid="try-again"]').getBoundingClientRect(),
		b = document.querySelector('[data-testid="home-link"]').getBoundingClientRect();
		return b.top >= a.bottom ? b.top - a.bottom : b.left - a.right; })()`
	if got := readTab(t, tab, "measure the buttons' gap", chromedp.Evaluate[float64](gap)); got < 8 {
		t.Errorf("the error page's buttons are %.0f px apart, want at least 8", got)
	}

	inTab(t, tab, "log in", chromedp.Navigate(app.URL+"/login"), chromedp.WaitVisible(testid("choose-ada")),
		chromedp.Click(testid("choose-ada")), chromedp.WaitVisible(testid("dashboard")))
	check.page(tab, "dashboard")
	inTab(t, tab, "open the home page signed in", chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(testid("profile-card")))
	check.page(tab, "home-signed-in")
	inTab(t, tab, "open the end of a popup login", chromedp.Navigate(app.URL+"/signed-in"), chromedp.WaitVisible(testid("popup-done")))
	check.page(tab, "popup-done")
	inTab(t, tab, "open /logout", chromedp.Navigate(app.URL+"/logout"), chromedp.WaitVisible(testid("logout-form")))
	check.page(tab, "logout-confirm")
	inTab(t, tab, "log out", chromedp.Click(testid("logout-button")), chromedp.WaitVisible(testid("login-box")))
	check.page(tab, "logged-out")
	problems.allow(404, app.URL+"/nope")
	problems.allow(403, app.URL+"/callback?")
	problems.check(t)
}
