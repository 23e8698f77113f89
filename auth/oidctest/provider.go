// Package oidctest runs a scriptable OpenID Connect provider inside a test, in the spirit of
// net/http/httptest.
//
// By default the provider behaves like a strict, certified one: authorization code flow only,
// PKCE with S256 required, exact redirect URI matching, single-use codes, HTTP Basic or
// client_secret_post client authentication (or none, for a public client, when enabled), signed
// ID tokens, userinfo only with a bearer header.
// A test can then make it misbehave (a tampered ID token, an unsigned one, a wrong issuer, a
// hanging token endpoint, …) with SetBehavior, and inspect every request it received.
//
// Every authorization request is approved at once, without a login page, for the one configured
// user.
package oidctest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Default values used when no option says otherwise.
const (
	DefaultClientID = "latchkey-test"
	DefaultSubject  = "user-1"
	DefaultName     = "Test User"
	DefaultEmail    = "test@example.com"
)

// Token lifetimes of the provider.
const (
	codeLifetime  = 10 * time.Minute
	tokenLifetime = time.Hour
)

// Provider is a running fake OpenID provider. Create it with New; it is safe for concurrent use.
type Provider struct {
	tb        testing.TB
	server    *httptest.Server
	baseURL   string // scheme://host:port of the server
	issuer    string
	settings  settings
	paths     endpointPaths
	user      map[string]any
	closed    chan struct{} // closed by Close, releases hanging requests
	closeOnce sync.Once

	mu            sync.Mutex
	behavior      Behavior
	keyRing       *keyRing
	keys          []*signingKey // every published key; the last one signs
	strayKey      *signingKey   // a key never published, for SignUnknownKey
	codes         map[string]*grant
	accessTokens  map[string]*accessGrant
	refreshTokens map[string]*grant
	idTokens      map[string]bool // every ID token issued, for id_token_hint checks
	assertionIDs  map[string]bool // the jti of every client assertion received
	lastIDToken   string
	requests      map[Endpoint][]Request
}

// grant is what an authorization code or a refresh token stands for.
type grant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	sid         string
	authTime    time.Time
	expires     time.Time
}

// accessGrant is what an access token stands for.
type accessGrant struct {
	scope   string
	expires time.Time
}

// endpointPaths are the URL paths the provider serves, all below the issuer path.
type endpointPaths struct {
	discovery  string
	authorize  string
	token      string
	userinfo   string
	jwks       string
	endSession string
	picture    string
}

// settings collect what the options ask for; they do not change once the provider runs.
type settings struct {
	clientID               string
	clientSecret           string
	redirectURIs           []string
	postLogoutRedirectURIs []string
	userOverrides          map[string]any
	alg                    jose.SignatureAlgorithm
	randomPaths            bool
	issuerPath             string
	issParameter           bool
	endSession             bool
	tokenAuthMethods       []string
	clientAuthMethod       string
	clientKey              *clientKey
	oneRefreshToken        bool
	tls                    bool
	offlineAccess          offlineAccess
}

// offlineAccess is how the provider treats the offline_access scope.
type offlineAccess int

const (
	// offlineAlways advertises offline_access and issues a refresh token on every grant.
	offlineAlways offlineAccess = iota
	// offlineAdvertised advertises offline_access and issues refresh tokens only when it is granted.
	offlineAdvertised
	// offlineUnsupported does not advertise offline_access and issues refresh tokens only when it
	// is granted anyway.
	offlineUnsupported
)

// Option configures a Provider at New.
type Option func(*settings) error

// WithClient registers the one client the provider knows, instead of DefaultClientID with a random
// secret. The secret must be at least 32 bytes long for SignHS256 to work.
func WithClient(id, secret string) Option {
	return func(s *settings) error {
		if id == "" {
			return fmt.Errorf("client id is empty")
		}
		s.clientID, s.clientSecret = id, secret
		return nil
	}
}

// WithRedirectURI registers a redirect URI; it may be given several times. Once one is
// registered, /authorize refuses every other redirect_uri with 400. Without any, every absolute
// http or https URI is accepted.
func WithRedirectURI(uri string) Option {
	return func(s *settings) error {
		if !isAbsoluteHTTPURL(uri) {
			return fmt.Errorf("redirect uri %q is not an absolute http(s) URL", uri)
		}
		s.redirectURIs = append(s.redirectURIs, uri)
		return nil
	}
}

// WithPostLogoutRedirectURI registers a post_logout_redirect_uri; it may be given several times.
// Once one is registered, the end-session endpoint refuses every other one with 400. Without any,
// every absolute http or https URI is accepted.
func WithPostLogoutRedirectURI(uri string) Option {
	return func(s *settings) error {
		if !isAbsoluteHTTPURL(uri) {
			return fmt.Errorf("post-logout redirect uri %q is not an absolute http(s) URL", uri)
		}
		s.postLogoutRedirectURIs = append(s.postLogoutRedirectURIs, uri)
		return nil
	}
}

// WithUser sets claims of the one user, merged over the defaults (sub DefaultSubject, name
// DefaultName, given_name, family_name, preferred_username, email DefaultEmail, email_verified,
// and a picture served by the provider). A nil value removes a default claim.
func WithUser(claims map[string]any) Option {
	return func(s *settings) error {
		if s.userOverrides == nil {
			s.userOverrides = map[string]any{}
		}
		maps.Copy(s.userOverrides, claims)
		return nil
	}
}

// WithAlg chooses the ID token signing algorithm: "RS256" (the default), "ES256" or "PS256".
func WithAlg(alg string) Option {
	return func(s *settings) error {
		switch a := jose.SignatureAlgorithm(alg); a {
		case jose.RS256, jose.ES256, jose.PS256:
			s.alg = a
			return nil
		}
		return fmt.Errorf("unsupported signing algorithm %q", alg)
	}
}

// WithPaths serves the authorization, token, userinfo, JWKS and end-session endpoints at random,
// unguessable paths (such as "/k3jd…/token"), so that only a client that reads them from the
// discovery document finds them.
func WithPaths() Option {
	return func(s *settings) error {
		s.randomPaths = true
		return nil
	}
}

// WithIssuerPath puts the issuer below a path of the server, such as "/tenant-a"; discovery is
// then at "/tenant-a/.well-known/openid-configuration".
func WithIssuerPath(path string) Option {
	return func(s *settings) error {
		path = strings.TrimRight(path, "/")
		if path != "" && !strings.HasPrefix(path, "/") {
			return fmt.Errorf("issuer path %q does not start with /", path)
		}
		if strings.ContainsAny(path, "?#") {
			return fmt.Errorf("issuer path %q contains a query or fragment", path)
		}
		s.issuerPath = path
		return nil
	}
}

// WithIssParameter advertises authorization_response_iss_parameter_supported in discovery and
// sends the issuer as the iss parameter on every authorization response (RFC 9207).
func WithIssParameter(enabled bool) Option {
	return func(s *settings) error {
		s.issParameter = enabled
		return nil
	}
}

// WithoutEndSession neither serves nor advertises an end-session endpoint.
func WithoutEndSession() Option {
	return func(s *settings) error {
		s.endSession = false
		return nil
	}
}

// WithTokenAuthMethods limits the client authentication methods the token endpoint accepts and
// discovery advertises to some of "client_secret_basic" and "client_secret_post" (both by default),
// "none" and "private_key_jwt". With "none" the client may also authenticate as a public client:
// its client_id in the body, no secret at all, PKCE alone (it is required of every client anyway).
// With "private_key_jwt" it may sign a client assertion with the key WithClientKey registers.
func WithTokenAuthMethods(methods ...string) Option {
	return func(s *settings) error {
		if len(methods) == 0 {
			return fmt.Errorf("no token endpoint auth method given")
		}
		for _, m := range methods {
			if m != authBasic && m != authPost && m != authNone && m != authPrivateKeyJWT {
				return fmt.Errorf("unsupported token endpoint auth method %q", m)
			}
		}
		s.tokenAuthMethods = methods
		return nil
	}
}

// WithClientAuthMethod registers the client for one of the methods WithTokenAuthMethods allows:
// the token endpoint refuses the client's other ones with invalid_client, while discovery still
// lists them all, as providers that let each client choose (Ory Hydra, Okta, Keycloak) do.
func WithClientAuthMethod(method string) Option {
	return func(s *settings) error {
		if method != authBasic && method != authPost && method != authNone && method != authPrivateKeyJWT {
			return fmt.Errorf("unsupported token endpoint auth method %q", method)
		}
		s.clientAuthMethod = method
		return nil
	}
}

// WithOneRefreshTokenPerUser keeps one refresh token per user and client, as Dex does: a new login
// of the user makes the refresh tokens issued before it invalid (invalid_grant).
func WithOneRefreshTokenPerUser() Option {
	return func(s *settings) error {
		s.oneRefreshToken = true
		return nil
	}
}

// WithOfflineAccess makes the provider issue a refresh token only for grants whose scope contains
// offline_access, as many providers do; advertised says whether discovery lists offline_access in
// scopes_supported. Without this option, offline_access is listed and every grant gets a refresh
// token.
func WithOfflineAccess(advertised bool) Option {
	return func(s *settings) error {
		s.offlineAccess = offlineUnsupported
		if advertised {
			s.offlineAccess = offlineAdvertised
		}
		return nil
	}
}

// WithTLS serves https with a test certificate; clients must use Provider.Client or trust it.
func WithTLS() Option {
	return func(s *settings) error {
		s.tls = true
		return nil
	}
}

// New starts a provider; tb.Cleanup closes it. It fails the test if an option is invalid.
func New(tb testing.TB, opts ...Option) *Provider {
	tb.Helper()
	s := settings{
		clientID:         DefaultClientID,
		clientSecret:     rand.Text() + rand.Text(),
		alg:              jose.RS256,
		endSession:       true,
		tokenAuthMethods: []string{authBasic, authPost},
	}
	for _, opt := range opts {
		if err := opt(&s); err != nil {
			tb.Fatalf("oidctest: configure provider: %v", err)
		}
	}
	ring, err := newKeyRing(s.alg)
	if err != nil {
		tb.Fatalf("oidctest: create signing keys: %v", err)
	}
	key, err := ring.next()
	if err != nil {
		tb.Fatalf("oidctest: create signing key: %v", err)
	}
	p := &Provider{
		tb:            tb,
		settings:      s,
		paths:         newEndpointPaths(s.issuerPath, s.randomPaths),
		closed:        make(chan struct{}),
		keyRing:       ring,
		keys:          []*signingKey{key},
		codes:         map[string]*grant{},
		accessTokens:  map[string]*accessGrant{},
		refreshTokens: map[string]*grant{},
		idTokens:      map[string]bool{},
		assertionIDs:  map[string]bool{},
		requests:      map[Endpoint][]Request{},
	}
	// The listener exists before the server starts, so everything the handlers read is set first.
	p.server = httptest.NewUnstartedServer(http.NotFoundHandler())
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	p.baseURL = scheme + "://" + p.server.Listener.Addr().String()
	p.issuer = p.baseURL + s.issuerPath
	p.user = p.makeUser()
	p.server.Config.Handler = p.routes()
	if s.tls {
		p.server.StartTLS()
	} else {
		p.server.Start()
	}
	tb.Cleanup(p.Close)
	if p.server.URL != p.baseURL {
		tb.Fatalf("oidctest: server URL %s differs from the expected %s", p.server.URL, p.baseURL)
	}
	return p
}

// newEndpointPaths lays out the endpoints below the issuer path, each in its own random folder
// when random is set.
func newEndpointPaths(issuerPath string, random bool) endpointPaths {
	at := func(name string) string {
		if random {
			return issuerPath + "/" + strings.ToLower(rand.Text()) + "/" + name
		}
		return issuerPath + "/" + name
	}
	return endpointPaths{
		discovery:  issuerPath + "/.well-known/openid-configuration",
		authorize:  at("authorize"),
		token:      at("token"),
		userinfo:   at("userinfo"),
		jwks:       at("jwks"),
		endSession: at("end_session"),
		picture:    issuerPath + "/picture.svg",
	}
}

// makeUser merges the option's claims over the default user.
func (p *Provider) makeUser() map[string]any {
	user := map[string]any{
		"sub":                DefaultSubject,
		"name":               DefaultName,
		"given_name":         "Test",
		"family_name":        "User",
		"preferred_username": "test",
		"email":              DefaultEmail,
		"email_verified":     true,
		"picture":            p.baseURL + p.paths.picture,
	}
	for k, v := range p.settings.userOverrides {
		if v == nil {
			delete(user, k)
			continue
		}
		user[k] = v
	}
	return user
}

// routes lists every endpoint the provider serves.
func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(p.paths.discovery, p.record(EndpointDiscovery, p.handleDiscovery))
	mux.Handle(p.paths.authorize, p.record(EndpointAuthorize, p.handleAuthorize))
	mux.Handle(p.paths.token, p.record(EndpointToken, p.handleToken))
	mux.Handle(p.paths.userinfo, p.record(EndpointUserinfo, p.handleUserinfo))
	mux.Handle(p.paths.jwks, p.record(EndpointJWKS, p.handleJWKS))
	if p.settings.endSession {
		mux.Handle(p.paths.endSession, p.record(EndpointEndSession, p.handleEndSession))
	}
	mux.Handle(p.paths.picture, p.record(EndpointPicture, handlePicture))
	return mux
}

// Issuer returns the issuer identifier: the server URL without a trailing slash, followed by the
// issuer path if one was configured.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID returns the registered client's identifier.
func (p *Provider) ClientID() string { return p.settings.clientID }

// ClientSecret returns the registered client's secret.
func (p *Provider) ClientSecret() string { return p.settings.clientSecret }

// Client returns an HTTP client that trusts the provider's certificate when it serves https.
func (p *Provider) Client() *http.Client { return p.server.Client() }

// User returns a copy of the user's claims, as userinfo answers them with every scope granted.
func (p *Provider) User() map[string]any { return maps.Clone(p.user) }

// Subject returns the user's sub claim, or "" if it was removed with WithUser.
func (p *Provider) Subject() string {
	sub, _ := p.user["sub"].(string)
	return sub
}

// DiscoveryURL returns the URL of the discovery document.
func (p *Provider) DiscoveryURL() string { return p.baseURL + p.paths.discovery }

// AuthorizationEndpoint returns the URL of the authorization endpoint.
func (p *Provider) AuthorizationEndpoint() string { return p.baseURL + p.paths.authorize }

// TokenEndpoint returns the URL of the token endpoint.
func (p *Provider) TokenEndpoint() string { return p.baseURL + p.paths.token }

// UserinfoEndpoint returns the URL of the userinfo endpoint.
func (p *Provider) UserinfoEndpoint() string { return p.baseURL + p.paths.userinfo }

// JWKSURI returns the URL of the JSON Web Key Set.
func (p *Provider) JWKSURI() string { return p.baseURL + p.paths.jwks }

// EndSessionEndpoint returns the URL of the end-session endpoint, or "" with WithoutEndSession.
func (p *Provider) EndSessionEndpoint() string {
	if !p.settings.endSession {
		return ""
	}
	return p.baseURL + p.paths.endSession
}

// SetBehavior replaces the way the provider misbehaves; the zero Behavior makes it correct again.
func (p *Provider) SetBehavior(b Behavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behavior = b
}

// currentBehavior returns the behavior in force for one request.
func (p *Provider) currentBehavior() Behavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.behavior
}

// RevokeAccessTokens forgets every access token issued so far, as a provider that revoked them or
// restarted with its tokens in memory: userinfo answers 401 invalid_token for them (RFC 6750
// §3.1). Refresh tokens stay good, and the tokens they get are accepted.
func (p *Provider) RevokeAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.accessTokens)
}

// LastIDToken returns the ID token most recently issued by the token endpoint, or "".
func (p *Provider) LastIDToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastIDToken
}

// Close releases hanging requests and shuts the server down. It is safe to call more than once.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.server.Close()
	})
}

// isAbsoluteHTTPURL reports whether s is an absolute http or https URL without a fragment.
func isAbsoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" &&
		!strings.Contains(s, "#")
}
