package handlers

import (
	"net/url"
	"strings"

	"latchkey/auth"
	"latchkey/views"
)

// site is where latchkey's own routes are: at the root of a site of its
// own, or under a reserved prefix (/.latchkey) in front of an app, whose
// routes are everywhere else. Every link and redirect latchkey makes to
// its own pages is built here, and the route table uses the same names.
type site struct {
	// prefix is "" at the root, else what every own route starts with,
	// such as "/.latchkey".
	prefix string
	base   *url.URL
}

// The own routes whose paths pages and redirects need, relative to the
// prefix.
const (
	routeLogin       = "/login"
	routeCallback    = "/callback"
	routeSignedIn    = "/signed-in"
	routeLogout      = "/logout"
	routeRefresh     = "/profile/refresh"
	routeSessions    = "/sessions/"
	routeEndOthers   = "/sessions/end-others"
	routeBackChannel = "/backchannel-logout"
	routeAssets      = "/assets/"
	routeDevIdP      = "/dev-idp"
	routeJWKS        = "/jwks.json"
	routeCheck       = "/check"
	routeBox         = "/box"
	routeScript      = "/latchkey.js"
	// The dashboard is /dashboard at the root and /account in front of an
	// app, where it is the user's account with latchkey rather than the
	// app's main page.
	routeDashboard = "/dashboard"
	routeAccount   = "/account"
)

// front reports whether latchkey stands in front of an app.
func (s site) front() bool { return s.prefix != "" }

// path is the path of the own route p.
func (s site) path(p string) string { return s.prefix + p }

// url is the absolute URL of the own route p, from BASE_URL.
func (s site) url(p string) string { return s.base.JoinPath(s.prefix, p).String() }

// home is latchkey's own home page: the login box, and where a logout
// ends.
func (s site) home() string { return s.prefix + "/" }

// dashboardRoute is the dashboard's route, relative to the prefix.
func (s site) dashboardRoute() string {
	if s.front() {
		return routeAccount
	}
	return routeDashboard
}

// dashboard is the path of the dashboard.
func (s site) dashboard() string { return s.path(s.dashboardRoute()) }

// landing is where a finished login goes: where it started, or the
// dashboard; in front of an app, the app's home page.
func (s site) landing(returnTo string) string {
	switch {
	case returnTo != "":
		return returnTo
	case s.front():
		return "/"
	}
	return s.dashboard()
}

// loginURL is the one place login links are made: a login that comes
// back to returnTo ("" for the default landing page), and runs in the
// popup window when popup is set.
func (s site) loginURL(returnTo string, popup bool) string {
	u := s.path(routeLogin)
	sep := "?"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
		sep = "&"
	}
	if popup {
		u += sep + "popup=1"
	}
	return u
}

// returnTo is the return path of a login started from the page at path:
// none from latchkey's home page, which would only offer to log in again,
// nor from no page ("").
func (s site) returnTo(path string) string {
	if path == s.home() || path == "" {
		return ""
	}
	return auth.SafeReturnPath(path)
}

// owns reports whether path is one of latchkey's own pages rather than
// the app's.
func (s site) owns(path string) bool {
	return !s.front() || path == s.prefix || strings.HasPrefix(path, s.prefix+"/")
}

// links are the paths pages link and post to.
func (s site) links() views.Links {
	return views.Links{
		Home:             s.home(),
		Dashboard:        s.dashboard(),
		Logout:           s.path(routeLogout),
		RefreshProfile:   s.path(routeRefresh),
		Sessions:         s.path(routeSessions),
		EndOtherSessions: s.path(routeEndOthers),
	}
}

// URLs are the absolute URLs of latchkey's own routes that others are
// told about: the provider, where the client is registered, and the
// development provider.
type URLs struct {
	// Callback is the redirect URI.
	Callback string
	// PostLogout is where the provider sends the browser after logout.
	PostLogout string
	// BackChannelLogout takes the provider's logout tokens.
	BackChannelLogout string
	// DevIdP is the development provider's issuer.
	DevIdP string
	// Avatars is where the demo users' pictures are, with a final slash.
	Avatars string
}

// OwnURLs returns the URLs of latchkey's routes for BASE_URL base, under
// prefix ("" at the root): the same that the handlers serve.
func OwnURLs(base *url.URL, prefix string) URLs {
	s := site{prefix: prefix, base: base}
	return URLs{
		Callback:          s.url(routeCallback),
		PostLogout:        s.url("/"),
		BackChannelLogout: s.url(routeBackChannel),
		DevIdP:            s.url(routeDevIdP),
		Avatars:           s.url(routeAssets+"avatars") + "/",
	}
}
