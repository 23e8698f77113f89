package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"latchkey/auth"
)

// handleBackChannelLogout ends the sessions a provider's logout token
// names (OpenID Connect Back-Channel Logout 1.0): 200 when done, 400 for a
// token that fails a check, 503 when the provider's keys or the sessions
// cannot be reached, so that the provider tries again. Its body has been
// read by readForm.
func handleBackChannelLogout(p *pages, provider *auth.Provider, sessions *auth.Sessions) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, n, err := backChannelLogout(r.Context(), provider, sessions, r.PostFormValue("logout_token"))
		if err != nil {
			p.failStatus(w, r, fmt.Errorf("back-channel logout: %w", err))
			return
		}
		p.log.InfoContext(r.Context(), "back-channel logout", "sub", token.Subject, "sessions", n)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// backChannelLogout verifies raw and ends the sessions it names, once per
// token, and says how many ended.
func backChannelLogout(ctx context.Context, provider *auth.Provider, sessions *auth.Sessions, raw string) (*auth.LogoutToken, int, error) {
	token, err := provider.VerifyLogoutToken(ctx, raw)
	if err != nil {
		return nil, 0, err
	}
	// VerifyLogoutToken made sure there is a jti, and that Expiry is near.
	// The claim lasts as long as the token is accepted: until ExpiryLeeway
	// after its exp.
	first, err := sessions.ClaimOnce(ctx, "logout:"+token.JTI, time.Until(token.Expiry)+auth.ExpiryLeeway)
	if err != nil {
		return nil, 0, err
	}
	if !first {
		return nil, 0, errLogoutReplay
	}
	var n int
	if token.SID != "" {
		n, err = sessions.EndBySID(ctx, token.SID)
	} else {
		n, err = sessions.EndBySubject(ctx, token.Subject)
	}
	if err != nil {
		return nil, 0, err
	}
	return token, n, nil
}
