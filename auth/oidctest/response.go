package oidctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// writeJSON answers v as JSON; responses carrying tokens or user data must not be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeOAuthError answers an OAuth 2.0 error body (RFC 6749 §5.2).
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// badRequest answers a request the provider refuses to redirect back from, such as an
// authorization request with an unregistered redirect_uri.
func badRequest(w http.ResponseWriter, reason string) {
	http.Error(w, "oidctest: "+reason, http.StatusBadRequest)
}

func methodNotAllowed(w http.ResponseWriter, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// redirectWith sends the browser to target with params added to its query.
func redirectWith(w http.ResponseWriter, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "parse redirect target: "+err.Error(), http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
