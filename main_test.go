package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// testApp is the real program, started by run on a free port.
type testApp struct {
	URL  string
	logs *logBuffer
	stop func()
}

// Stop ends the program now, as SIGTERM would, and waits until run has
// returned. The test's cleanup does nothing more for it.
func (a *testApp) Stop() { a.stop() }

// startApp runs the program with env as its whole environment and waits
// until it listens. It stops when the test ends.
func startApp(t *testing.T, env map[string]string, args ...string) *testApp {
	t.Helper()
	if _, ok := env["PORT"]; !ok {
		env["PORT"] = "0"
	}
	if _, ok := env["DATA_DIR"]; !ok {
		env["DATA_DIR"] = t.TempDir()
	}
	logs := newLogBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	argv := append([]string{"latchkey", "--env-file="}, args...)
	go func() {
		done <- run(ctx, "test", argv, env, io.Discard, logs)
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	})
	t.Cleanup(stop)
	select {
	case u := <-logs.listening:
		return &testApp{URL: u, logs: logs, stop: stop}
	case err := <-done:
		t.Fatalf("run returned before listening: %v\n%s", err, logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("app did not start listening:\n%s", logs)
	}
	return nil
}

// waitReady polls /readyz until the provider's discovery has loaded.
func (a *testApp) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("app never became ready:\n%s", a.logs)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check
	}
}

// logBuffer collects the program's log and announces its URL once it
// logs that it is listening.
type logBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string
	announced bool
}

func newLogBuffer() *logBuffer { return &logBuffer{listening: make(chan string, 1)} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.announced {
		sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
		for sc.Scan() {
			line := sc.Text()
			if !strings.Contains(line, "msg=listening") {
				continue
			}
			for field := range strings.FieldsSeq(line) {
				if u, ok := strings.CutPrefix(field, "url="); ok {
					l.announced = true
					l.listening <- u
				}
			}
		}
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// browser is a cookie-keeping HTTP client that follows redirects like a
// browser without JavaScript.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// page is a fetched HTML page.
type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
	doc    *goquery.Document
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("read %s: %v", req.URL, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		b.t.Fatalf("parse %s: %v", req.URL, err)
	}
	return &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body), doc: doc}
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit posts the form found by selector on p, with extra fields set,
// as a same-origin browser would.
func (b *browser) submit(p *page, selector string, fields url.Values) *page {
	b.t.Helper()
	form := p.doc.Find(selector).First()
	if form.Length() == 0 {
		b.t.Fatalf("no form %q on %s:\n%s", selector, p.url, p.body)
	}
	values := url.Values{}
	form.Find("input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		values.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	for k, v := range fields {
		values[k] = v
	}
	action, err := p.url.Parse(form.AttrOr("action", ""))
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.url.Scheme+"://"+p.url.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (p *page) text(testid string) string {
	return strings.TrimSpace(p.doc.Find(`[data-testid="` + testid + `"]`).Text())
}

func (p *page) has(testid string) bool {
	return p.doc.Find(`[data-testid="`+testid+`"]`).Length() > 0
}

func TestDevProviderLoginLogout(t *testing.T) {
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	b := newBrowser(t)

	home := b.get(app.URL + "/")
	if !home.has("login-box") || !home.has("dev-idp-banner") {
		t.Fatalf("home page should offer login and mark the development provider:\n%s", home.body)
	}

	signIn := b.get(app.URL + "/login")
	if signIn.status != http.StatusOK || !signIn.has("dev-signin") {
		t.Fatalf("login should reach the development sign-in page, got %d at %s:\n%s", signIn.status, signIn.url, signIn.body)
	}
	dash := b.submit(signIn, "form", url.Values{"user": {"ada"}})
	if dash.url.Path != "/dashboard" || dash.status != http.StatusOK {
		t.Fatalf("sign-in should land on /dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	if got := dash.text("welcome"); got != "Welcome Ada Lovelace" {
		t.Errorf("dashboard greeting = %q", got)
	}
	if claims := dash.text("claims"); !strings.Contains(claims, `"email": "ada@example.com"`) {
		t.Errorf("dashboard claims should show the userinfo email, got:\n%s", claims)
	}
	if cc := dash.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("dashboard Cache-Control = %q, want no-store", cc)
	}

	home = b.get(app.URL + "/")
	if got := home.text("user-name"); got != "Ada Lovelace" {
		t.Errorf("home profile card name = %q", got)
	}

	after := b.submit(home, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" || !after.has("login-box") {
		t.Fatalf("logout should come back to the home page's login box, got %s:\n%s", after.url, after.body)
	}
	if got := after.text("notice"); got != "You have been logged out." {
		t.Errorf("after logout notice = %q", got)
	}
	again := b.get(app.URL + "/dashboard")
	if again.has("dashboard") {
		t.Error("dashboard still shown after logout")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), "test", []string{"latchkey", "--env-file="}, map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "x"}, io.Discard, &stderr)
	var cfgErr *configError
	if !errors.As(err, &cfgErr) || !strings.Contains(err.Error(), "SESSION_SECRET") {
		t.Fatalf("run error = %v, want a configuration error naming SESSION_SECRET", err)
	}
}
