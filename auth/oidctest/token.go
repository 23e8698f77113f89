package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Client authentication methods of the token endpoint.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	// authNone is a public client: client_id in the body, no secret, PKCE alone.
	authNone = "none"
)

// oauthError is an OAuth 2.0 error response about to be sent.
type oauthError struct {
	status      int
	code        string
	description string
}

// handleToken serves the authorization_code and refresh_token grants.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	b := p.currentBehavior()
	if b.TokenHang {
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
		return
	}
	if b.TokenStatus != 0 {
		writeOAuthError(w, b.TokenStatus, errorCodeForStatus(b.TokenStatus, "invalid_client", "invalid_grant"), SecretErrorDescription)
		return
	}
	clientID, oerr := p.authenticateClient(r)
	if oerr != nil {
		if oerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		}
		writeOAuthError(w, oerr.status, oerr.code, oerr.description)
		return
	}
	var g *grant
	withNonce := false
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, oerr = p.redeemCode(clientID, r.PostForm)
		withNonce = true
		if oerr == nil && p.settings.oneRefreshToken {
			p.forgetRefreshTokens(clientID)
		}
	case "refresh_token":
		if b.RefreshError != "" {
			status := http.StatusBadRequest
			if b.RefreshError == "invalid_client" {
				status = http.StatusUnauthorized
			}
			oerr = &oauthError{status, b.RefreshError, SecretErrorDescription}
			break
		}
		g, oerr = p.redeemRefreshToken(clientID, r.PostForm)
	case "":
		oerr = &oauthError{http.StatusBadRequest, "invalid_request", "grant_type is missing"}
	default:
		oerr = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "only authorization_code and refresh_token are supported"}
	}
	if oerr != nil {
		writeOAuthError(w, oerr.status, oerr.code, oerr.description)
		return
	}
	p.issueTokens(w, g, b, withNonce)
}

// forgetRefreshTokens makes every refresh token issued to clientID so far invalid; the provider has
// one user.
func (p *Provider) forgetRefreshTokens(clientID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for token, g := range p.refreshTokens {
		if g.clientID == clientID {
			delete(p.refreshTokens, token)
		}
	}
}

// authenticateClient checks client_secret_basic, client_secret_post, none or private_key_jwt and
// returns the client ID.
func (p *Provider) authenticateClient(r *http.Request) (string, *oauthError) {
	form := r.PostForm
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return p.authenticateAssertion(r)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		if !p.allowsAuthMethod(authBasic) {
			return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client_secret_basic is not allowed"}
		}
		if form.Has("client_secret") {
			return "", &oauthError{http.StatusBadRequest, "invalid_request", "the client secret was sent both in the Authorization header and in the body"}
		}
		// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
		var errID, errSecret error
		id, errID = url.QueryUnescape(id)
		secret, errSecret = url.QueryUnescape(secret)
		if errID != nil || errSecret != nil {
			return "", &oauthError{http.StatusUnauthorized, "invalid_client", "malformed Basic credentials"}
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", &oauthError{http.StatusBadRequest, "invalid_request", "client_id differs from the authenticated client"}
		}
	} else {
		if !form.Has("client_secret") {
			return p.authenticatePublicClient(form)
		}
		if !p.allowsAuthMethod(authPost) {
			return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client_secret_post is not allowed"}
		}
		if len(form["client_id"]) != 1 || len(form["client_secret"]) != 1 {
			return "", &oauthError{http.StatusBadRequest, "invalid_request", "client_id and client_secret must each appear once"}
		}
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(p.settings.clientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(p.settings.clientSecret)) == 1
	if !idOK || !secretOK {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret"}
	}
	return id, nil
}

// authenticatePublicClient accepts a request without any secret when the provider allows "none".
func (p *Provider) authenticatePublicClient(form url.Values) (string, *oauthError) {
	if !p.allowsAuthMethod(authNone) {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication is missing"}
	}
	if len(form["client_id"]) != 1 {
		return "", &oauthError{http.StatusBadRequest, "invalid_request", "a public client must send its client_id once"}
	}
	id := form.Get("client_id")
	if subtle.ConstantTimeCompare([]byte(id), []byte(p.settings.clientID)) != 1 {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client"}
	}
	return id, nil
}

func (p *Provider) allowsAuthMethod(method string) bool {
	if m := p.settings.clientAuthMethod; m != "" && m != method {
		return false
	}
	return slices.Contains(p.settings.tokenAuthMethods, method)
}

// redeemCode uses up an authorization code and checks it against the token request.
func (p *Provider) redeemCode(clientID string, form url.Values) (*grant, *oauthError) {
	code := form.Get("code")
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code)
	p.mu.Unlock()
	switch {
	case !ok:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown or already used code"}
	case time.Now().After(g.expires):
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the code has expired"}
	case g.clientID != clientID:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the code was issued to another client"}
	case form.Get("redirect_uri") != g.redirectURI:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request"}
	case !verifierMatches(form.Get("code_verifier"), g.challenge):
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge"}
	}
	return g, nil
}

// verifierMatches checks a PKCE code_verifier (RFC 7636 §4.1, §4.6) against an S256 challenge.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || strings.Trim(verifier, base64URLAlphabet+".~") != "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) == 1
}

// redeemRefreshToken uses up a refresh token; a new one is issued in its place.
func (p *Provider) redeemRefreshToken(clientID string, form url.Values) (*grant, *oauthError) {
	token := form.Get("refresh_token")
	p.mu.Lock()
	g, ok := p.refreshTokens[token]
	delete(p.refreshTokens, token)
	p.mu.Unlock()
	switch {
	case !ok:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown or already used refresh token"}
	case g.clientID != clientID:
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client"}
	}
	return g, nil
}

// issueTokens answers a token response with a new access token, ID token and, unless
// WithOfflineAccess holds it back, refresh token. Refreshed ID tokens carry no nonce (OpenID
// Connect Core §12.2).
func (p *Provider) issueTokens(w http.ResponseWriter, g *grant, b Behavior, withNonce bool) {
	now := time.Now()
	claims := map[string]any{
		"iss":       p.issuer,
		"aud":       g.clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(tokenLifetime).Unix(),
		"auth_time": g.authTime.Unix(),
		"sid":       g.sid,
	}
	if sub := p.Subject(); sub != "" {
		claims["sub"] = sub
	}
	if withNonce && g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if b.IDToken != nil {
		b.IDToken(claims)
	}
	idToken, err := p.signJWT(claims, b.Sign, "JWT", b.Kid)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "sign ID token: "+err.Error())
		return
	}
	expiresIn := tokenLifetime
	if b.AccessTokenLifetime != 0 {
		expiresIn = b.AccessTokenLifetime
	}
	accessToken, refreshToken := rand.Text(), ""
	if p.settings.offlineAccess == offlineAlways || slices.Contains(strings.Fields(g.scope), "offline_access") {
		refreshToken = rand.Text()
	}
	p.mu.Lock()
	p.accessTokens[accessToken] = &accessGrant{scope: g.scope, expires: now.Add(tokenLifetime)}
	if refreshToken != "" {
		p.refreshTokens[refreshToken] = g
	}
	p.idTokens[idToken] = true
	p.lastIDToken = idToken
	p.mu.Unlock()
	answer := map[string]any{
		"access_token": accessToken,
		"token_type":   "Bearer",
		"expires_in":   int(expiresIn.Seconds()),
		"id_token":     idToken,
		"scope":        g.scope,
	}
	if refreshToken != "" {
		answer["refresh_token"] = refreshToken
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, answer)
}
