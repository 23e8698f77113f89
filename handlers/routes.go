package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"latchkey/auth"
)

// routes lists every route of the app.
func routes(d Deps, p *pages, assets *assetServer, devIdP http.Handler) http.Handler {
	refresher := auth.NewRefresher(d.Provider, d.Sessions)
	csrf := http.NewCrossOriginProtection()
	// Behind a proxy the Host header may not be the public host.
	_ = csrf.AddTrustedOrigin(d.BaseURL.Scheme + "://" + d.BaseURL.Host)
	csrf.SetDenyHandler(forbiddenCrossOrigin(p))

	r := chi.NewRouter()
	// HEAD is answered wherever GET is, by the GET handler; net/http
	// sends its headers and drops its body.
	r.Use(recoverPanics(p), logRequests(d.Logger), securityHeaders(d.BaseURL, d.Provider), csrf.Handler, middleware.GetHead)
	r.NotFound(notFound(p))
	r.MethodNotAllowed(methodNotAllowed(p))

	r.Get("/healthz", handleHealth())
	r.Get("/readyz", handleReady(p, d.Provider, d.Sessions))
	r.With(readForm(logoutTokenLimit, p.failStatus)).Post("/backchannel-logout", handleBackChannelLogout(p, d.Provider, d.Sessions))
	r.Method(http.MethodGet, "/assets/*", assets)
	if devIdP != nil {
		r.Mount("/dev-idp", devIdP)
	}

	// Pages.
	r.Group(func(r chi.Router) {
		r.Use(loadSession(d.Sessions, p))
		r.Get("/", handleHome(p, d.Cookies, d.Provider))
		r.Group(func(r chi.Router) {
			r.Use(limitLogins(p, d.LoginRateLimit, d.TrustedProxies))
			r.Get("/login", handleLogin(p, d.Provider, d.Cookies))
			r.Get("/callback", handleCallback(p, d.Provider, d.Cookies, d.Sessions, d.ProviderTimeout))
		})
		r.Get("/signed-in", handleSignedIn(p))
		r.Get("/logout", handleLogoutConfirm(p))
		r.With(requireSession()).Get("/dashboard", handleDashboard(p, d.Sessions))
	})

	// Forms: the body is read first, then the session's CSRF token is
	// checked.
	r.Group(func(r chi.Router) {
		r.Use(readForm(formLimit, p.fail), loadSession(d.Sessions, p), requireCSRF(p))
		r.Post("/logout", handleLogout(p, d.Provider, d.Cookies, d.Sessions, d.BaseURL))
		r.Group(func(r chi.Router) {
			r.Use(requireSession())
			r.Post("/profile/refresh", handleRefreshProfile(p, d.Sessions, refresher))
			r.Post("/sessions/{id}/end", handleEndSession(p, d.Sessions))
			r.Post("/sessions/end-others", handleEndOtherSessions(p, d.Sessions))
		})
	})
	return r
}
