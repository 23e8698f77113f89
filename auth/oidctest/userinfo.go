package oidctest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// handleUserinfo answers the user's claims for an access token sent as a bearer header.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodGet, http.MethodPost)
		return
	}
	// The access token belongs in the Authorization header only (RFC 6750 §2.1; the
	// rp-userinfo-bearer-header test).
	if r.URL.Query().Has("access_token") || r.PostForm.Has("access_token") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the access token in the Authorization header, not in the query or body")
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oidctest"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_request", "a bearer access token is required")
		return
	}
	b := p.currentBehavior()
	if b.UserinfoStatus != 0 {
		writeOAuthError(w, b.UserinfoStatus, errorCodeForStatus(b.UserinfoStatus, "invalid_token", "invalid_request"), SecretErrorDescription)
		return
	}
	p.mu.Lock()
	at, ok := p.accessTokens[token]
	p.mu.Unlock()
	if !ok || time.Now().After(at.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oidctest", error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "unknown or expired access token")
		return
	}
	claims := p.claimsForScope(strings.Fields(at.scope))
	if b.UserinfoSub != "" {
		claims["sub"] = b.UserinfoSub
	}
	writeJSON(w, http.StatusOK, claims)
}

// claimsForScope returns the user's claims that the granted scopes release (OpenID Connect
// Core §5.4). Claims outside the standard scopes are always released.
func (p *Provider) claimsForScope(scopes []string) map[string]any {
	claims := map[string]any{}
	for k, v := range p.user {
		if s := standardClaimScope(k); s == "" || slices.Contains(scopes, s) {
			claims[k] = v
		}
	}
	return claims
}

// standardClaimScope returns the scope that releases a standard claim, or "" for sub and for
// claims outside the standard set.
func standardClaimScope(claim string) string {
	switch claim {
	case "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at":
		return "profile"
	case "email", "email_verified":
		return "email"
	case "address":
		return "address"
	case "phone_number", "phone_number_verified":
		return "phone"
	}
	return ""
}
