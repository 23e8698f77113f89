package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"latchkey/auth"
	"latchkey/proxy"
	"latchkey/views"
)

// front is what latchkey in front of an app adds to its own routes.
type front struct {
	identity *proxy.IdentityHeaders
	signer   *proxy.Signer
	app      *app // nil for forward auth alone
}

// newFront returns latchkey in front of the app d describes, or nil when
// latchkey serves its own pages only.
func newFront(d Deps, p *pages, headers *pageHeaders, refresher *auth.Refresher) (*front, error) {
	if d.Prefix == "" {
		return nil, nil
	}
	signer := d.Front.Signer
	if d.Front.Headers != (proxy.HeaderNames{}) && d.Front.Headers.Assertion == "" {
		// No assertion header: none is signed (the keys are still
		// published, for assertions signed before).
		signer = nil
	}
	identity, err := proxy.NewIdentityHeaders(proxy.IdentityConfig{
		Names:           d.Front.Headers,
		PassAccessToken: d.Front.PassAccessToken,
		Signer:          signer,
		Audience:        d.Front.Audience,
		Log:             d.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("identity headers: %w", err)
	}
	f := &front{identity: identity, signer: d.Front.Signer}
	if d.Front.Upstream == nil {
		return f, nil
	}
	a := &app{
		p:         p,
		headers:   headers,
		sessions:  d.Sessions,
		refresher: refresher,
		public:    d.Front.PublicPaths,
		policy:    d.Front.Policy,
		passToken: d.Front.PassAccessToken,
		host:      publicHost(d.BaseURL),
		trusted:   d.TrustedProxies,
	}
	a.proxy, err = proxy.New(proxy.Config{
		Upstream:       d.Front.Upstream,
		Transport:      d.Front.Transport,
		Identity:       identity,
		OwnCookie:      d.Cookies.Owns,
		UpstreamHost:   d.Front.UpstreamHost,
		ForwardedProto: d.BaseURL.Scheme,
		ErrorHandler:   a.upstreamFailed,
		Log:            d.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy to the app: %w", err)
	}
	f.app = a
	return f, nil
}

// frontDoor is latchkey in front of an app. Which route a request is for
// is decided on its canonical path (see proxy.CanonicalPath), the one the
// app would act on: latchkey's own routes are those under the prefix, and
// every other request is the app's.
type frontDoor struct {
	prefix  string
	own     http.Handler
	app     *app // nil for forward auth alone: the app's paths are not found
	p       *pages
	headers *pageHeaders
}

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := proxy.ParseRequest(r)
	if err != nil {
		f.headers.set(w.Header())
		f.p.fail(w, r, err)
		return
	}
	if path := q.Path.String(); path == f.prefix || strings.HasPrefix(path, f.prefix+"/") || f.app == nil {
		if escaped := q.Path.Escaped(); escaped != r.URL.EscapedPath() {
			// Routed as it was decided on: /x/../.latchkey/login is the
			// login.
			u := *r.URL
			u.Path, u.RawPath = path, escaped
			r2 := *r
			r2.URL = &u
			r = &r2
		}
		f.own.ServeHTTP(w, r)
		return
	}
	f.app.serve(w, r, &q)
}

// app is every request for the app behind latchkey: it decides on each
// in the order proxy/doc.go gives, and sends it on with who is asking.
type app struct {
	p         *pages
	headers   *pageHeaders
	sessions  *auth.Sessions
	refresher *auth.Refresher
	public    *proxy.PublicPaths
	policy    *proxy.Policy
	proxy     *proxy.Proxy
	passToken bool
	// host is BASE_URL's host as browsers send it (without a default
	// port), for the realm and to tell misdirected requests.
	host    string
	trusted []netip.Prefix
}

// errMisdirected reports a request for a host that is not BASE_URL's.
type errMisdirected struct{ url string }

func (e *errMisdirected) Error() string { return "request for another host than BASE_URL's" }

func (a *app) serve(w http.ResponseWriter, r *http.Request, q *proxy.Request) {
	if a.misdirected(r, q.Host) {
		a.headers.set(w.Header())
		a.p.fail(w, r, &errMisdirected{url: a.p.site.base.String() + r.URL.RequestURI()})
		return
	}
	public := a.public.Match(q.Path)
	sess, err := a.session(r, public)
	if err != nil {
		a.headers.set(w.Header())
		a.p.fail(w, r, err)
		return
	}
	var id *proxy.Identity
	if sess != nil {
		id = identityOf(sess)
		if ok, reason := a.policy.Allows(id); !ok {
			if !public {
				a.headers.set(w.Header())
				a.p.forbid(w, r, q, sess, reason)
				return
			}
			// On a public path, a user who may not use the app is a
			// visitor.
			id = nil
		}
	}
	if id == nil && !public {
		a.headers.set(w.Header())
		a.p.challenge(w, r, q, a.sessions)
		return
	}
	if id != nil && a.passToken {
		switch err := a.accessToken(r, sess, id); {
		case err == nil:
		case public && (sessionGone(err) || errors.Is(err, auth.ErrNoRefreshToken)):
			id = nil
		case sessionGone(err) || errors.Is(err, auth.ErrNoRefreshToken):
			// Only a new login gets the app a token again.
			a.headers.set(w.Header())
			a.p.challenge(w, r, q, a.sessions)
			return
		default:
			a.headers.set(w.Header())
			a.p.fail(w, r, err)
			return
		}
	}
	openStream(w, r)
	a.proxy.Forward(w, r, q.Path, id)
}

// session is the request's session, or nil. On a public path, a request
// without a session cookie costs no store lookup, and a store that cannot
// be reached leaves it anonymous rather than unanswered.
func (a *app) session(r *http.Request, public bool) (*auth.Session, error) {
	if public && !a.sessions.HasCookie(r) {
		return nil, nil
	}
	sess, err := a.sessions.Load(r.Context(), r)
	switch {
	case err == nil:
		return sess, nil
	case errors.Is(err, auth.ErrNoSession):
		return nil, nil
	case public:
		a.p.log.WarnContext(r.Context(), "session not checked on a public path: the store failed", "path", r.URL.Path, "err", err)
		return nil, nil
	}
	return nil, err
}

// identityOf is who sess is, as the app is told.
func identityOf(sess *auth.Session) *proxy.Identity {
	u := &sess.User
	return &proxy.Identity{
		SessionKey:        sess.Key,
		Subject:           u.Subject,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		PreferredUsername: u.PreferredUsername,
		Groups:            u.Groups,
	}
}

// accessToken puts sess's access token in id, refreshed first when it
// has expired (once per session, however many requests wait for it).
func (a *app) accessToken(r *http.Request, sess *auth.Session, id *proxy.Identity) error {
	return accessToken(r, a.refresher, sess, id)
}

func accessToken(r *http.Request, refresher *auth.Refresher, sess *auth.Session, id *proxy.Identity) error {
	fresh, err := refresher.Fresh(r.Context(), sess)
	if err != nil {
		return err
	}
	tokens, err := fresh.Tokens()
	if err != nil {
		return err
	}
	id.AccessToken = tokens.AccessToken
	return nil
}

// challenge answers q, a request that needs a session and has none, as
// proxy.Request.Challenge says: a navigation is sent to log in, htmx and
// scripts get 401. A form a browser posted gets a page that says so, as
// a redirect would lose what was sent.
func (p *pages) challenge(w http.ResponseWriter, r *http.Request, q *proxy.Request, sessions *auth.Sessions) {
	if sessions.HasCookie(r) {
		sessions.ClearCookie(w)
	}
	login := p.site.loginURL(q.ReturnTo(), false)
	realm := publicHost(p.site.base)
	if q.Kind != proxy.Other || q.Header.Get("Sec-Fetch-Mode") != "navigate" || !q.CanRedirect {
		q.WriteChallenge(w, login, realm)
		return
	}
	status := q.Challenge(w.Header(), login, realm)
	prob := views.Problem{
		Status:    status,
		Title:     "Log in to continue",
		Message:   "You are not logged in, or your session has ended, so this was not sent. Log in, then send it again.",
		RetryURL:  login,
		RetryText: "Log in",
	}
	p.render(w, r, status, views.ErrorPage(p.shellFor(r.URL.Path, nil, prob.Title), prob), nil)
}

// forbid answers q, from a signed-in user whom the policy does not let
// in: a page (or, to htmx, its card) that says who they are signed in as,
// and why, with a way to log out; plain text to anything else.
func (p *pages) forbid(w http.ResponseWriter, r *http.Request, q *proxy.Request, sess *auth.Session, reason string) {
	p.log.InfoContext(r.Context(), "not allowed", "sub", sess.User.Subject, "path", q.Path.String(), "reason", reason)
	if q.Kind == proxy.Navigation || q.Kind == proxy.HTMX {
		s := p.shellFor(r.URL.Path, sess, "Not allowed")
		// A check's answer is shown in place of the app's page.
		s.LoginURL = p.site.loginURL(q.ReturnTo(), false)
		p.render(w, r, http.StatusForbidden, views.NotAllowed(s, reason), views.NotAllowedCard(s, reason))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, "Signed in, but not allowed: "+reason+".\n")
	}
}

// upstreamFailed answers a request the app did not answer: a page in
// latchkey's look to a navigation, plain text to anything else.
func (a *app) upstreamFailed(w http.ResponseWriter, r *http.Request, err *proxy.UpstreamError) {
	a.headers.set(w.Header())
	if proxy.Classify(r.Method, r.Header) == proxy.Navigation {
		a.p.fail(w, r, err)
		return
	}
	a.p.log.ErrorContext(r.Context(), "request failed", "status", err.Status(), "path", r.URL.Path, "problem", "the app did not answer", "err", err)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(err.Status()), err.Status())
}

// misdirected reports a request for another host than BASE_URL's (or
// BASE_URL's host in X-Forwarded-Host, from a trusted proxy). Mature
// proxies answer only the names they serve: nginx's server_name, Caddy's
// site address. The app is then never told another host, in which it
// might build links (a DNS rebinding attack, a poisoned password-reset
// link), and latchkey's cookies, which belong to BASE_URL's host, always
// come along.
func (a *app) misdirected(r *http.Request, host string) bool {
	if sameHost(host, a.host) {
		return false
	}
	forwarded := r.Header.Get("X-Forwarded-Host")
	if forwarded == "" || !sameHost(forwarded, a.host) {
		return true
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	return err != nil || !isTrusted(peer.Addr().Unmap(), a.trusted)
}

// publicHost is base's host as a browser sends it: without the scheme's
// default port.
func publicHost(base *url.URL) string {
	host := strings.ToLower(base.Host)
	if (base.Scheme == "http" && strings.HasSuffix(host, ":80")) || (base.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return host
}

// sameHost reports whether a Host header names want, which publicHost
// made; a default port written out counts as left out.
func sameHost(host, want string) bool {
	if strings.EqualFold(host, want) {
		return true
	}
	h, port, ok := strings.Cut(host, ":")
	if strings.HasPrefix(host, "[") {
		i := strings.LastIndex(host, "]:")
		h, port, ok = host[:i+1], host[i+2:], i >= 0
	}
	return ok && (port == "80" || port == "443") && strings.EqualFold(h, want)
}

// bodyIdleTimeout is how long a request body the app receives may pause,
// as nginx's client_body_timeout: a slow upload goes on as long as it
// moves.
const bodyIdleTimeout = time.Minute

// openStream lifts the server's time limits off a request for the app,
// which latchkey's own pages keep: the app's event streams, WebSockets and
// long downloads last as long as they like, and a request body may take
// as long as it needs while it does not pause for bodyIdleTimeout.
func openStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && !isUpgrade(r.Header) {
		r.Body = &idleBody{ReadCloser: r.Body, rc: rc}
	}
}

// idleBody is a request body that may pause for bodyIdleTimeout at most.
type idleBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
	return b.ReadCloser.Read(p)
}

// isUpgrade reports a request to switch protocols (a WebSocket).
func isUpgrade(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return true
			}
		}
	}
	return false
}
