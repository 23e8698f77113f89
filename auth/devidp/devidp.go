// Package devidp is the built-in development OpenID Connect provider: a
// complete provider with a handful of demo accounts and no passwords, so the
// app can be tried without registering it at a real identity provider.
// Everything it knows lives in memory and is lost on restart.
package devidp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Config configures the provider.
type Config struct {
	// Issuer is the provider's issuer URL, e.g. "http://localhost:3000/dev-idp".
	// The provider must be mounted at this URL's path.
	Issuer string
	// ClientID and ClientSecret are the credentials of the one client allowed.
	ClientID     string
	ClientSecret string
	// RedirectURIs are the client's registered redirect URIs, e.g. BASE_URL+"/callback".
	RedirectURIs []string
	// PostLogoutRedirectURIs are the client's registered post-logout redirect
	// URIs, e.g. BASE_URL+"/". The first is also where end_session sends the
	// browser when the request names none.
	PostLogoutRedirectURIs []string
	// BackChannelLogoutURI is the client's back-channel logout URI, e.g.
	// BASE_URL+"/backchannel-logout". When end_session ends a provider
	// session, a logout token is POSTed there before the browser is sent
	// back. Empty: no back-channel logout, and discovery does not offer it.
	BackChannelLogoutURI string
	// HTTPClient delivers back-channel logout tokens; nil means a client
	// that gives up after 5 seconds and follows no redirects.
	HTTPClient *http.Client
	// AvatarBaseURL is the absolute URL the demo pictures live under, e.g.
	// BASE_URL+"/assets/avatars/"; a user's picture is AvatarBaseURL+"<id>.svg".
	AvatarBaseURL string
	// Logger receives the provider's own log lines.
	Logger *slog.Logger
	// SignIn renders the sign-in page (HTML lives in the app's views, not here).
	SignIn func(w http.ResponseWriter, r *http.Request, page SignInPage)
	// Refuse answers a sign-in request that cannot go on, with a 4xx status
	// and a message for the user; nil means a plain-text answer.
	Refuse func(w http.ResponseWriter, r *http.Request, status int, message string)
}

// Provider is a running development OpenID provider.
type Provider struct {
	users   []User
	handler http.Handler
	store   *storage
}

// New validates cfg, generates a fresh ES256 signing key and builds the
// provider. It logs a warning that a development provider is active.
func New(cfg Config) (*Provider, error) {
	issuer, err := validateConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure development identity provider: %w", err)
	}

	key, err := newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("generate development identity provider signing key: %w", err)
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("generate development identity provider token key: %w", err)
	}

	issuerPath := strings.TrimSuffix(issuer.Path, "/")
	loginPath := issuerPath + "/login"
	users := demoUsers(cfg.AvatarBaseURL)
	store := newStorage(key, users, &client{
		id:                     cfg.ClientID,
		secret:                 cfg.ClientSecret,
		redirectURIs:           append([]string(nil), cfg.RedirectURIs...),
		postLogoutRedirectURIs: append([]string(nil), cfg.PostLogoutRedirectURIs...),
		loginPath:              loginPath,
	})
	backChannelOn := cfg.BackChannelLogoutURI != ""
	if backChannelOn {
		httpClient := cfg.HTTPClient
		if httpClient == nil {
			httpClient = defaultBackChannelClient()
		}
		store.sessionEnded = (&backChannel{
			uri:    cfg.BackChannelLogoutURI,
			issuer: cfg.Issuer,
			key:    key,
			client: httpClient,
			log:    cfg.Logger,
			now:    time.Now,
		}).logout
	}

	opts := []op.Option{op.WithCORSOptions(nil)}
	if issuer.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: cfg.PostLogoutRedirectURIs[0],
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          supportedScopes(),
		SupportedClaims:          supportedClaims(),

		BackChannelLogoutSupported:        backChannelOn,
		BackChannelLogoutSessionSupported: backChannelOn,
	}, store, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("create development identity provider: %w", err)
	}

	sign := signIn{
		store:    store,
		provider: provider,
		users:    users,
		render:   cfg.SignIn,
		refuse:   cfg.Refuse,
		action:   loginPath,
		log:      cfg.Logger,
	}
	router := chi.NewRouter()
	router.Use(limitRequests(refuse(cfg.Refuse)))
	router.Get("/login", sign.show)
	router.With(op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler).Post("/login", sign.submit)
	router.Mount("/", provider)

	cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn,
		"development identity provider is active: anyone can sign in as a demo user; it must not be used in production",
		slog.String("issuer", cfg.Issuer))

	return &Provider{users: users, handler: router, store: store}, nil
}

// limitRequests bounds what one request can make the provider read: its
// URI (the authorization request's parameters travel there) and its body,
// which may only be a small URL-encoded form (OAuth 2.0 sends nothing
// else). Too much is refused before any of it is parsed.
func limitRequests(refuse func(http.ResponseWriter, *http.Request, int, string)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.RequestURI) > maxRequestURI {
				refuse(w, r, http.StatusRequestURITooLong, "This login request is too long.")
				return
			}
			if r.ContentLength > maxRequestBody {
				refuse(w, r, http.StatusRequestEntityTooLarge, "This request is too large.")
				return
			}
			if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
				if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/x-www-form-urlencoded" {
					refuse(w, r, http.StatusUnsupportedMediaType, "This request must be a URL-encoded form.")
					return
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
			next.ServeHTTP(w, r)
		})
	}
}

// refuse returns how the provider refuses a request: with the app's page,
// or plain text when there is none.
func refuse(render func(http.ResponseWriter, *http.Request, int, string)) func(http.ResponseWriter, *http.Request, int, string) {
	if render != nil {
		return render
	}
	return func(w http.ResponseWriter, _ *http.Request, status int, message string) {
		http.Error(w, message, status)
	}
}

// Handler serves the provider: discovery, /authorize, /oauth/token,
// /userinfo, /keys, /end_session and the sign-in page at /login. Mount it at
// the issuer's path with chi (r.Mount("/dev-idp", p.Handler())) or behind
// http.StripPrefix; the paths it sees must be relative to the issuer.
func (p *Provider) Handler() http.Handler {
	return p.handler
}

// Users returns the demo accounts offered on the sign-in page.
func (p *Provider) Users() []User {
	return append([]User(nil), p.users...)
}

func validateConfig(cfg Config) (*url.URL, error) {
	issuer, err := absoluteURL(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if issuer.RawQuery != "" || issuer.Fragment != "" {
		return nil, errors.New("issuer: must have no query or fragment")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("client id is empty")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("client secret is empty")
	}
	if len(cfg.RedirectURIs) == 0 {
		return nil, errors.New("no redirect URI")
	}
	for _, u := range cfg.RedirectURIs {
		if _, err := absoluteURL(u); err != nil {
			return nil, fmt.Errorf("redirect URI: %w", err)
		}
	}
	if len(cfg.PostLogoutRedirectURIs) == 0 {
		return nil, errors.New("no post-logout redirect URI")
	}
	for _, u := range cfg.PostLogoutRedirectURIs {
		if _, err := absoluteURL(u); err != nil {
			return nil, fmt.Errorf("post-logout redirect URI: %w", err)
		}
	}
	if cfg.BackChannelLogoutURI != "" {
		if _, err := absoluteURL(cfg.BackChannelLogoutURI); err != nil {
			return nil, fmt.Errorf("back-channel logout URI: %w", err)
		}
	}
	if _, err := absoluteURL(cfg.AvatarBaseURL); err != nil {
		return nil, fmt.Errorf("avatar base URL: %w", err)
	}
	if cfg.Logger == nil {
		return nil, errors.New("no logger")
	}
	if cfg.SignIn == nil {
		return nil, errors.New("no sign-in page renderer")
	}
	return issuer, nil
}

func absoluteURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http or https URL", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", raw)
	}
	return u, nil
}

func supportedScopes() []string {
	return []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, scopeGroups}
}

func supportedClaims() []string {
	return []string{
		"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "at_hash", "c_hash", "azp", "client_id", "sid",
		"name", "given_name", "family_name", "picture", "preferred_username",
		"email", "email_verified", "groups",
	}
}

// scopeGroups asks for the groups claim, as Okta, Dex and others name it.
const scopeGroups = "groups"

// Bounds on what anyone can make the provider keep: an authorization
// request needs no sign-in, and anyone can sign in as a demo user. Beyond
// a limit the oldest entries are dropped; a developer's handful of logins
// never comes near.
const (
	maxAuthRequests = 1000   // pending or signed in, each for authRequestLifetime
	maxSessions     = 10_000 // provider sessions
	maxTokens       = 10_000 // access tokens, and as many refresh tokens
	maxParamLength  = 1024   // bytes of a stored state, nonce or code challenge
	maxRequestURI   = 8 << 10
	maxRequestBody  = 16 << 10
)

// Lifetimes of what the provider hands out.
const (
	authRequestLifetime  = 10 * time.Minute
	accessTokenLifetime  = 15 * time.Minute
	refreshTokenLifetime = 24 * time.Hour
	idTokenLifetime      = time.Hour
	clockSkew            = 5 * time.Second
)

// signingKey is the provider's ES256 key, generated at start and never stored.
type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &signingKey{id: rand.Text(), key: key}, nil
}
