package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The proxy benchmarks run the request in-process, with no front server,
// against an upstream on loopback that answers a small page, so that
// what latchkey adds weighs as much as it can against the work of a bare
// httputil.ReverseProxy. Compare "bare" with the others of the same run:
//
//	go test -run '^$' -bench . -benchmem ./proxy

// smallPage is what the upstream answers: a small HTML page.
var smallPage = "<!doctype html><title>app</title>" + strings.Repeat("<p>Some text of the app.</p>", 16)

func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, smallPage)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// discardWriter is a ResponseWriter that keeps nothing, reused from one
// request to the next.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) Flush()                      {}

// browserRequest is a signed-in browser's request for a page.
func browserRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://app.test/app/page?tab=2", nil)
	r.RemoteAddr = "192.0.2.10:51234"
	r.Header.Set("Accept", chromeNavigationAccept)
	r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "latchkey="+strings.Repeat("s", 180)+"; theme=dark")
	return r
}

func runParallel(b *testing.B, h http.Handler) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := browserRequest()
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// BenchmarkProxy compares a signed-in request through latchkey's proxy
// with the same request through a bare, tuned httputil.ReverseProxy (256
// idle connections, a buffer pool) in front of the same upstream.
func BenchmarkProxy(b *testing.B) {
	srv := benchUpstream(b)
	u, err := ParseUpstream(srv.URL)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("bare", func(b *testing.B) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
		bare := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u.URL)
				pr.Out.Host = pr.In.Host
				pr.SetXForwarded()
			},
			Transport:  tr,
			BufferPool: newBufferPool(),
		}
		runParallel(b, bare)
		tr.CloseIdleConnections()
	})

	latchkey := func(b *testing.B, cfg IdentityConfig) {
		ids, err := NewIdentityHeaders(cfg)
		if err != nil {
			b.Fatal(err)
		}
		tr := NewTransport(u, TransportOptions{})
		p, err := New(Config{Upstream: u, Transport: tr, Identity: ids, OwnCookie: func(name string) bool { return name == "latchkey" }})
		if err != nil {
			b.Fatal(err)
		}
		public, _ := ParsePublicPaths([]string{"/static/*", "/favicon.ico", "/healthz"})
		policy, _ := NewPolicy(PolicyConfig{EmailDomains: []string{"example.com"}})
		// What the handlers do for each request, but the session lookup.
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q, err := ParseRequest(r)
			if err != nil {
				b.Fatal(err)
			}
			if public.Match(q.Path) {
				b.Fatal("public")
			}
			if ok, _ := policy.Allows(ada); !ok {
				b.Fatal("refused")
			}
			p.Forward(w, r, q.Path, ada)
		})
		runParallel(b, h)
		tr.CloseIdleConnections()
	}
	b.Run("latchkey", func(b *testing.B) { latchkey(b, IdentityConfig{}) })
	b.Run("latchkey+token+assertion", func(b *testing.B) {
		keys, _ := SigningKeysFromSecrets([]string{secretA})
		signer, _ := NewSigner(issuer, keys)
		latchkey(b, IdentityConfig{PassAccessToken: true, Signer: signer, Audience: u.Origin()})
	})
}

// BenchmarkAssertion compares sending a session's cached headers and
// assertion with signing an assertion for every request.
func BenchmarkAssertion(b *testing.B) {
	keys, _ := SigningKeysFromSecrets([]string{secretA})
	signer, _ := NewSigner(issuer, keys)
	b.Run("cached", func(b *testing.B) {
		ids, _ := NewIdentityHeaders(IdentityConfig{PassAccessToken: true, Signer: signer, Audience: app})
		browser := browserRequest().Header
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			h := http.Header{}
			for pb.Next() {
				// A browser's headers, as the proxy's Rewrite has them.
				clear(h)
				for k, v := range browser {
					h[k] = v
				}
				ids.Set(h, ada)
			}
		})
	})
	b.Run("sign", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			now := time.Now()
			for pb.Next() {
				if _, err := signer.Sign(ada, app, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkForwardAuth compares the check of a signed-in request, but the
// session lookup, with a bare handler answering 200, both served over
// loopback to keep-alive clients, as a front server would ask.
func BenchmarkForwardAuth(b *testing.B) {
	keys, _ := SigningKeysFromSecrets([]string{secretA})
	signer, _ := NewSigner(issuer, keys)
	ids, _ := NewIdentityHeaders(IdentityConfig{Signer: signer, Audience: app})
	policy, _ := NewPolicy(PolicyConfig{EmailDomains: []string{"example.com"}})
	for _, bench := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"bare", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }},
		{"check", func(w http.ResponseWriter, r *http.Request) {
			q := ParseForwardAuth(r)
			if q.Kind != Navigation {
				b.Fatal(q.Kind)
			}
			if ok, _ := policy.Allows(ada); !ok {
				b.Fatal("refused")
			}
			ids.Set(w.Header(), ada)
			w.WriteHeader(http.StatusOK)
		}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			srv := httptest.NewServer(bench.h)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := browserRequest()
				r.RequestURI = ""
				r.URL, _ = url.Parse(srv.URL + "/.latchkey/check")
				r.Header.Set("X-Forwarded-Method", "GET")
				r.Header.Set("X-Forwarded-Uri", "/app/page?tab=2")
				r.Header.Set("X-Forwarded-Host", "app.test")
				for pb.Next() {
					resp, err := client.Do(r)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		})
	}
}

func BenchmarkCanonicalPath(b *testing.B) {
	for _, bench := range []struct{ name, path string }{
		{"canonical", "/app/reports/2024/summary.html"},
		{"to clean", "/static/../app/%7Euser//reports/./caf%C3%A9"},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CanonicalPath(bench.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPublicPaths(b *testing.B) {
	public, _ := ParsePublicPaths([]string{"/static/*", "/favicon.ico", "/healthz", "/assets/**/*.png"})
	p, _ := CanonicalPath("/app/reports/2024/summary.html")
	b.ReportAllocs()
	for b.Loop() {
		if public.Match(p) {
			b.Fatal("public")
		}
	}
}
