package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A session that was ended stays ended, whatever requests of its cookie are
// in flight: someone holding a copy of the cookie who keeps refreshing the
// profile cannot undo the owner's logout.

// endTrials is how many logouts each store sees raced by refreshes.
const endTrials = 8

// endRefreshers is how many copies of the cookie refresh at once.
const endRefreshers = 3

func TestSessionEndStaysEnded(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"embedded", func(t *testing.T) map[string]string { return map[string]string{"DATA_DIR": t.TempDir()} }},
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"SESSION_STORE": startRedis(t).URL()}
		}},
	}
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			_, app := startWithProvider(t, store.env(t))
			for trial := range endTrials {
				if !endRace(t, app) {
					t.Errorf("trial %d of %d: the copied cookie still opens the dashboard after logout", trial+1, endTrials)
				}
			}
		})
	}
}

// endRace signs a browser in, has copies of its cookie refresh the profile
// again and again while the browser logs out, and reports whether the
// copied cookie is anonymous once every refresh has returned.
func endRace(t *testing.T, app *testApp) bool {
	t.Helper()
	owner := newBrowser(t)
	dash := owner.get(app.URL + "/login")
	if dash.url.Path != "/dashboard" || dash.doc.Find(`[data-testid="dashboard"]`).Length() == 0 {
		t.Fatalf("login should land on the dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	cookie := endSessionCookie(t, owner, app)
	csrf := dash.doc.Find(`[data-testid="refresh-profile-form"] input[name="csrf"]`).AttrOr("value", "")
	if csrf == "" {
		t.Fatalf("no refresh form with a CSRF token on the dashboard:\n%s", dash.body)
	}

	var wg sync.WaitGroup
	var stop atomic.Bool
	refreshing := make(chan struct{}, endRefreshers)
	failures := make(chan string, endRefreshers)
	for range endRefreshers {
		wg.Go(func() {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for first := true; ; first = false {
				status, err := endRefresh(client, app.URL, cookie, csrf)
				switch {
				case err != nil:
					failures <- err.Error()
					return
				case status >= 500:
					failures <- fmt.Sprintf("a refresh answered %d", status)
					return
				case first && status != http.StatusOK:
					failures <- fmt.Sprintf("a refresh before logout answered %d, want 200", status)
					return
				}
				if first {
					refreshing <- struct{}{}
				}
				if stop.Load() || status != http.StatusOK {
					return
				}
			}
		})
	}
	started := 0
	for started < endRefreshers {
		select {
		case <-refreshing:
			started++
		case msg := <-failures:
			stop.Store(true)
			wg.Wait()
			t.Fatal(msg)
		}
	}

	out := owner.submit(dash, `[data-testid="logout-form"]`, nil)
	stop.Store(true)
	wg.Wait()
	close(failures)
	for msg := range failures {
		t.Error(msg)
	}
	if out.url.Path != "/" || out.doc.Find(`[data-testid="login-box"]`).Length() == 0 {
		t.Fatalf("logout should end on the home page's login box, got %s:\n%s", out.url, out.body)
	}
	return endAnonymous(t, app, cookie)
}

// endSessionCookie returns the value of b's session cookie.
func endSessionCookie(t *testing.T, b *browser, app *testApp) string {
	t.Helper()
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "latchkey" {
			return c.Value
		}
	}
	t.Fatal("no session cookie after login")
	return ""
}

// endRefresh posts the dashboard's Refresh profile as htmx does, with the
// session cookie value; safe to call from several goroutines.
func endRefresh(client *http.Client, appURL, cookie, csrf string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, appURL+"/profile/refresh", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Origin", appURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: "latchkey", Value: cookie})
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// endAnonymous reports whether the session cookie value is anonymous:
// /dashboard sends it to log in.
func endAnonymous(t *testing.T, app *testApp, cookie string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, app.URL+"/dashboard", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "latchkey", Value: cookie})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?")
}
