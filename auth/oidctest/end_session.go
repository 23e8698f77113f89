package oidctest

import (
	"net/http"
	"net/url"
)

// handleEndSession serves RP-Initiated Logout 1.0. It redirects to post_logout_redirect_uri only
// when it is registered and an id_token_hint this provider issued comes with it (§2, §3).
func (p *Provider) handleEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodGet, http.MethodPost)
		return
	}
	q := r.Form
	hint := q.Get("id_token_hint")
	redirect := q.Get("post_logout_redirect_uri")
	p.mu.Lock()
	issued := p.idTokens[hint]
	p.mu.Unlock()
	switch {
	case q.Has("client_id") && q.Get("client_id") != p.settings.clientID:
		badRequest(w, "unknown client_id")
		return
	case hint != "" && !issued:
		badRequest(w, "id_token_hint is not an ID token this provider issued")
		return
	case redirect == "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("You are signed out.\n"))
		return
	case !registered(p.settings.postLogoutRedirectURIs, redirect):
		badRequest(w, "post_logout_redirect_uri is not registered")
		return
	case hint == "":
		badRequest(w, "post_logout_redirect_uri needs an id_token_hint")
		return
	}
	params := url.Values{}
	if q.Has("state") {
		params.Set("state", q.Get("state"))
	}
	redirectWith(w, redirect, params)
}
