package devidp

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SignInPage is what the sign-in page shows.
type SignInPage struct {
	// AuthRequestID goes back in the form's "authRequestID" field.
	AuthRequestID string
	// ClientID names the app asking for the sign-in.
	ClientID string
	// Users are the demo accounts to choose from; the form sends the
	// chosen one's ID in the "user" field, or "cancel"=1 to refuse.
	Users []User
	// Action is the form's action (POST), an absolute path.
	Action string
}

// signIn serves the sign-in page where a demo user is chosen.
type signIn struct {
	store    *storage
	provider *op.Provider
	users    []User
	render   func(w http.ResponseWriter, r *http.Request, page SignInPage)
	refuse   func(w http.ResponseWriter, r *http.Request, status int, message string)
	action   string
	log      *slog.Logger
}

const msgUnknownRequest = "This login request is unknown or has expired. Start again from the app."

// fail refuses a sign-in request with 400 and message.
func (s signIn) fail(w http.ResponseWriter, r *http.Request, message string) {
	if s.refuse == nil {
		http.Error(w, message, http.StatusBadRequest)
		return
	}
	s.refuse(w, r, http.StatusBadRequest, message)
}

// show renders the sign-in page for a pending auth request.
func (s signIn) show(w http.ResponseWriter, r *http.Request) {
	req, err := s.store.pendingAuthRequest(r.URL.Query().Get("authRequestID"))
	if err != nil {
		s.fail(w, r, msgUnknownRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, SignInPage{
		AuthRequestID: req.id,
		ClientID:      req.clientID,
		Users:         slices.Clone(s.users),
		Action:        s.action,
	})
}

// submit signs the chosen demo user in and hands the browser back to the
// provider, which redirects to the client with a code; or, on cancel,
// redirects to the client with error=access_denied.
func (s signIn) submit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil { // its size is bounded by limitRequests
		s.fail(w, r, "The login form could not be read.")
		return
	}
	id := r.PostForm.Get("authRequestID")

	if r.PostForm.Get("cancel") == "1" {
		req, err := s.store.cancelAuthRequest(id)
		if err != nil {
			s.fail(w, r, msgUnknownRequest)
			return
		}
		op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("The user cancelled the sign-in."), s.provider)
		return
	}

	userID := r.PostForm.Get("user")
	if err := s.store.signInAuthRequest(id, userID); err != nil {
		msg := msgUnknownRequest
		if errors.Is(err, errUnknownUser) {
			msg = "Choose one of the demo users."
		}
		s.fail(w, r, msg)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "development identity provider sign-in", slog.String("user", userID))
	http.Redirect(w, r, op.AuthCallbackURL(s.provider)(r.Context(), id), http.StatusSeeOther)
}
