package handlers

import (
	"context"
	"net/http"

	"latchkey/auth"
)

type sessionKey struct{}

// withSession returns ctx carrying the request's session.
func withSession(ctx context.Context, s *auth.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// sessionFrom returns the request's session, or nil for a visitor.
func sessionFrom(ctx context.Context) *auth.Session {
	s, _ := ctx.Value(sessionKey{}).(*auth.Session)
	return s
}

type popupKey struct{}

// withPopup returns ctx of a request whose page is drawn in the login
// popup window.
func withPopup(ctx context.Context) context.Context {
	return context.WithValue(ctx, popupKey{}, true)
}

// inPopup reports a request whose page is drawn in the login popup: a
// popup login's start (popup=1), or a request withPopup marked.
func (s site) inPopup(r *http.Request) bool {
	if v, _ := r.Context().Value(popupKey{}).(bool); v {
		return true
	}
	return r.URL.Path == s.path(routeLogin) && r.URL.Query().Get("popup") == "1"
}
