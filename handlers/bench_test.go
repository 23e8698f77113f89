package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"latchkey/auth"
	"latchkey/auth/storetest"
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
	cookies, err := auth.NewCookies(auth.CookieConfig{Secrets: []string{strings.Repeat("s", 32)}, SessionMaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	sessions := auth.NewSessions(auth.SessionsConfig{Store: auth.NewMemoryStore(nil), Cookies: cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base, _ := url.Parse("http://app.test")
	d := Deps{
		Logger:   log,
		BaseURL:  base,
		Provider: auth.NewProvider(auth.ProviderConfig{Issuer: "https://idp.invalid", ClientID: "c", HTTPClient: http.DefaultClient, Logger: log}),
		Sessions: sessions,
		Cookies:  cookies,
		Assets:   os.DirFS("../assets"),
	}
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
	app := newBenchApp(b)
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req.AddCookie(app.cookie)
	serve(b, app.handler, req, http.StatusOK)
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
