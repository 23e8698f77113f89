package handlers

import (
	"net/http"
	"strings"

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
		p.render(w, r, http.StatusOK, views.ProfilePanel(s, refreshed(sess.User, updated.User)), nil)
	}
}

// refreshed says what a refresh of the profile changed, in the user's
// words: also that it did, when nothing changed.
func refreshed(before, after auth.User) string {
	var changed []string
	if before.Name != after.Name {
		changed = append(changed, "name")
	}
	if before.Email != after.Email {
		changed = append(changed, "email address")
	}
	if before.Picture != after.Picture {
		changed = append(changed, "picture")
	}
	switch {
	case len(changed) > 0:
		return "Profile refreshed: your " + andList(changed) + " changed."
	case before.ClaimsJSON != after.ClaimsJSON:
		return "Profile refreshed: the identity provider sent changes."
	}
	return "Profile refreshed: nothing changed."
}

// andList joins words as a sentence lists them: "a", "a and b", "a, b
// and c".
func andList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
