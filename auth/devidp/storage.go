package devidp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage keeps auth requests, provider sessions, codes and tokens in
// memory. Entries are deleted when used and when they expire; every method
// holds mu.
type storage struct {
	mu     sync.Mutex
	now    func() time.Time
	key    *signingKey
	users  map[string]User
	client *client
	// sessionEnded, when set, is told about each provider session that
	// end_session ends, before the browser is sent back; mu is not held.
	sessionEnded func(ctx context.Context, sess session)

	authRequests  *capped[string, *authRequest]  // by auth request ID
	sessions      *capped[string, *session]      // by session ID (sid)
	codes         map[string]string              // code → auth request ID; one per auth request at most
	accessTokens  *capped[string, *accessToken]  // by token ID
	refreshTokens *capped[string, *refreshToken] // by token value
	purged        time.Time                      // when purgeLocked last swept
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func newStorage(key *signingKey, users []User, c *client) *storage {
	byID := make(map[string]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	return &storage{
		now:           time.Now,
		key:           key,
		users:         byID,
		client:        c,
		authRequests:  newCapped[string, *authRequest](maxAuthRequests),
		sessions:      newCapped[string, *session](maxSessions),
		codes:         map[string]string{},
		accessTokens:  newCapped[string, *accessToken](maxTokens),
		refreshTokens: newCapped[string, *refreshToken](maxTokens),
	}
}

// storageError is an error the storage reports; being a string type, its
// values can be constants.
type storageError string

func (e storageError) Error() string { return string(e) }

const (
	errUnknownAuthRequest  storageError = "auth request unknown or expired"
	errUnknownClient       storageError = "unknown client"
	errBadClientSecret     storageError = "invalid client credentials"
	errUnknownUser         storageError = "unknown user"
	errUnknownAccessToken  storageError = "access token unknown or expired"
	errUnknownRefreshToken storageError = "refresh token unknown or expired"
	errUnknownSession      storageError = "provider session ended or expired"
	errNoClientKeys        storageError = "client keys are not supported"
	errNoJWTProfile        storageError = "the JWT profile grant is not supported"
)

// authRequest is a stored authorization request. The storage hands out
// copies, so the op package never shares one with another request.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	expires       time.Time

	userID   string
	authTime time.Time
	sid      string // the provider session the sign-in started
	done     bool
	code     string
}

var _ op.AuthRequest = (*authRequest)(nil)

// The getters below implement op.AuthRequest. The audience is the client
// alone; no acr or amr is claimed.

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return nil }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return slices.Clone(a.scopes) }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }

func (a *authRequest) copy() *authRequest {
	c := *a
	return &c
}

type accessToken struct {
	id       string
	clientID string
	subject  string
	sid      string
	scopes   []string
	audience []string
	issued   time.Time
	expires  time.Time
}

type refreshToken struct {
	token         string
	clientID      string
	subject       string
	sid           string
	scopes        []string // as granted; a refresh may narrow the access token's, never these
	audience      []string
	amr           []string
	authTime      time.Time
	expires       time.Time
	accessTokenID string
}

// refreshTokenRequest is what a refresh token stands for, handed to the op
// package for one refresh.
type refreshTokenRequest struct {
	clientID string
	subject  string
	sid      string
	scopes   []string
	audience []string
	amr      []string
	authTime time.Time
}

var _ op.RefreshTokenRequest = (*refreshTokenRequest)(nil)

func (r *refreshTokenRequest) GetAMR() []string                 { return slices.Clone(r.amr) }
func (r *refreshTokenRequest) GetAudience() []string            { return slices.Clone(r.audience) }
func (r *refreshTokenRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshTokenRequest) GetClientID() string              { return r.clientID }
func (r *refreshTokenRequest) GetScopes() []string              { return slices.Clone(r.scopes) }
func (r *refreshTokenRequest) GetSubject() string               { return r.subject }
func (r *refreshTokenRequest) SetCurrentScopes(scopes []string) { r.scopes = slices.Clone(scopes) }

// purgeInterval is how often purgeLocked sweeps: every lookup checks
// expiry itself, so a sweep only bounds memory, and sweeping at every
// change would cost each login a pass over every token issued that day.
const purgeInterval = time.Second

// purgeLocked drops everything that has expired, at most once per
// purgeInterval.
func (s *storage) purgeLocked(now time.Time) {
	if d := now.Sub(s.purged); d >= 0 && d < purgeInterval {
		return
	}
	s.purged = now
	for id, a := range s.authRequests.m {
		if !now.Before(a.expires) {
			delete(s.codes, a.code)
			delete(s.authRequests.m, id)
		}
	}
	for id, t := range s.accessTokens.m {
		if !now.Before(t.expires) {
			delete(s.accessTokens.m, id)
		}
	}
	for token, t := range s.refreshTokens.m {
		if !now.Before(t.expires) {
			delete(s.refreshTokens.m, token)
		}
	}
	for id, sess := range s.sessions.m {
		if !now.Before(sess.expires) {
			delete(s.sessions.m, id)
		}
	}
}

// liveAuthRequestLocked returns the stored auth request with that ID if it has not expired.
func (s *storage) liveAuthRequestLocked(id string) (*authRequest, bool) {
	a, ok := s.authRequests.m[id]
	if !ok || !s.now().Before(a.expires) {
		return nil, false
	}
	return a, true
}

// CreateAuthRequest stores a validated authorization request. It also
// enforces what this provider requires beyond the op package: the openid
// scope, PKCE with S256, and no prompt=none (there is never a session to
// reuse).
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.ClientID != s.client.id {
		return nil, errUnknownClient
	}
	if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("The openid scope is required.")
	}
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("A code_challenge (PKCE) is required.")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("The code_challenge_method must be S256.")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	if len(req.State) > maxParamLength || len(req.Nonce) > maxParamLength {
		return nil, oidc.ErrInvalidRequest().WithDescription("The state or nonce is too long.")
	}
	// RFC 7636 makes an S256 challenge 43 characters; a request the
	// storage keeps must be small whatever the sender puts in it.
	if len(req.CodeChallenge) > maxParamLength {
		return nil, oidc.ErrInvalidRequest().WithDescription("The code_challenge is too long.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.purgeLocked(now)
	a := &authRequest{
		id:           rand.Text(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Compact(slices.Sorted(slices.Values(req.Scopes))),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{
			Challenge: req.CodeChallenge,
			Method:    req.CodeChallengeMethod,
		},
		expires: now.Add(authRequestLifetime),
	}
	s.authRequests.add(a.id, a, func(_ string, dropped *authRequest) { delete(s.codes, dropped.code) })
	return a.copy(), nil
}

// AuthRequestByID returns a live auth request.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok {
		return nil, errUnknownAuthRequest
	}
	return a.copy(), nil
}

// AuthRequestByCode returns the signed-in auth request a code was issued for.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(s.codes[code])
	if !ok || !a.done || a.code != code {
		return nil, errUnknownAuthRequest
	}
	return a.copy(), nil
}

// SaveAuthCode records the code issued for a signed-in auth request. Only
// one code is ever issued per request.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok || !a.done || a.code != "" {
		return errUnknownAuthRequest
	}
	a.code = code
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets an auth request and its code, once its code
// has been exchanged.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequestLocked(id)
	return nil
}

func (s *storage) deleteAuthRequestLocked(id string) {
	if a, ok := s.authRequests.m[id]; ok {
		delete(s.codes, a.code)
		delete(s.authRequests.m, id)
	}
}

// signInAuthRequest marks a live, not yet signed-in auth request as signed
// in by the demo user userID, in a new provider session.
func (s *storage) signInAuthRequest(id, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		return errUnknownUser
	}
	a, ok := s.liveAuthRequestLocked(id)
	if !ok || a.done {
		return errUnknownAuthRequest
	}
	now := s.now()
	s.purgeLocked(now)
	a.userID = userID
	a.authTime = now
	a.sid = s.startSessionLocked(userID, a.clientID, now).id
	a.done = true
	return nil
}

// pendingAuthRequest returns a live auth request nobody has signed in to yet.
func (s *storage) pendingAuthRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok || a.done {
		return nil, errUnknownAuthRequest
	}
	return a.copy(), nil
}

// cancelAuthRequest removes a pending auth request and returns it.
func (s *storage) cancelAuthRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok || a.done {
		return nil, errUnknownAuthRequest
	}
	s.deleteAuthRequestLocked(id)
	return a, nil
}

func clientIDOf(request op.TokenRequest, fallback string) string {
	if r, ok := request.(interface{ GetClientID() string }); ok {
		return r.GetClientID()
	}
	return fallback
}

func (s *storage) newAccessTokenLocked(request op.TokenRequest, sid string, now time.Time) *accessToken {
	t := &accessToken{
		id:       rand.Text(),
		clientID: clientIDOf(request, s.client.id),
		subject:  request.GetSubject(),
		sid:      sid,
		scopes:   slices.Clone(request.GetScopes()),
		audience: slices.Clone(request.GetAudience()),
		issued:   now,
		expires:  now.Add(accessTokenLifetime),
	}
	s.accessTokens.add(t.id, t, nil)
	return t
}

// CreateAccessToken issues an access token without a refresh token, in
// the request's provider session.
func (s *storage) CreateAccessToken(_ context.Context, request op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.purgeLocked(now)
	sid := sessionIDOf(request)
	if err := s.extendSessionLocked(sid, now); err != nil {
		return "", time.Time{}, oidc.ErrInvalidGrant().WithParent(err)
	}
	t := s.newAccessTokenLocked(request, sid, now)
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token
// in the request's provider session. With currentRefreshToken set this is a
// refresh: that token is spent (and its access token revoked), so each
// refresh token works once, and the new ones stay in its session.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, request op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.purgeLocked(now)

	granted, sid := request.GetScopes(), sessionIDOf(request)
	var authTime time.Time
	var amr []string
	if r, ok := request.(op.IDTokenRequest); ok {
		authTime, amr = r.GetAuthTime(), r.GetAMR()
	}
	if currentRefreshToken != "" {
		old, ok := s.refreshTokens.m[currentRefreshToken]
		if !ok {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(errUnknownRefreshToken)
		}
		delete(s.refreshTokens.m, currentRefreshToken)
		delete(s.accessTokens.m, old.accessTokenID)
		granted, sid, authTime, amr = old.scopes, old.sid, old.authTime, old.amr
	}
	if err := s.extendSessionLocked(sid, now); err != nil {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(err)
	}

	access := s.newAccessTokenLocked(request, sid, now)
	refresh := &refreshToken{
		token:         rand.Text() + rand.Text(),
		clientID:      access.clientID,
		subject:       access.subject,
		sid:           sid,
		scopes:        slices.Clone(granted),
		audience:      slices.Clone(access.audience),
		amr:           slices.Clone(amr),
		authTime:      authTime,
		expires:       now.Add(refreshTokenLifetime),
		accessTokenID: access.id,
	}
	s.refreshTokens.add(refresh.token, refresh, nil)
	return access.id, refresh.token, access.expires, nil
}

// TokenRequestByRefreshToken returns what a live refresh token stands for.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens.m[token]
	if !ok || !s.now().Before(t.expires) {
		return nil, errUnknownRefreshToken
	}
	return &refreshTokenRequest{
		clientID: t.clientID,
		subject:  t.subject,
		sid:      t.sid,
		scopes:   slices.Clone(t.scopes),
		audience: slices.Clone(t.audience),
		amr:      slices.Clone(t.amr),
		authTime: t.authTime,
	}, nil
}

// RevokeToken revokes an access token (by ID) or a refresh token (by
// value). Unknown tokens are not an error (RFC 7009, section 2.2).
func (s *storage) RevokeToken(_ context.Context, tokenOrTokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.accessTokens.m[tokenOrTokenID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("The token was not issued to this client.")
		}
		delete(s.accessTokens.m, tokenOrTokenID)
		return nil
	}
	if t, ok := s.refreshTokens.m[tokenOrTokenID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("The token was not issued to this client.")
		}
		delete(s.refreshTokens.m, tokenOrTokenID)
		delete(s.accessTokens.m, t.accessTokenID)
	}
	return nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation; the token
// value is its own ID.
func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens.m[token]
	if !ok || t.clientID != clientID || !s.now().Before(t.expires) {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.subject, t.token, nil
}

// SigningKey returns the key that signs ID tokens.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.key, nil
}

// SignatureAlgorithms lists the one algorithm the provider signs with.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

// KeySet returns the public key published at /keys.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signing: s.key}}, nil
}

// GetClientByClientID returns the one configured client.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID != s.client.id {
		return nil, errUnknownClient
	}
	return s.client, nil
}

// AuthorizeClientIDSecret checks the client's credentials.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(s.client.id))
	secretOK := subtle.ConstantTimeCompare([]byte(clientSecret), []byte(s.client.secret))
	if idOK&secretOK != 1 {
		return errBadClientSecret
	}
	return nil
}

// SetUserinfoFromScopes does nothing: SetUserinfoFromRequest fills the ID token.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims for the granted
// scopes, plus the provider session's "sid" (from the code and from refresh
// alike), which a back-channel logout token names again.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, request op.IDTokenRequest, scopes []string) error {
	u, ok := s.users[request.GetSubject()]
	if !ok {
		return errUnknownUser
	}
	setUserinfo(info, u, scopes)
	if sid := sessionIDOf(request); sid != "" {
		info.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken fills the userinfo answer for a live access token.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accessTokens.m[tokenID]
	if !ok || t.subject != subject || !s.now().Before(t.expires) {
		return errUnknownAccessToken
	}
	u, ok := s.users[t.subject]
	if !ok {
		return errUnknownUser
	}
	setUserinfo(info, u, t.scopes)
	return nil
}

// SetIntrospectionFromToken describes a live access token to the client it
// was issued to.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accessTokens.m[tokenID]
	if !ok || t.subject != subject || t.clientID != clientID || !s.now().Before(t.expires) {
		return errUnknownAccessToken
	}
	resp.Scope = slices.Clone(t.scopes)
	resp.ClientID = t.clientID
	resp.TokenType = oidc.BearerToken
	resp.Subject = t.subject
	resp.Audience = slices.Clone(t.audience)
	resp.IssuedAt = oidc.FromTime(t.issued)
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

// GetPrivateClaimsFromScopes adds no claims of its own.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID refuses: clients authenticate with a secret only.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNoClientKeys
}

// ValidateJWTProfileScopes refuses: the JWT profile grant is not supported.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNoJWTProfile
}

// Health reports the storage as always ready.
func (s *storage) Health(context.Context) error {
	return nil
}

// setUserinfo fills info with u's claims for the given scopes.
func setUserinfo(info *oidc.UserInfo, u User, scopes []string) {
	info.Subject = u.ID
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.GivenName = u.GivenName
			info.FamilyName = u.FamilyName
			info.Picture = u.Picture
			info.PreferredUsername = u.ID
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = true
		case scopeGroups:
			groups := u.Groups
			if groups == nil {
				groups = []string{}
			}
			info.AppendClaims("groups", groups)
		}
	}
}
