package handlers

import (
	"errors"
	"net/http"
	"time"

	"latchkey/auth"
)

// handleBackChannelLogout ends the sessions a provider's logout token
// names (OpenID Connect Back-Channel Logout 1.0): 200 when done, 400 for a
// token that fails a check, 503 when the sessions cannot be reached.
func handleBackChannelLogout(p *pages, provider *auth.Provider, sessions *auth.Sessions) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		answer := func(status int, err error) {
			if err != nil {
				p.log.InfoContext(r.Context(), "back-channel logout refused", "status", status, "err", err)
			}
			w.WriteHeader(status)
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		token, err := provider.VerifyLogoutToken(r.Context(), r.PostFormValue("logout_token"))
		if errors.Is(err, auth.ErrProviderUnavailable) {
			answer(http.StatusServiceUnavailable, err)
			return
		}
		if err != nil {
			answer(http.StatusBadRequest, err)
			return
		}
		if token.JTI != "" {
			first, err := sessions.ClaimOnce(r.Context(), "logout:"+token.JTI, time.Until(token.Expiry)+auth.ClockSkew)
			if err != nil {
				answer(http.StatusServiceUnavailable, err)
				return
			}
			if !first {
				answer(http.StatusBadRequest, errLogoutReplay)
				return
			}
		}
		var n int
		if token.SID != "" {
			n, err = sessions.EndBySID(r.Context(), token.SID)
		} else {
			n, err = sessions.EndBySubject(r.Context(), token.Subject)
		}
		if err != nil {
			answer(http.StatusServiceUnavailable, err)
			return
		}
		p.log.InfoContext(r.Context(), "back-channel logout", "sub", token.Subject, "sessions", n)
		answer(http.StatusOK, nil)
	}
}

var errLogoutReplay = errors.New("logout token replayed")
