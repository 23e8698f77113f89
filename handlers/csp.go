package handlers

import (
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"latchkey/auth"
)

// contentSecurityPolicy allows scripts, styles and frames from this site
// only; images may also come from the provider (profile pictures). Forms
// post to this site only, but browsers also check form-action on every
// redirect that follows a form post, and the logout form's goes on to the
// provider's end-session endpoint: policy adds the provider's origins.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' https: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " +
	"form-action 'self'"

// policy makes the Content-Security-Policy header. The issuer's origin is
// known from the start; an end-session endpoint on another origin only
// once discovery has named it.
type policy struct {
	provider *auth.Provider
	self     string   // BASE_URL's origin, which 'self' covers
	issuer   string   // the issuer's origin
	header   []string // the header with the issuer; shared, never modified
	// endSession is the header with the end-session origin too, once it
	// is known and differs.
	endSession atomic.Pointer[endSessionPolicy]
}

type endSessionPolicy struct {
	origin string
	header []string
}

func newPolicy(base *url.URL, provider *auth.Provider) *policy {
	p := &policy{
		provider: provider,
		self:     strings.ToLower(base.Scheme + "://" + base.Host),
		issuer:   provider.Origin(),
	}
	p.header = []string{p.build(p.issuer)}
	return p
}

// value returns the header for this moment; it allocates nothing once the
// provider's origins are known.
func (p *policy) value() []string {
	o := p.provider.EndSessionOrigin()
	if o == "" || o == p.issuer || o == p.self {
		return p.header
	}
	if e := p.endSession.Load(); e != nil && e.origin == o {
		return e.header
	}
	e := &endSessionPolicy{origin: o, header: []string{p.build(p.issuer, o)}}
	p.endSession.Store(e)
	return e.header
}

// build returns the policy with form-action allowing origins too.
func (p *policy) build(origins ...string) string {
	header := contentSecurityPolicy
	var sources []string
	for _, o := range origins {
		if o == "" || o == p.self {
			continue
		}
		if s := cspSource(o); !slices.Contains(sources, s) {
			sources = append(sources, s)
		}
	}
	for _, s := range sources {
		header += " " + s
	}
	return header
}

// cspSource is the source expression that allows an origin. A host a
// source expression cannot name (an IPv6 literal, say) is allowed by its
// scheme: a broader rule, but a logout that works.
func cspSource(origin string) string {
	scheme, host, _ := strings.Cut(origin, "://")
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':') {
			return scheme + ":"
		}
	}
	return origin
}
