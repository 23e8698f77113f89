package handlers

import (
	"net/http"

	"latchkey/auth/devidp"
	"latchkey/views"
)

// devSignIn returns the renderer of the development provider's login
// page, in the app's own look.
func devSignIn(p *pages) func(http.ResponseWriter, *http.Request, devidp.SignInPage) {
	return func(w http.ResponseWriter, r *http.Request, page devidp.SignInPage) {
		users := make([]views.DemoUser, 0, len(page.Users))
		for _, u := range page.Users {
			users = append(users, views.DemoUser{ID: u.ID, Name: u.Name, Email: u.Email, Picture: u.Picture})
		}
		view := views.DevSignIn{
			Action:        page.Action,
			AuthRequestID: page.AuthRequestID,
			// The one client is latchkey itself: its client id means
			// nothing to a person, its address does.
			AppName: "latchkey on " + publicHost(p.site.base),
			Users:   users,
		}
		s := p.shell(r, "Log in")
		s.Bare = true
		p.render(w, r, http.StatusOK, views.DevSignInPage(s, view), nil)
	}
}

// devRefuse answers a login request the development provider cannot go
// on with, in the app's own look.
func devRefuse(p *pages) func(http.ResponseWriter, *http.Request, int, string) {
	return func(w http.ResponseWriter, r *http.Request, status int, message string) {
		p.fail(w, r, &devRefusal{status: status, message: message})
	}
}
