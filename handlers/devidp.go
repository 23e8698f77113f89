package handlers

import (
	"net/http"

	"latchkey/auth/devidp"
	"latchkey/views"
)

// devSignIn returns the renderer of the development provider's sign-in
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
			ClientID:      page.ClientID,
			Users:         users,
		}
		p.render(w, r, http.StatusOK, views.DevSignInPage(p.shell(r, "Sign in"), view), nil)
	}
}

// devRefuse answers a sign-in request the development provider cannot go
// on with, in the app's own look.
func devRefuse(p *pages) func(http.ResponseWriter, *http.Request, int, string) {
	return func(w http.ResponseWriter, r *http.Request, status int, message string) {
		p.fail(w, r, &devRefusal{status: status, message: message})
	}
}
