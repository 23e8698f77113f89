package handlers

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/boltstore"
	"latchkey/auth/storetest"
	"latchkey/proxy"
)

// benchApp is the app's handler over a memory store, logging at info level
// as in production (to nowhere), with a signed-in session at hand.
type benchApp struct {
	handler  http.Handler
	sessions *auth.Sessions
	pages    *pages
	assets   *assetServer
	cookie   *http.Cookie
}

func newBenchApp(b *testing.B) *benchApp {
	b.Helper()
	return newBenchAppWith(b, nil)
}

// newBenchAppWith is newBenchApp with the dependencies change makes.
func newBenchAppWith(b *testing.B, change func(*Deps)) *benchApp {
	b.Helper()
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{strings.Repeat("s", 32)}, SessionMaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base, _ := url.Parse("http://app.test")
	d := Deps{
		Logger:   log,
		BaseURL:  base,
		Provider: auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: log}),
		Sessions: auth.NewSessions(auth.SessionsConfig{Store: auth.NewMemoryStore(nil), Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute}),
		Cookies:  cookies,
		Assets:   os.DirFS("../assets"),
	}
	if change != nil {
		change(&d)
	}
	sessions := d.Sessions
	h, err := New(d)
	if err != nil {
		b.Fatal(err)
	}
	assets, err := newAssets(d.Assets)
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	sess := storetest.BenchSession("ada", time.Now())
	if err := sessions.Start(b.Context(), rec, httptest.NewRequest(http.MethodGet, "/", nil), sess); err != nil {
		b.Fatal(err)
	}
	return &benchApp{
		handler:  h,
		sessions: sessions,
		pages:    newPages(log, assets.paths(), false),
		assets:   assets,
		cookie:   rec.Result().Cookies()[0],
	}
}

// serve runs req through h b.N times and checks the status each time.
func serve(b *testing.B, h http.Handler, req *http.Request, want int) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status %d, want %d", rec.Code, want)
		}
	}
}

func BenchmarkHome(b *testing.B) {
	app := newBenchApp(b)
	b.Run("anonymous", func(b *testing.B) {
		serve(b, app.handler, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK)
	})
	b.Run("signed-in", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(app.cookie)
		serve(b, app.handler, req, http.StatusOK)
	})
	b.Run("htmx-auth-box", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("HX-Request", "true")
		req.AddCookie(app.cookie)
		serve(b, app.handler, req, http.StatusOK)
	})
}

func BenchmarkDashboard(b *testing.B) {
	b.Run("store=memory", func(b *testing.B) {
		app := newBenchApp(b)
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.AddCookie(app.cookie)
		serve(b, app.handler, req, http.StatusOK)
	})
	b.Run("store=embedded", func(b *testing.B) {
		app := newBenchAppWith(b, withBoltStore(b))
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.AddCookie(app.cookie)
		serve(b, app.handler, req, http.StatusOK)
	})
}

// withBoltStore keeps the bench app's sessions in the embedded store, in
// a file of the benchmark's own, as the program does by default.
func withBoltStore(b *testing.B) func(*Deps) {
	b.Helper()
	store, err := boltstore.Open(b.TempDir()+"/sessions.db", boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	return func(d *Deps) {
		d.Sessions = auth.NewSessions(auth.SessionsConfig{Store: store, Cookies: d.Cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	}
}

// BenchmarkBare is the yardstick of the load benchmark's ratios: a bare
// net/http handler answering the same small fixed page as bench's.
func BenchmarkBare(b *testing.B) {
	page := []byte(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bare</title></head>
<body><p>Hello from a bare net/http handler.</p></body></html>
`)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	serve(b, h, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK)
}

// BenchmarkDashboardGzip is BenchmarkDashboard for a browser, which
// accepts gzip: the cost of compressing the page as it is sent.
func BenchmarkDashboardGzip(b *testing.B) {
	app := newBenchApp(b)
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	req.AddCookie(app.cookie)
	serve(b, app.handler, req, http.StatusOK)
}

// BenchmarkPageCompression compresses the dashboard at gzip's levels,
// with pooled writers as send does, and reports the size each gives:
// what pageGzipLevel was chosen from. Huffman-only is no cheaper: resetting
// its writer clears the matcher's tables of 640 KB that it never uses.
func BenchmarkPageCompression(b *testing.B) {
	app := newBenchApp(b)
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req.AddCookie(app.cookie)
	rec := httptest.NewRecorder()
	app.handler.ServeHTTP(rec, req)
	page := rec.Body.Bytes()
	for _, level := range []int{gzip.HuffmanOnly, gzip.BestSpeed, 3, 5, gzip.DefaultCompression, gzip.BestCompression} {
		b.Run(fmt.Sprintf("level-%d", level), func(b *testing.B) {
			writers := sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(nil, level); return zw }}
			var buf bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				buf.Reset()
				zw := writers.Get().(*gzip.Writer)
				zw.Reset(&buf)
				_, _ = zw.Write(page)
				_ = zw.Close()
				writers.Put(zw)
			}
			b.ReportMetric(float64(buf.Len()), "gzip-bytes")
			b.ReportMetric(float64(len(page)), "page-bytes")
		})
	}
}

// BenchmarkSessionMiddleware measures loadSession and requireSession alone,
// in front of a handler that does nothing.
func BenchmarkSessionMiddleware(b *testing.B) {
	app := newBenchApp(b)
	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := loadSession(app.sessions, app.pages)(requireSession(site{})(nothing))
	b.Run("signed-in", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.AddCookie(app.cookie)
		serve(b, h, req, http.StatusOK)
	})
	b.Run("anonymous", func(b *testing.B) {
		serve(b, h, httptest.NewRequest(http.MethodGet, "/dashboard", nil), http.StatusSeeOther)
	})
}

func BenchmarkAssets(b *testing.B) {
	app := newBenchApp(b)
	htmx := app.assets.paths().HTMX
	b.Run("gzip", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, htmx, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		serve(b, app.handler, req, http.StatusOK)
	})
	b.Run("not-modified", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, htmx, nil)
		req.Header.Set("If-None-Match", app.assets.files[strings.TrimPrefix(htmx, "/assets/")].file.etag[0])
		serve(b, app.handler, req, http.StatusNotModified)
	})
}

// BenchmarkProxiedPage is a signed-in browser's page load through the
// handlers in front of an app, over real loopback connections, as wrk
// drives the proxy rows of the load benchmark; with a bare tuned
// ReverseProxy beside it for comparison.
func BenchmarkProxiedPage(b *testing.B) {
	page := []byte("<!DOCTYPE html><title>app</title><p>Hello from the app.</p>")
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	b.Cleanup(app.Close)
	upstream, err := proxy.ParseUpstream(app.URL)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := proxy.SigningKeysFromSecrets([]string{strings.Repeat("k", 32)})
	if err != nil {
		b.Fatal(err)
	}
	signer, err := proxy.NewSigner("http://app.test", keys)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, h http.Handler, cookie string) {
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		transport := &http.Transport{MaxIdleConnsPerHost: 64}
		b.Cleanup(transport.CloseIdleConnections)
		client := &http.Client{Transport: transport}
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/app/page?tab=2", nil)
				req.Host = "app.test"
				req.Header.Set("Accept", "text/html")
				req.Header.Set("Sec-Fetch-Mode", "navigate")
				req.Header.Set("Cookie", cookie)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		target, _ := url.Parse(app.URL)
		rp := &httputil.ReverseProxy{
			Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
			Transport:  proxy.NewTransport(upstream, proxy.TransportOptions{}),
			BufferPool: &copyBuffers{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}},
		}
		run(b, rp, "latchkey="+strings.Repeat("s", 180))
	})
	for _, tt := range []struct {
		name  string
		front Front
	}{
		{"latchkey", Front{Upstream: upstream, Headers: proxy.HeaderNames{User: "X-Forwarded-User", Email: "X-Forwarded-Email", PreferredUsername: "X-Forwarded-Preferred-Username", Groups: "X-Forwarded-Groups"}}},
		{"latchkey-assertion", Front{Upstream: upstream, Signer: signer, Audience: app.URL}},
		{"latchkey-token-assertion", Front{Upstream: upstream, Signer: signer, Audience: app.URL, PassAccessToken: true}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			a := newBenchAppWith(b, func(d *Deps) { d.Prefix = "/.latchkey"; d.Front = tt.front })
			run(b, a.handler, a.cookie.String())
		})
	}
}

// copyBuffers is the bare proxy's pool of copy buffers, as a tuned proxy
// has one.
type copyBuffers struct{ pool sync.Pool }

func (c *copyBuffers) Get() []byte { return c.pool.Get().(*[32 << 10]byte)[:] }

func (c *copyBuffers) Put(b []byte) {
	if cap(b) == 32<<10 {
		c.pool.Put((*[32 << 10]byte)(b[:32<<10]))
	}
}
