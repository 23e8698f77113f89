package handlers

import (
	"net/http"

	"latchkey/auth"
	"latchkey/views"
)

// handleRefreshProfile reads the user's profile from the provider again,
// refreshing the access token first when it has expired, or when the
// provider rejects it.
func handleRefreshProfile(p *pages, sessions *auth.Sessions, refresher *auth.Refresher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, user, err := refresher.Userinfo(r.Context(), sessionFrom(r.Context()))
		if err != nil {
			if sessionGone(err) {
				sessions.ClearCookie(w)
			}
			p.fail(w, r, err)
			return
		}
		// Ended meanwhile (a logout, say): it stays ended.
		updated, err := sessions.UpdateUser(r.Context(), sess, user)
		if err != nil {
			if sessionGone(err) {
				sessions.ClearCookie(w)
			}
			p.fail(w, r, err)
			return
		}
		if !isHTMX(r) {
			redirect(w, r, p.site.dashboard(), http.StatusNoContent)
			return
		}
		s := p.shell(r.WithContext(withSession(r.Context(), updated)), "Dashboard")
		p.render(w, r, http.StatusOK, views.ProfilePanel(s), nil)
	}
}
