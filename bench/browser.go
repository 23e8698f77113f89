package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// What the bench reads from the app's pages.
var (
	formAction    = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	authRequestID = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
	csrfField     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	assetLink     = regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`)
)

// signedIn is a browser's session after a login.
type signedIn struct {
	cookie string // "latchkey=…", as a Cookie header sends it
	csrf   string
}

// browser is a cookie-keeping client that follows redirects like a
// browser without JavaScript.
type browser struct {
	client *http.Client
	base   *url.URL
	// from is the address the browser's requests say they come from, in
	// X-Forwarded-For, which latchkey believes from loopback: each
	// browser is a client of its own, as it would be in the field, and
	// latchkey's per-client login limit applies to each alone.
	from string
	// prefix is where latchkey's routes are: "" at the root, "/.latchkey"
	// in front of an app.
	prefix string
}

// browserCount numbers the browsers, so that each comes from its own address.
var browserCount atomic.Uint32

func newBrowser(base string, transport http.RoundTripper) (*browser, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parse app URL: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("make cookie jar: %w", err)
	}
	n := browserCount.Add(1)
	from := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).String()
	return &browser{client: &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second}, base: u, from: from}, nil
}

// login signs in as user through the built-in provider: /login, the
// provider's authorize endpoint and sign-in page, the chosen user posted
// back, the callback (which exchanges the code and reads userinfo) and
// finally the dashboard.
func (b *browser) login(ctx context.Context, user string) (*signedIn, error) {
	login, dashboardPath := "/login", "/dashboard"
	if b.prefix != "" {
		dashboardPath = b.prefix + "/account"
		login = b.prefix + "/login?return_to=" + url.QueryEscape(dashboardPath)
	}
	signInPage, at, err := b.get(ctx, login)
	if err != nil {
		return nil, err
	}
	action, id := formAction.FindStringSubmatch(signInPage), authRequestID.FindStringSubmatch(signInPage)
	if action == nil || id == nil {
		return nil, fmt.Errorf("no sign-in form at %s", at)
	}
	target, err := at.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, fmt.Errorf("sign-in form action: %w", err)
	}
	form := url.Values{"authRequestID": {html.UnescapeString(id[1])}, "user": {user}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	dashboard, at, err := b.do(req)
	if err != nil {
		return nil, err
	}
	return b.signedIn(dashboard, at, dashboardPath)
}

// loginAt signs in by following path's redirects to the dashboard, as
// with a provider that approves at once.
func (b *browser) loginAt(ctx context.Context, path string) (*signedIn, error) {
	dashboard, at, err := b.get(ctx, path)
	if err != nil {
		return nil, err
	}
	return b.signedIn(dashboard, at, "/dashboard")
}

// signedIn checks that a login ended on the dashboard (the page at at)
// and returns the session it made.
func (b *browser) signedIn(dashboard string, at *url.URL, dashboardPath string) (*signedIn, error) {
	csrf := csrfField.FindStringSubmatch(dashboard)
	if at.Path != dashboardPath || csrf == nil || !strings.Contains(dashboard, `data-testid="dashboard"`) {
		return nil, fmt.Errorf("login ended at %s, not on the dashboard", at)
	}
	s := &signedIn{csrf: html.UnescapeString(csrf[1])}
	for _, c := range b.client.Jar.Cookies(b.base) {
		if c.Name == "latchkey" {
			s.cookie = c.Name + "=" + c.Value
		}
	}
	if s.cookie == "" {
		return nil, errors.New("login set no session cookie")
	}
	return s, nil
}

// logout ends the session here without going on to the provider.
func (b *browser) logout(ctx context.Context, s *signedIn) error {
	form := url.Values{"csrf": {s.csrf}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base.JoinPath(b.prefix, "/logout").String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := *b.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("log out: status %s", resp.Status)
	}
	return nil
}

func (b *browser) get(ctx context.Context, path string) (string, *url.URL, error) {
	target, err := b.base.Parse(path)
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", path, err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	return b.do(req)
}

// do sends req, follows its redirects and returns the final page and URL.
func (b *browser) do(req *http.Request) (string, *url.URL, error) {
	req.Header.Set("X-Forwarded-For", b.from) // kept on redirects
	resp, err := b.client.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", resp.Request.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s %s ended at %s with status %s", req.Method, req.URL.Path, resp.Request.URL.Path, resp.Status)
	}
	return string(body), resp.Request.URL, nil
}

// loginRate runs workers browsers that each log in through the built-in
// provider again and again for d, and says how many logins completed.
func loginRate(ctx context.Context, base string, workers int, d time.Duration) (int64, time.Duration, error) {
	users := []string{"ada", "grace", "alan"}
	return loginsFor(ctx, base, workers, d, func(ctx context.Context, b *browser, n int) (*signedIn, error) {
		return b.login(ctx, users[n%len(users)])
	})
}

// loginsFor runs workers browsers that each log in with login again and
// again for d (n counts each worker's logins, from its own start), and
// says how many logins completed. Each login is followed by a logout that
// ends the session here only, so that the user's list of sessions on the
// dashboard stays short; the logouts take part of d.
func loginsFor(ctx context.Context, base string, workers int, d time.Duration, login func(ctx context.Context, b *browser, n int) (*signedIn, error)) (int64, time.Duration, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = workers
	defer transport.CloseIdleConnections()
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				b, err := newBrowser(base, transport)
				if err == nil {
					var s *signedIn
					if s, err = login(ctx, b, i+n); err == nil {
						done.Add(1)
						err = b.logout(ctx, s)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return done.Load(), time.Since(start), firstErr
}

// pageWeight is what a visit to a page costs over the wire.
type pageWeight struct {
	html, first, repeat int64 // bytes: status lines, headers and bodies
	files               int
}

// weigh fetches page and every asset it references the way a first visit
// does (accepting gzip), and the page alone as a repeat visit does when the
// assets are cached as immutable.
func weigh(ctx context.Context, base, page string) (pageWeight, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DisableCompression = true // count the bytes as sent
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	return weighOnce(ctx, client, base, page)
}

func weighOnce(ctx context.Context, client *http.Client, base, page string) (pageWeight, error) {
	fetch := func(path string) (int64, string, http.Header, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", nil, fmt.Errorf("fetch %s: %w", path, err)
		}
		defer resp.Body.Close()
		head, _ := httputil.DumpResponse(resp, false)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, "", nil, fmt.Errorf("read %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			return 0, "", nil, fmt.Errorf("fetch %s: status %s", path, resp.Status)
		}
		return int64(len(head) + len(body)), string(body), resp.Header, nil
	}
	n, body, header, err := fetch(page)
	if err != nil {
		return pageWeight{}, err
	}
	if header.Get("Content-Encoding") == "gzip" {
		// The page came compressed, as counted: its links are read
		// from what a browser unpacks.
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			return pageWeight{}, fmt.Errorf("unpack %s: %w", page, err)
		}
		unpacked, err := io.ReadAll(zr)
		if err != nil {
			return pageWeight{}, fmt.Errorf("unpack %s: %w", page, err)
		}
		body = string(unpacked)
	}
	w := pageWeight{html: n, first: n, repeat: n, files: 1}
	for _, m := range assetLink.FindAllStringSubmatch(body, -1) {
		n, _, header, err := fetch(html.UnescapeString(m[1]))
		if err != nil {
			return pageWeight{}, err
		}
		if !strings.Contains(header.Get("Cache-Control"), "immutable") {
			// A browser asks again for an asset it may not keep.
			w.repeat += n
		}
		w.first += n
		w.files++
	}
	return w, nil
}

// assetETag returns the URL of the first asset page references and its
// ETag, for a conditional request.
func assetETag(ctx context.Context, base, page string) (string, string, error) {
	b, err := newBrowser(base, nil)
	if err != nil {
		return "", "", err
	}
	body, _, err := b.get(ctx, page)
	if err != nil {
		return "", "", err
	}
	m := assetLink.FindStringSubmatch(body)
	if m == nil {
		return "", "", fmt.Errorf("%s references no asset", page)
	}
	asset := base + html.UnescapeString(m[1])
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, asset, nil)
	resp, err := b.client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: %w", asset, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" {
		return "", "", fmt.Errorf("fetch %s: status %s, ETag %q", asset, resp.Status, etag)
	}
	return asset, etag, nil
}

// check makes one request with headers and says whether it got want.
func check(ctx context.Context, target string, want int, headers ...string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", target, resp.StatusCode, want)
	}
	return nil
}
