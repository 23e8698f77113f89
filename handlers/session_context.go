package handlers

import (
	"context"

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
