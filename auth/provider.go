package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// ErrProviderUnavailable reports that the identity provider's discovery
// document has not been loaded yet.
var ErrProviderUnavailable = errors.New("identity provider unavailable")

// ErrProviderMisconfigured reports a provider that answers discovery in a
// way latchkey's configuration cannot work with; a *MisconfigurationError
// says how.
var ErrProviderMisconfigured = errors.New("identity provider misconfigured")

// MisconfigurationError is a discovery document that does not fit the
// configuration, such as one naming another issuer. Nobody can sign in
// until an operator changes one or the other; Problem says what, in words
// for them. It matches ErrProviderMisconfigured.
type MisconfigurationError struct{ Problem string }

func (e *MisconfigurationError) Error() string { return e.Problem }
func (e *MisconfigurationError) Unwrap() error { return ErrProviderMisconfigured }

// acceptedAlg reports whether latchkey accepts ID tokens signed with alg.
// "none" and the HMAC algorithms (keyed with the client secret) never are.
func acceptedAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// ClockSkew is how far in the future an ID token's iat and nbf may be, to
// allow for the provider's clock running ahead of ours.
const ClockSkew = time.Minute

// ExpiryLeeway is how long after its exp an ID token or a back-channel
// logout token is still accepted, to allow for the provider's clock running
// behind ours. It only ever widens what is accepted (OpenID Connect Core
// 3.1.3.7): a token is good until exp, however short-lived.
const ExpiryLeeway = 30 * time.Second

// The token endpoint authentication methods of OpenID Connect Core 9 that
// latchkey uses.
const (
	// AuthMethodBasic sends the client ID and secret in HTTP Basic.
	AuthMethodBasic = "client_secret_basic"
	// AuthMethodPost sends them in the request body.
	AuthMethodPost = "client_secret_post"
	// AuthMethodNone sends the client ID alone: a public client, PKCE
	// alone binding the code to the login.
	AuthMethodNone = "none"
)

// ProviderConfig configures a Provider.
type ProviderConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// AuthMethod is how the client authenticates at the token endpoint,
	// one of the AuthMethod constants; "" chooses from discovery, as
	// authMethod says.
	AuthMethod string
	// ClientKey signs the client's assertions for AuthMethodPrivateKeyJWT,
	// which it implies; ClientSecret is then empty.
	ClientKey *ClientKey
	// RedirectURI is BASE_URL + "/callback", from configuration only.
	RedirectURI string
	Scopes      []string
	// ScopesIfOffered are requested too when the provider's discovery
	// document lists them (the groups scope, say).
	ScopesIfOffered []string
	// GroupsClaim names the claim the user's groups are read from, in
	// userinfo, else in the ID token (see claimGroups); "" reads none.
	GroupsClaim string
	// HTTPClient makes every call to the provider; it must have a timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Provider is the OpenID provider as seen by this relying party. It becomes
// ready once discovery succeeds; until then logins answer
// ErrProviderUnavailable and Run keeps retrying.
type Provider struct {
	cfg   ProviderConfig
	conn  atomic.Pointer[connection]
	retry chan struct{}
	// misconfigured is what the last discovery attempt found wrong, if it
	// found the provider misconfigured.
	misconfigured atomic.Pointer[MisconfigurationError]

	// running says that Run is trying discovery; next, when not nil, is
	// closed once the next attempt it makes has ended: logins wait on it.
	running atomic.Bool
	mu      sync.Mutex
	next    chan struct{}
}

// LoginWait bounds how long a login waits for the discovery attempt it
// asks for, while the provider is not ready: the first login after the
// provider comes back succeeds, and one while it is down answers soon.
const LoginWait = 2 * time.Second

// connection is what a successful discovery yields.
type connection struct {
	rp   rp.RelyingParty
	algs []string
	// keys verifies signatures with the provider's published keys, which
	// keySet fetches and keeps.
	keys             oidc.KeySet
	keySet           *keySetTransport
	endSession       string
	endSessionOrigin string
	issRequired      bool
}

// metadata is the part of the discovery document read here beyond what the
// relying party library keeps.
type metadata struct {
	Issuer             string   `json:"issuer"`
	EndSessionEndpoint string   `json:"end_session_endpoint"`
	SigningAlgs        []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpoint      string   `json:"token_endpoint"`
	AuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
	AuthSigningAlgs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	Scopes             []string `json:"scopes_supported"`
	JWKSURI            string   `json:"jwks_uri"`
	// IssParameter is RFC 9207's authorization_response_iss_parameter_supported.
	IssParameter bool `json:"authorization_response_iss_parameter_supported"`
}

// NewProvider returns a Provider that is not yet ready; call Run.
func NewProvider(cfg ProviderConfig) *Provider {
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	return &Provider{cfg: cfg, retry: make(chan struct{}, 1)}
}

// Issuer returns the configured issuer.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Ready reports whether discovery has succeeded.
func (p *Provider) Ready() bool { return p.conn.Load() != nil }

// Misconfiguration returns what the last discovery attempt found wrong
// with the provider's configuration or latchkey's, or nil when it found
// nothing of the kind (the provider may still be down, or ready).
func (p *Provider) Misconfiguration() *MisconfigurationError {
	return p.misconfigured.Load()
}

// Retry asks a waiting Run to try discovery again now rather than at the
// end of its backoff. It never blocks.
func (p *Provider) Retry() {
	select {
	case p.retry <- struct{}{}:
	default:
	}
}

// Run loads the provider's discovery document, retrying with capped
// exponential backoff until it succeeds or ctx ends.
func (p *Provider) Run(ctx context.Context) {
	const minDelay, maxDelay = 250 * time.Millisecond, 30 * time.Second
	delay := minDelay
	lastRetry := time.Time{}
	logged := "" // the misconfiguration last logged
	p.running.Store(true)
	defer func() {
		p.running.Store(false)
		p.attemptEnded(p.attemptStarts())
	}()
	for {
		done := p.attemptStarts()
		err := p.Discover(ctx)
		p.attemptEnded(done)
		if err == nil {
			p.cfg.Logger.Info("identity provider ready", "issuer", p.cfg.Issuer)
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := delay/2 + rand.N(delay/2+1)
		var mis *MisconfigurationError
		switch {
		case !errors.As(err, &mis):
			logged = ""
			p.cfg.Logger.Warn("identity provider discovery failed", "issuer", p.cfg.Issuer, "err", err, "retry_in", wait.Round(time.Millisecond))
		case mis.Problem != logged:
			// Said once per change: it lasts until an operator acts.
			logged = mis.Problem
			p.cfg.Logger.Error("identity provider misconfigured: nobody can sign in until it is fixed; discovery is tried again meanwhile",
				"issuer", p.cfg.Issuer, "problem", mis.Problem)
		default:
			p.cfg.Logger.Debug("identity provider still misconfigured", "issuer", p.cfg.Issuer, "retry_in", wait.Round(time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-p.retry:
			timer.Stop()
			// A nudge from a user's request retries at once, but at most
			// once a second, so requests cannot turn into a flood.
			if d := time.Until(lastRetry.Add(time.Second)); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			lastRetry = time.Now()
		}
		delay = min(delay*2, maxDelay)
	}
}

// attemptStarts takes the channel of the logins waiting for the attempt
// about to start.
func (p *Provider) attemptStarts() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.next
	p.next = nil
	return done
}

// attemptEnded wakes the logins that waited for an attempt.
func (p *Provider) attemptEnded(done chan struct{}) {
	if done != nil {
		close(done)
	}
}

// await asks Run for a discovery attempt now and waits, at most LoginWait
// or until ctx ends, for it to end; every request waiting at the same time
// waits for the same attempt. It returns the connection, nil if there is
// still none.
func (p *Provider) await(ctx context.Context) *connection {
	if !p.running.Load() {
		return p.conn.Load()
	}
	p.mu.Lock()
	if p.next == nil {
		p.next = make(chan struct{})
	}
	done := p.next
	p.mu.Unlock()
	// Run stores the connection before it stops waking anyone.
	if c := p.conn.Load(); c != nil {
		return c
	}
	p.Retry()
	timer := time.NewTimer(LoginWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
	return p.conn.Load()
}

// Discover makes one attempt to load the provider's discovery document;
// once one succeeds the provider is ready. Run calls it until then; a test
// may call it once, to have a ready provider without a goroutine.
func (p *Provider) Discover(ctx context.Context) error {
	err := p.discover(ctx)
	var mis *MisconfigurationError
	if errors.As(err, &mis) {
		p.misconfigured.Store(mis)
	} else {
		p.misconfigured.Store(nil)
	}
	return err
}

func (p *Provider) discover(ctx context.Context) error {
	meta, err := p.fetchMetadata(ctx)
	if err != nil {
		return err
	}
	algs := []string{"RS256"} // the default of OpenID Connect Discovery
	if len(meta.SigningAlgs) > 0 {
		algs = slices.DeleteFunc(slices.Clone(meta.SigningAlgs), func(a string) bool { return !acceptedAlg(a) })
		if len(algs) == 0 {
			return fmt.Errorf("provider signs ID tokens only with %v, none of which is accepted", meta.SigningAlgs)
		}
	}
	method, err := p.authMethod(meta.AuthMethods)
	if err != nil {
		return err
	}
	if method == AuthMethodPrivateKeyJWT && len(meta.AuthSigningAlgs) > 0 && !slices.Contains(meta.AuthSigningAlgs, p.cfg.ClientKey.Algorithm) {
		return &MisconfigurationError{Problem: fmt.Sprintf(
			"the client key (OIDC_CLIENT_KEY_FILE) signs with %s, which is not one the provider's discovery accepts for client assertions: %s",
			p.cfg.ClientKey.Algorithm, printableList(meta.AuthSigningAlgs))}
	}
	authStyle := oauth2.AuthStyleInParams // client_secret_post; none and private_key_jwt have no secret to send
	if method == AuthMethodBasic {
		authStyle = oauth2.AuthStyleInHeader
	}
	scopes := p.cfg.Scopes
	if slices.Contains(meta.Scopes, oidc.ScopeOfflineAccess) && !slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		// A refresh token lets a session outlive its first access token.
		scopes = append(slices.Clip(scopes), oidc.ScopeOfflineAccess)
	}
	for _, s := range p.cfg.ScopesIfOffered {
		if slices.Contains(meta.Scopes, s) && !slices.Contains(scopes, s) {
			scopes = append(slices.Clip(scopes), s)
		}
	}
	client := *p.cfg.HTTPClient
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	keySet := &keySetTransport{next: next, url: meta.JWKSURI, now: time.Now, log: p.cfg.Logger}
	client.Transport = keySet
	if method == AuthMethodPrivateKeyJWT {
		// The assertion's audience is the token endpoint (OpenID Connect
		// Core 9, RFC 7523 3), which fosite (Ory Hydra, Authelia), Okta
		// and Entra ID check for; it is sent there alone, so it cannot be
		// replayed elsewhere.
		client.Transport = &clientAssertionTransport{next: keySet, tokenURL: meta.TokenEndpoint, clientID: p.cfg.ClientID, audience: meta.TokenEndpoint, key: p.cfg.ClientKey}
	}
	relyingParty, err := rp.NewRelyingPartyOIDC(ctx, p.cfg.Issuer, p.cfg.ClientID, p.cfg.ClientSecret, p.cfg.RedirectURI, scopes,
		rp.WithHTTPClient(&client),
		rp.WithAuthStyle(authStyle),
	)
	if err != nil {
		return fmt.Errorf("set up relying party: %w", err)
	}
	p.conn.Store(&connection{
		rp:               relyingParty,
		algs:             algs,
		keys:             relyingParty.IDTokenVerifier().KeySet,
		keySet:           keySet,
		endSession:       meta.EndSessionEndpoint,
		endSessionOrigin: origin(meta.EndSessionEndpoint),
		issRequired:      meta.IssParameter,
	})
	return nil
}

// authMethod is the token endpoint authentication method to use, given
// the methods the discovery document offers: the configured one (or
// private_key_jwt with a client key), which discovery must offer when it
// lists methods, or by default
// client_secret_basic (the default of OpenID Connect Discovery),
// client_secret_post when discovery offers that and not basic, and none
// without a client secret. None is not checked: providers that take
// public clients often leave it out of the list (Keycloak, Auth0).
func (p *Provider) authMethod(offered []string) (string, error) {
	m := p.cfg.AuthMethod
	if m == "" && p.cfg.ClientKey != nil {
		m = AuthMethodPrivateKeyJWT
	}
	switch {
	case m == "" && p.cfg.ClientSecret == "":
		return AuthMethodNone, nil
	case m == "" && len(offered) > 0 && !slices.Contains(offered, AuthMethodBasic) && slices.Contains(offered, AuthMethodPost):
		return AuthMethodPost, nil
	case m == "":
		return AuthMethodBasic, nil
	case m == AuthMethodPrivateKeyJWT && p.cfg.ClientKey == nil:
		return "", errors.New("private_key_jwt without a client key")
	case m != AuthMethodNone && len(offered) > 0 && !slices.Contains(offered, m):
		return "", &MisconfigurationError{Problem: fmt.Sprintf(
			"token endpoint authentication method %s (OIDC_TOKEN_AUTH_METHOD) is not one the provider's discovery offers: %s", m, printableList(offered))}
	}
	return m, nil
}

// printableList shows a list from a provider's document on one line, in
// a bounded length, whatever it holds.
func printableList(list []string) string {
	const most, longest = 16, 64
	shown := make([]string, 0, min(len(list), most))
	for _, item := range list[:min(len(list), most)] {
		item = strings.Map(func(r rune) rune {
			if r > ' ' && r < 0x7f && r != ',' {
				return r
			}
			return '?'
		}, item)
		if len(item) > longest {
			item = item[:longest] + "…"
		}
		shown = append(shown, item)
	}
	if len(list) > most {
		shown = append(shown, fmt.Sprintf("and %d more", len(list)-most))
	}
	return strings.Join(shown, ", ")
}

// Origin returns the configured issuer's origin, scheme://host[:port]:
// where the browser is sent to log in and out.
func (p *Provider) Origin() string { return origin(p.cfg.Issuer) }

// EndSessionOrigin returns the origin of the end-session endpoint the
// discovery document names, which may differ from the issuer's; "" before
// discovery or when there is none.
func (p *Provider) EndSessionOrigin() string {
	if c := p.conn.Load(); c != nil {
		return c.endSessionOrigin
	}
	return ""
}

// origin returns the origin of an absolute URL, scheme://host[:port] in
// lower case, or "" for anything else.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func (p *Provider) fetchMetadata(ctx context.Context) (*metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.cfg.Issuer, "/")+oidc.DiscoveryEndpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery request: %w", err)
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch discovery document: status %s", resp.Status)
	}
	var meta metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return nil, fmt.Errorf("decode discovery document: %w", err)
	}
	// An exact match, as OpenID Connect Discovery 4.3 demands: a provider
	// that names another issuer is not the one configured. Quoted, so a
	// trailing slash shows.
	if meta.Issuer != p.cfg.Issuer {
		return nil, &MisconfigurationError{Problem: fmt.Sprintf("issuer mismatch: configured %q, provider says %.256q", p.cfg.Issuer, meta.Issuer)}
	}
	return &meta, nil
}

// AuthCodeURL returns the provider's authorization URL for the attempt:
// authorization code flow with PKCE S256, state and nonce. Before the
// provider is ready, it waits for a discovery attempt as await says.
func (p *Provider) AuthCodeURL(ctx context.Context, a *LoginAttempt) (string, error) {
	c := p.conn.Load()
	if c == nil {
		c = p.await(ctx)
	}
	if c == nil {
		if mis := p.misconfigured.Load(); mis != nil {
			return "", mis
		}
		return "", ErrProviderUnavailable
	}
	return rp.AuthURL(a.State, c.rp,
		rp.WithCodeChallenge(a.codeChallenge()),
		rp.AuthURLOpt(rp.WithURLParam("nonce", a.Nonce)),
	), nil
}

// maxCodeLength bounds an authorization code; providers' codes are tens
// to a few hundred characters, Entra ID's over a thousand.
const maxCodeLength = 8 << 10

// CheckCallback makes the checks of the callback's query that cost
// nothing — the provider's error, RFC 9207's iss, a code of sane length —
// so that a callback that fails them spends no store write nor token
// request. Finish makes them again. Errors are *ProviderError.
func (p *Provider) CheckCallback(query url.Values) error {
	c := p.conn.Load()
	if c == nil {
		return &ProviderError{Reason: ReasonUnavailable, Err: ErrProviderUnavailable}
	}
	return p.checkCallback(c, query)
}

func (p *Provider) checkCallback(c *connection, query url.Values) error {
	if e := query.Get("error"); e != "" {
		return &ProviderError{Reason: ReasonRefused, Err: fmt.Errorf("provider answered error %.64q", e)}
	}
	// RFC 9207: an iss that is present must be the issuer, and a provider
	// that promises to send it must send it.
	if iss, ok := query["iss"]; ok || c.issRequired {
		if !ok || len(iss) != 1 || iss[0] != p.cfg.Issuer {
			return &ProviderError{Reason: ReasonInvalid, Err: fmt.Errorf("authorization response iss %.256q does not match the issuer", query.Get("iss"))}
		}
	}
	if code := query.Get("code"); code == "" || len(code) > maxCodeLength {
		return &ProviderError{Reason: ReasonInvalid, Err: fmt.Errorf("callback without a code, or with one of %d bytes", len(code))}
	}
	return nil
}

// Finish completes the attempt from the callback's query: it checks the
// response, exchanges the code, verifies the ID token and reads userinfo.
// The returned session has its User, ProviderSID and Tokens set.
// Errors are *ProviderError.
func (p *Provider) Finish(ctx context.Context, query url.Values, a *LoginAttempt) (*Session, error) {
	c := p.conn.Load()
	if c == nil {
		return nil, &ProviderError{Reason: ReasonUnavailable, Err: ErrProviderUnavailable}
	}
	if err := p.checkCallback(c, query); err != nil {
		return nil, err
	}
	code := query.Get("code")

	// The code exchange of rp.CodeExchange, with PKCE and the client's
	// authentication, but the ID token verified by verifyIDToken.
	token, err := c.rp.OAuthConfig().Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.rp.HttpClient()), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return nil, &ProviderError{Reason: classify(err), Err: fmt.Errorf("exchange code: %w", err)}
	}
	idToken, _ := token.Extra("id_token").(string)
	if idToken == "" {
		return nil, &ProviderError{Reason: ReasonInvalid, Err: errors.New("exchange code: the token response has no ID token")}
	}
	claims, err := p.verifyIDToken(ctx, c, idToken, idTokenWant{accessToken: token.AccessToken, nonce: a.Nonce})
	if err != nil {
		return nil, &ProviderError{Reason: classify(err), Err: fmt.Errorf("verify ID token: %w", err)}
	}
	tokens := Tokens{
		IDToken:      idToken,
		AccessToken:  token.AccessToken,
		TokenType:    token.TokenType,
		RefreshToken: token.RefreshToken,
		Expiry:       token.Expiry,
	}

	info, err := p.userinfo(ctx, c, claims, tokens)
	if err != nil {
		return nil, err
	}
	user, err := userFrom(claims.Subject, info)
	if err != nil {
		return nil, err
	}
	user.Groups = p.groups(ctx, user, claims, nil)
	return &Session{User: user, tokens: &tokens, ProviderSID: claims.SessionID}, nil
}

// LogoutURL returns where to send the browser to end the provider's
// session (RP-Initiated Logout), or "" when the provider offers no way.
func (p *Provider) LogoutURL(idToken, postLogoutRedirectURI, state string) string {
	c := p.conn.Load()
	if c != nil && c.endSession != "" {
		u, err := url.Parse(c.endSession)
		if err != nil {
			return ""
		}
		q := u.Query()
		if idToken != "" {
			q.Set("id_token_hint", idToken)
		}
		q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
		q.Set("client_id", p.cfg.ClientID)
		q.Set("state", state)
		u.RawQuery = q.Encode()
		return u.String()
	}
	if isAuth0(p.cfg.Issuer) {
		// Auth0 tenants without RP-initiated logout enabled offer only
		// their own endpoint.
		q := url.Values{"client_id": {p.cfg.ClientID}, "returnTo": {postLogoutRedirectURI}}
		return strings.TrimSuffix(p.cfg.Issuer, "/") + "/v2/logout?" + q.Encode()
	}
	return ""
}

// EndsProviderSessions reports whether a logout can end the user's session
// at the provider too, through its end-session endpoint (or Auth0's
// /v2/logout). Without one, the provider's session outlives the logout,
// and the next login goes through it without asking.
func (p *Provider) EndsProviderSessions() bool {
	c := p.conn.Load()
	return (c != nil && c.endSession != "") || isAuth0(p.cfg.Issuer)
}

// Host is the host (and port) of the configured issuer, to name the
// provider to users.
func (p *Provider) Host() string {
	u, err := url.Parse(p.cfg.Issuer)
	if err != nil {
		return ""
	}
	return u.Host
}

func isAuth0(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return strings.HasSuffix(host, ".auth0.com")
}

// userFrom is the user a userinfo response describes.
func userFrom(subject string, info *oidc.UserInfo) (User, error) {
	claimsJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return User{}, &ProviderError{Reason: ReasonInvalid, Err: fmt.Errorf("encode userinfo: %w", err)}
	}
	name := info.Name
	if name == "" {
		name = firstNonEmpty(info.Nickname, info.PreferredUsername, info.Email, subject)
	}
	return User{
		Subject:           subject,
		Name:              name,
		Email:             info.Email,
		EmailVerified:     bool(info.EmailVerified),
		PreferredUsername: info.PreferredUsername,
		Picture:           info.Picture,
		ClaimsJSON:        string(claimsJSON),
	}, nil
}

// bearer is the token type to send an access token with: providers write
// "bearer" in any case, or not at all.
func bearer(tokenType string) string {
	if tokenType == "" || strings.EqualFold(tokenType, oidc.BearerToken) {
		return oidc.BearerToken
	}
	return tokenType
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
