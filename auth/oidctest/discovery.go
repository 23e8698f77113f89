package oidctest

import (
	"net/http"
	"slices"
)

// handleDiscovery serves the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3).
func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet, http.MethodHead)
		return
	}
	b := p.currentBehavior()
	if b.DiscoveryDown {
		http.Error(w, "provider unavailable", http.StatusServiceUnavailable)
		return
	}
	issuer := p.issuer
	if b.DiscoveryIssuer != "" {
		issuer = b.DiscoveryIssuer
	}
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                p.AuthorizationEndpoint(),
		"token_endpoint":                        p.TokenEndpoint(),
		"userinfo_endpoint":                     p.UserinfoEndpoint(),
		"jwks_uri":                              p.JWKSURI(),
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(p.settings.alg)},
		"scopes_supported":                      p.scopesSupported(),
		"token_endpoint_auth_methods_supported": p.settings.tokenAuthMethods,
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported":                      p.claimsSupported(),
		"request_parameter_supported":           false,
		"request_uri_parameter_supported":       false,
	}
	if p.settings.endSession {
		doc["end_session_endpoint"] = p.EndSessionEndpoint()
	}
	if slices.Contains(p.settings.tokenAuthMethods, authPrivateKeyJWT) {
		doc["token_endpoint_auth_signing_alg_values_supported"] = assertionAlgs
	}
	if p.settings.issParameter {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc)
}

// scopesSupported lists the scopes discovery advertises.
func (p *Provider) scopesSupported() []string {
	scopes := []string{"openid", "profile", "email", "address", "phone"}
	if p.settings.offlineAccess != offlineUnsupported {
		scopes = append(scopes, "offline_access")
	}
	return scopes
}

// claimsSupported lists the ID token claims and the user's claims.
func (p *Provider) claimsSupported() []string {
	claims := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid"}
	for k := range p.user {
		claims = append(claims, k)
	}
	slices.Sort(claims)
	return slices.Compact(claims)
}
