package oidctest

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// handleAuthorize checks an authorization request strictly and approves it at once for the user.
// Every invalid request is refused with 400 rather than redirected, so a client's mistake shows
// up as a failing test instead of an error callback.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodGet, http.MethodPost)
		return
	}
	q := r.Form
	if reason := p.checkAuthorizeRequest(q); reason != "" {
		badRequest(w, reason)
		return
	}
	b := p.currentBehavior()
	params := url.Values{"state": {q.Get("state")}}
	if iss, ok := p.issParam(b); ok {
		params.Set("iss", iss)
	}
	if b.AuthorizeError != "" {
		params.Set("error", b.AuthorizeError)
		params.Set("error_description", SecretErrorDescription)
		redirectWith(w, q.Get("redirect_uri"), params)
		return
	}
	code := rand.Text()
	now := time.Now()
	p.mu.Lock()
	p.codes[code] = &grant{
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		nonce:       q.Get("nonce"),
		scope:       q.Get("scope"),
		sid:         rand.Text(),
		authTime:    now,
		expires:     now.Add(codeLifetime),
	}
	p.mu.Unlock()
	params.Set("code", code)
	redirectWith(w, q.Get("redirect_uri"), params)
}

// checkAuthorizeRequest returns why an authorization request is refused, or "".
func (p *Provider) checkAuthorizeRequest(q url.Values) string {
	for _, name := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if len(q[name]) > 1 {
			return name + " is repeated"
		}
	}
	switch {
	case q.Get("client_id") != p.settings.clientID:
		return "unknown client_id"
	case !registered(p.settings.redirectURIs, q.Get("redirect_uri")):
		return "redirect_uri is not registered"
	case q.Get("response_type") != "code":
		return "response_type must be code"
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		return "scope must contain openid"
	case q.Get("code_challenge_method") == "":
		return "PKCE is required: code_challenge_method is missing"
	case q.Get("code_challenge_method") != "S256":
		return "code_challenge_method must be S256"
	case !isS256Challenge(q.Get("code_challenge")):
		return "code_challenge must be a base64url SHA-256 hash"
	case q.Get("state") == "":
		return "state is required"
	case q.Get("nonce") == "":
		return "nonce is required"
	}
	return ""
}

// registered reports whether uri is one of the registered URIs, or, when none are registered,
// whether it is an absolute http(s) URL.
func registered(uris []string, uri string) bool {
	if len(uris) == 0 {
		return isAbsoluteHTTPURL(uri)
	}
	return slices.Contains(uris, uri)
}

// isS256Challenge reports whether s looks like base64url(SHA-256(verifier)) without padding.
func isS256Challenge(s string) bool {
	return len(s) == 43 && strings.Trim(s, base64URLAlphabet) == ""
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// issParam returns the iss parameter to add to an authorization response, if any.
func (p *Provider) issParam(b Behavior) (string, bool) {
	switch {
	case b.IssParam == "-":
		return "", false
	case b.IssParam != "":
		return b.IssParam, true
	case p.settings.issParameter:
		return p.issuer, true
	}
	return "", false
}
