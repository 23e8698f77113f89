package devidp

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// session is a provider session: one sign-in of a demo user for the client.
// Its ID is the "sid" claim of every ID token issued in it. It lives as long
// as a token issued in it could still be refreshed, or until end_session
// ends it. Sessions are never reused for a later login: each login shows
// the sign-in page again and starts a new one.
type session struct {
	id       string
	subject  string
	clientID string
	expires  time.Time
}

// sessionRequest is a request that belongs to a provider session: a
// signed-in auth request or a refresh token request.
type sessionRequest interface {
	sessionID() string
}

func (a *authRequest) sessionID() string         { return a.sid }
func (r *refreshTokenRequest) sessionID() string { return r.sid }

// sessionIDOf returns the provider session a token request belongs to, or ""
// when it belongs to none.
func sessionIDOf(request any) string {
	if r, ok := request.(sessionRequest); ok {
		return r.sessionID()
	}
	return ""
}

// startSessionLocked starts a provider session for subject at clientID.
func (s *storage) startSessionLocked(subject, clientID string, now time.Time) *session {
	sess := &session{
		id:       rand.Text(),
		subject:  subject,
		clientID: clientID,
		expires:  now.Add(refreshTokenLifetime),
	}
	s.sessions.add(sess.id, sess, nil)
	return sess
}

// liveSessionLocked returns the provider session with that ID if it has
// neither ended nor expired.
func (s *storage) liveSessionLocked(id string, now time.Time) (*session, bool) {
	sess, ok := s.sessions.m[id]
	if !ok || !now.Before(sess.expires) {
		return nil, false
	}
	return sess, true
}

// extendSessionLocked keeps a live provider session for as long as the
// tokens just issued in it can be refreshed. Tokens are never issued in a
// session that has ended.
func (s *storage) extendSessionLocked(id string, now time.Time) error {
	sess, ok := s.liveSessionLocked(id, now)
	if !ok {
		return errUnknownSession
	}
	sess.expires = now.Add(refreshTokenLifetime)
	return nil
}

// endSession ends the live provider session id of subject and revokes every
// token issued in it. It reports the session, or false when there was no
// such live session.
func (s *storage) endSession(id, subject string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.liveSessionLocked(id, s.now())
	if !ok || sess.subject != subject {
		return session{}, false
	}
	delete(s.sessions.m, id)
	for tokenID, t := range s.accessTokens.m {
		if t.sid == id {
			delete(s.accessTokens.m, tokenID)
		}
	}
	for token, t := range s.refreshTokens.m {
		if t.sid == id {
			delete(s.refreshTokens.m, token)
		}
	}
	return *sess, true
}

// TerminateSessionFromRequest ends the provider session the id_token_hint
// names (its "sid"), revokes the tokens issued in it and tells the client
// through the back channel before the browser is sent back. Without a hint
// there is no session to end.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	hint := req.IDTokenHintClaims
	if hint == nil {
		return req.RedirectURI, nil
	}
	if hint.SessionID == "" {
		return req.RedirectURI, s.TerminateSession(ctx, req.UserID, req.ClientID)
	}
	if sess, ok := s.endSession(hint.SessionID, hint.Subject); ok && s.sessionEnded != nil {
		s.sessionEnded(ctx, sess)
	}
	return req.RedirectURI, nil
}

// TerminateSession revokes every token the user holds at the client and
// ends the user's provider sessions there, without telling the client.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions.m {
		if sess.subject == userID && sess.clientID == clientID {
			delete(s.sessions.m, id)
		}
	}
	for id, t := range s.accessTokens.m {
		if t.subject == userID && t.clientID == clientID {
			delete(s.accessTokens.m, id)
		}
	}
	for token, t := range s.refreshTokens.m {
		if t.subject == userID && t.clientID == clientID {
			delete(s.refreshTokens.m, token)
		}
	}
	return nil
}
