package handlers

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"latchkey/auth"
)

// routes lists every route of the app. latchkey's own routes are the
// same at the root of a site of its own and under the prefix in front of
// an app; there, every other request is the app's (see frontDoor).
func routes(d Deps, p *pages, assets *assetServer, devIdP http.Handler) (http.Handler, error) {
	refresher := auth.NewRefresher(d.Provider, d.Sessions)
	devices := newDeviceList(d.Sessions)
	csrf := http.NewCrossOriginProtection()
	// Behind a proxy the Host header may not be the public host.
	_ = csrf.AddTrustedOrigin(d.BaseURL.Scheme + "://" + d.BaseURL.Host)
	csrf.SetDenyHandler(forbiddenCrossOrigin(p))
	s := p.site
	headers := newPageHeaders(d.BaseURL, d.Provider)
	f, err := newFront(d, p, headers, refresher)
	if err != nil {
		return nil, err
	}

	own := chi.NewRouter()
	// HEAD is answered wherever GET is, by the GET handler; net/http
	// sends its headers and drops its body.
	own.Use(securityHeaders(headers), csrf.Handler, middleware.GetHead)
	own.NotFound(notFound(p))
	own.MethodNotAllowed(methodNotAllowed(p))

	// Every route is named with its full path (s.path), in one router: a
	// sub-router mounted at the prefix would route each request twice.
	own.Group(func(r chi.Router) {
		r.Get(s.path("/healthz"), handleHealth())
		r.Get(s.path("/readyz"), handleReady(p, d.Provider, d.Sessions))
		r.With(readForm(logoutTokenLimit, p.failStatus)).Post(s.path(routeBackChannel), handleBackChannelLogout(p, d.Provider, d.Sessions))
		r.Method(http.MethodGet, s.path(routeAssets)+"*", assets) // reached straight: see straightToAssets
		r.Method(http.MethodGet, s.path(routeScript), assets.file("app.js"))
		if devIdP != nil {
			r.Mount(s.path(routeDevIdP), devIdP)
		}

		// Pages.
		r.Group(func(r chi.Router) {
			r.Use(loadSession(d.Sessions, p))
			r.Get(s.path("/"), handleHome(p, d.Cookies, d.Provider))
			r.Get(s.path(routeBox), handleBox(p))
			r.Group(func(r chi.Router) {
				r.Use(limitLogins(p, d.LoginRateLimit, d.TrustedProxies))
				r.Get(s.path(routeLogin), handleLogin(p, d.Provider, d.Cookies))
				r.Get(s.path(routeCallback), handleCallback(p, d.Provider, d.Cookies, d.Sessions, d.ProviderTimeout))
			})
			r.Get(s.path(routeSignedIn), handleSignedIn(p))
			r.Get(s.path(routeLogout), handleLogoutConfirm(p))
			r.With(requireSession(s)).Get(s.dashboard(), handleDashboard(p, devices))
		})

		// Forms: the body is read first, then the session's CSRF token is
		// checked.
		r.Group(func(r chi.Router) {
			r.Use(readForm(formLimit, p.fail), loadSession(d.Sessions, p), requireCSRF(p))
			r.Post(s.path(routeLogout), handleLogout(p, d.Provider, d.Cookies, d.Sessions))
			r.Group(func(r chi.Router) {
				r.Use(requireSession(s))
				r.Post(s.path(routeRefresh), handleRefreshProfile(p, d.Sessions, refresher))
				r.Post(s.path(routeSessions)+"{id}/end", handleEndSession(p, d.Sessions, devices))
				r.Post(s.path(routeEndOthers), handleEndOtherSessions(p, d.Sessions, devices))
			})
		})

		if f != nil {
			if f.signer != nil {
				r.Method(http.MethodGet, s.path(routeJWKS), f.signer.JWKS())
			}
			r.Get(s.path(routeCheck), handleCheck(p, d.Sessions, refresher, f, d.Front.Policy, d.Front.PassAccessToken))
		}
	})

	var h = straightToAssets(s.path(routeAssets), assets, headers, own)
	if f != nil {
		h = &frontDoor{prefix: s.prefix, own: h, app: f.app, p: p, headers: headers}
	}
	return recoverPanics(p)(logRequests(d.Logger)(h)), nil
}

// straightToAssets answers a GET or HEAD of an asset as own would, but
// without routing it: of own's middleware only the security headers do
// anything for it (cross-origin protection lets safe methods through), and
// a page's assets are most of the requests it makes. Every other request
// goes to own, which routes the assets' other methods to 405.
func straightToAssets(under string, assets http.Handler, headers *pageHeaders, own http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.RawPath // what chi routes on, when set
		if path == "" {
			path = r.URL.Path
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(path, under) {
			headers.set(w.Header())
			assets.ServeHTTP(w, r)
			return
		}
		own.ServeHTTP(w, r)
	})
}
