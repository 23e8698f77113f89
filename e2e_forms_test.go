package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"latchkey/auth/oidctest"
	"latchkey/handlers/formtest"
)

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFormsRefuseFileUploads: a signed-in user uploads a 300 MB file to
// every route of the program that reads a form. Each answers 415 without
// reading it, the session is untouched, and no file is left in TMPDIR.
func TestFormsRefuseFileUploads(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	b := newBrowser(t)
	dash := b.submit(b.get(app.URL+"/login"), "form", url.Values{"user": {"ada"}})
	if dash.url.Path != "/dashboard" {
		t.Fatalf("sign-in should land on /dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	csrf := dash.doc.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
	before := tempFiles(t, tmp)

	const size = 300 << 20
	for _, path := range []string{"/profile/refresh", "/sessions/end-others", "/sessions/" + strings.Repeat("0", 64) + "/end", "/backchannel-logout", "/logout"} {
		upload := formtest.NewUpload(csrf, size)
		req, err := http.NewRequest(http.MethodPost, app.URL+path, upload)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = upload.Size()
		req.Header.Set("Content-Type", formtest.ContentType)
		req.Header.Set("Origin", app.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST %s with a file = %d, want 415", path, resp.StatusCode)
		}
		if upload.Produced() == upload.Size() {
			t.Errorf("POST %s: the whole upload was read before the answer", path)
		}
	}
	if after := b.get(app.URL + "/dashboard"); after.url.Path != "/dashboard" || !after.has("dashboard") {
		t.Errorf("the session should have survived the refused posts, got %s", after.url)
	}
	if after := tempFiles(t, tmp); !slices.Equal(before, after) {
		t.Errorf("TMPDIR held %v before the uploads and %v after", before, after)
	}
}

// TestBrowserLogoutFormReachesTheProvider: the logout form posts to the
// app, which redirects the browser to the provider's end-session endpoint
// on another origin. Chromium checks that redirect against the page's
// form-action too; the policy allows it, and the logout completes.
func TestBrowserLogoutFormReachesTheProvider(t *testing.T) {
	t.Parallel()
	// No picture: the test provider serves it over http, which img-src
	// refuses, and this test is about form-action.
	p, app := startWithProvider(t, nil, oidctest.WithUser(map[string]any{"picture": nil}))
	problems := &pageProblems{}
	tab := startChromium(t, false, problems.watch("tab"))
	inTab(t, tab, "sign in through the provider",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.WaitVisible(testid("welcome")),
	)
	inTab(t, tab, "submit the logout form",
		chromedp.Click(chromedp.CSS(`[data-testid="logout-form"] [data-testid="logout-button"]`)),
		chromedp.WaitVisible(testid("notice")),
	)
	if got := readTab(t, tab, "read the notice", chromedp.Text(testid("notice"))); got != "You have been logged out." {
		t.Errorf("notice after logout = %q", got)
	}
	if n := p.EndSessionCalls(); n != 1 {
		t.Errorf("the provider's end-session endpoint was called %d times, want 1", n)
	}
	problems.check(t)
}
