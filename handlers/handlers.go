// Package handlers is latchkey's HTTP surface: routes, pages, middleware
// and the one path every error takes to the user.
package handlers

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"latchkey/auth"
	"latchkey/auth/devidp"
	"latchkey/proxy"
)

// Deps is everything the handlers need.
type Deps struct {
	Logger *slog.Logger
	// BaseURL is where users reach the app; redirect URIs are built from it,
	// never from request headers.
	BaseURL  *url.URL
	Provider *auth.Provider
	Sessions *auth.Sessions
	Cookies  *auth.Cookies
	// Assets holds the static files served under /assets/.
	Assets fs.FS
	// DevIdP, when set, configures the built-in development provider,
	// mounted at /dev-idp. Its sign-in page is drawn here.
	DevIdP *devidp.Config
	// DevIdPExposed says that the development provider is reachable from
	// the network: every page then warns that anyone can sign in.
	DevIdPExposed bool
	// ProviderTimeout bounds the provider calls one callback makes
	// together (14 s when zero).
	ProviderTimeout time.Duration
	// LoginRateLimit is how many logins a client may start, and finish,
	// per minute; 0 means no limit.
	LoginRateLimit int
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// telling clients apart.
	TrustedProxies []netip.Prefix
	// Prefix, when set, is where latchkey's own routes are, such as
	// "/.latchkey": latchkey then stands in front of an app, whose routes
	// are all the others. Empty: latchkey's routes are at the root.
	Prefix string
	// Front says how latchkey stands in front of the app, with Prefix.
	Front Front
}

// Front is latchkey in front of an app: as its proxy (Upstream), or
// asked by a front server about each request (forward auth).
type Front struct {
	// Upstream is the app, when latchkey proxies to it; nil for forward
	// auth only.
	Upstream *proxy.Upstream
	// Transport carries requests to Upstream; nil: proxy.NewTransport's.
	Transport http.RoundTripper
	// UpstreamHost sends Upstream's host as Host, instead of the client's.
	UpstreamHost bool
	// PublicPaths reach the app without a session.
	PublicPaths *proxy.PublicPaths
	// Policy says who may use the app; nil: anyone who signs in.
	Policy *proxy.Policy
	// Headers name the identity headers; the zero value: the defaults.
	Headers proxy.HeaderNames
	// PassAccessToken sends the user's access token as Authorization.
	PassAccessToken bool
	// Signer signs the assertion sent to the app and publishes its keys.
	Signer *proxy.Signer
	// Audience is the assertion's aud: the app's origin.
	Audience string
}

// New returns the app's handler.
func New(d Deps) (http.Handler, error) {
	assets, err := newAssets(d.Assets)
	if err != nil {
		return nil, err
	}
	if d.ProviderTimeout == 0 {
		d.ProviderTimeout = 14 * time.Second
	}
	s := site{prefix: d.Prefix, base: d.BaseURL}
	assets.under = s.path(routeAssets)
	p := newPages(d.Logger, assets.paths(), d.DevIdP != nil)
	p.site, p.links = s, s.links()
	p.devIdPExposed = d.DevIdP != nil && d.DevIdPExposed
	var idp http.Handler
	if d.DevIdP != nil {
		cfg := *d.DevIdP
		cfg.SignIn = devSignIn(p)
		cfg.Refuse = devRefuse(p)
		provider, err := devidp.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("start development identity provider: %w", err)
		}
		idp = provider.Handler()
	}
	return routes(d, p, assets, idp)
}
