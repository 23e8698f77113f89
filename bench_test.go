package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"latchkey/auth/oidctest"
)

// BenchmarkLogin measures one whole login against the built-in provider,
// every hop as a browser without JavaScript makes it: /login, the
// provider's authorize endpoint and sign-in page, the chosen user posted
// back, the callback (code exchange, ID token check, userinfo) and the
// dashboard. The program runs in this process, as `run` starts it. A
// logout after each login, not timed, keeps the user's session list short.
//
// provider=external is the same login through auth/oidctest, a provider
// outside the program (in this process, on a port of its own) that
// approves at once, with the embedded store: what the app itself spends
// on a login, as in production.
func BenchmarkLogin(b *testing.B) {
	for _, store := range []string{"memory", "embedded"} {
		b.Run("store="+store, func(b *testing.B) {
			benchmarkLogins(b, map[string]string{"SESSION_STORE": store, "DATA_DIR": b.TempDir()}, benchLogin)
		})
	}
	b.Run("provider=external", func(b *testing.B) {
		p := oidctest.New(b)
		env := providerEnv(p, map[string]string{"SESSION_STORE": "embedded", "DATA_DIR": b.TempDir()})
		benchmarkLogins(b, env, benchExternalLogin)
	})
}

// benchmarkLogins runs the program with env and logs in with login, again
// and again, each from a new browser.
func benchmarkLogins(b *testing.B, env map[string]string, login func(*testing.B, *http.Client, string) string) {
	base := startBenchApp(b, env)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(transport.CloseIdleConnections)
	b.ReportAllocs()
	var n uint32
	for b.Loop() {
		jar, _ := cookiejar.New(nil)
		// Each login from a client of its own (X-Forwarded-For is
		// believed from loopback), as the per-client limit expects.
		n++
		from := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).String()
		client := &http.Client{Jar: jar, Transport: forwardedFor(transport, from), Timeout: 10 * time.Second}
		csrf := login(b, client, base)
		b.StopTimer()
		benchLogout(b, client, base, csrf)
		b.StartTimer()
	}
}

// startBenchApp runs the program with the built-in provider on a free port
// and returns its URL once it is ready. It stops when the benchmark ends.
func startBenchApp(b *testing.B, env map[string]string) string {
	b.Helper()
	env["PORT"] = "0"
	logs := &outputBuffer{}
	listening := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "test", []string{"latchkey", "--env-file="}, env, io.Discard, logs, func(u string) { listening <- u })
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("run: %v", err)
		}
	})
	var base string
	select {
	case base = <-listening:
	case err := <-done:
		b.Fatalf("run returned before listening: %v\n%s", err, logs)
	case <-time.After(15 * time.Second):
		b.Fatalf("app did not start listening:\n%s", logs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("app never became ready:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond) // polling interval of a readiness check
	}
}

var (
	signInAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	signInRequest = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfValue     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// benchLogin logs in as Ada and returns the session's CSRF token.
func benchLogin(b *testing.B, client *http.Client, base string) string {
	b.Helper()
	page, at := benchFetch(b, client, http.MethodGet, base+"/login", nil)
	action, id := signInAction.FindStringSubmatch(page), signInRequest.FindStringSubmatch(page)
	if action == nil || id == nil {
		b.Fatalf("no sign-in form at %s:\n%s", at, page)
	}
	target, err := at.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"authRequestID": {html.UnescapeString(id[1])}, "user": {"ada"}}
	page, at = benchFetch(b, client, http.MethodPost, target.String(), form)
	csrf := csrfValue.FindStringSubmatch(page)
	if at.Path != "/dashboard" || csrf == nil {
		b.Fatalf("login ended at %s:\n%s", at, page)
	}
	return html.UnescapeString(csrf[1])
}

// benchExternalLogin logs in through a provider that approves at once
// and returns the session's CSRF token.
func benchExternalLogin(b *testing.B, client *http.Client, base string) string {
	b.Helper()
	page, at := benchFetch(b, client, http.MethodGet, base+"/login", nil)
	csrf := csrfValue.FindStringSubmatch(page)
	if at.Path != "/dashboard" || csrf == nil {
		b.Fatalf("login ended at %s:\n%s", at, page)
	}
	return html.UnescapeString(csrf[1])
}

// benchLogout ends the session here, without going on to the provider.
func benchLogout(b *testing.B, client *http.Client, base, csrf string) {
	b.Helper()
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.PostForm(base+"/logout", url.Values{"csrf": {csrf}})
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("logout: status %d", resp.StatusCode)
	}
}

// benchFetch makes a request, follows its redirects and returns the final
// page and URL; anything but 200 at the end fails the benchmark.
func benchFetch(b *testing.B, client *http.Client, method, target string, form url.Values) (string, *url.URL) {
	b.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s ended at %s with status %d:\n%s", method, target, resp.Request.URL, resp.StatusCode, page)
	}
	return string(page), resp.Request.URL
}

// forwardedFor sends every request through next with X-Forwarded-For: from.
func forwardedFor(next http.RoundTripper, from string) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", from)
		return next.RoundTrip(r)
	})
}
