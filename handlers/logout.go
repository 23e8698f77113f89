package handlers

import (
	"fmt"
	"net/http"
	"net/url"

	"latchkey/auth"
	"latchkey/views"
)

// handleLogoutConfirm asks before logging out: GET changes nothing.
func handleLogoutConfirm(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, views.LogoutConfirm(p.shell(r, "Log out")), nil)
	}
}

// handleLogout ends the session here, then at the provider: RP-initiated
// logout with id_token_hint and a state checked on the way back.
func handleLogout(p *pages, provider *auth.Provider, cookies *auth.Cookies, sessions *auth.Sessions) http.HandlerFunc {
	postLogout := p.site.url("/")
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		if sess == nil {
			sessions.ClearCookie(w)
			redirect(w, r, p.site.home(), http.StatusNoContent)
			return
		}
		if err := sessions.End(r.Context(), w, sess); err != nil {
			p.fail(w, r, err)
			return
		}
		p.log.InfoContext(r.Context(), "logged out", "sub", sess.User.Subject)

		state, err := cookies.SaveLogoutState(w)
		if err != nil {
			p.fail(w, r, fmt.Errorf("save logout state: %w", err))
			return
		}
		target := provider.LogoutURL(sess.IDTokenHint(), postLogout, state)
		if target == "" {
			target = p.site.home() + "?state=" + url.QueryEscape(state)
		}
		redirect(w, r, target, http.StatusNoContent)
	}
}
