package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoginCookieBudget: a page elsewhere that opens /login again and again
// with a long return_to cannot fill the browser's cookie jar (L4 in
// docs/security.md): every Set-Cookie stays under 4 KB, the Cookie header
// latchkey causes under 8 KB, and the newest login still completes and
// comes back to its page.
func TestLoginCookieBudget(t *testing.T) {
	t.Parallel()
	// The per-client login limit would stop the loop first; it is not what
	// this test is about.
	app := startApp(t, map[string]string{"LOGIN_RATE_LIMIT": "0"})
	app.waitReady(t)
	b, rec := newRecordingBrowser(t)
	returnTo := "/dashboard?q=" + strings.Repeat("x", 2000)
	for range 60 {
		p := b.noFollow().get(app.URL + "/login?return_to=" + url.QueryEscape(returnTo))
		if p.status != http.StatusSeeOther {
			t.Fatalf("/login answered %d, want 303 to the provider", p.status)
		}
	}
	for _, ex := range rec.all(hostOf(t, app.URL)) {
		for _, v := range ex.header.Values("Set-Cookie") {
			if len(v) > 4096 {
				t.Errorf("%s %s set a cookie of %d bytes", ex.method, ex.url.Path, len(v))
			}
		}
	}
	u, _ := url.Parse(app.URL)
	var header strings.Builder
	for _, c := range b.client.Jar.Cookies(u) {
		header.WriteString(c.Name + "=" + c.Value + "; ")
	}
	if n := header.Len(); n >= 8<<10 {
		t.Errorf("after 60 logins the Cookie header is %d bytes, want under 8 KB", n)
	}

	last := "/dashboard?tab=sessions"
	signIn := b.get(app.URL + "/login?return_to=" + url.QueryEscape(last))
	if !signIn.has("dev-signin") {
		t.Fatalf("the 61st login did not reach the sign-in page: %d at %s", signIn.status, signIn.url)
	}
	dash := b.submit(signIn, "form", url.Values{"user": {"ada"}})
	if dash.status != http.StatusOK || dash.url.RequestURI() != last {
		t.Fatalf("the newest login landed on %d %s, want 200 %s", dash.status, dash.url.RequestURI(), last)
	}
	if !dash.has("dashboard") {
		t.Errorf("signed in, but the dashboard is not shown:\n%s", dash.body)
	}
}
