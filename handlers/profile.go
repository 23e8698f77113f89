package handlers

import (
	"errors"
	"net/http"

	"latchkey/auth"
	"latchkey/views"
)

var problemSessionEnded = views.Problem{
	Status:   http.StatusUnauthorized,
	Title:    "Signed out",
	Message:  "The identity provider ended your session. Please log in again.",
	RetryURL: "/login",
}

var problemLoginToRefresh = views.Problem{
	Status:   http.StatusUnauthorized,
	Title:    "Log in again to refresh",
	Message:  "Your profile can only be read again after a new login: the identity provider gave no refresh token.",
	RetryURL: "/login?return_to=%2Fdashboard",
}

// handleRefreshProfile reads the user's profile from the provider again,
// refreshing the access token first when it has expired.
func handleRefreshProfile(p *pages, provider *auth.Provider, sessions *auth.Sessions, refresher *auth.Refresher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := refresher.Fresh(r.Context(), sessionFrom(r.Context()))
		switch {
		case errors.Is(err, auth.ErrSessionEnded):
			sessions.ClearCookie(w)
			if isHTMX(r) {
				w.Header().Set("HX-Redirect", "/")
			}
			p.fail(w, r, problemSessionEnded, err)
			return
		case errors.Is(err, auth.ErrNoRefreshToken):
			p.fail(w, r, problemLoginToRefresh, err)
			return
		case err != nil:
			p.fail(w, r, providerOrStoreProblem(err), err)
			return
		}
		user, err := provider.Userinfo(r.Context(), sess)
		if err != nil {
			p.fail(w, r, providerOrStoreProblem(err), err)
			return
		}
		updated := *sess
		updated.User = user
		if err := sessions.Save(r.Context(), &updated); err != nil {
			p.fail(w, r, problemStoreDown, err)
			return
		}
		if !isHTMX(r) {
			redirect(w, r, "/dashboard")
			return
		}
		s := p.shell(r.WithContext(withSession(r.Context(), &updated)), "Dashboard")
		p.render(w, r, http.StatusOK, views.ProfilePanel(s), nil)
	}
}

// providerOrStoreProblem tells a failing provider from a failing store.
func providerOrStoreProblem(err error) views.Problem {
	if errors.Is(err, auth.ErrStoreUnavailable) {
		return problemStoreDown
	}
	prob := problemProviderDown
	prob.RetryURL = ""
	return prob
}
