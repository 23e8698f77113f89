package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"latchkey/auth"
	"latchkey/views"
)

// handleLogin starts a login: a fresh attempt (state, nonce, PKCE
// verifier) in its own cookie, then off to the provider.
func handleLogin(p *pages, provider *auth.Provider, cookies *auth.Cookies) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		returnTo := ""
		if q.Has("return_to") {
			returnTo = auth.SafeReturnPath(q.Get("return_to"))
		}
		popup := q.Get("popup") == "1"
		attempt := auth.NewLoginAttempt(returnTo, popup)
		target, err := provider.AuthCodeURL(attempt)
		if errors.Is(err, auth.ErrProviderUnavailable) {
			prob := problemProviderDown
			prob.RetryURL = r.URL.RequestURI()
			p.fail(w, r, prob, err)
			return
		}
		if err != nil {
			p.fail(w, r, problemInternal, err)
			return
		}
		if err := cookies.SaveLoginAttempt(w, attempt); err != nil {
			p.fail(w, r, problemInternal, err)
			return
		}
		redirect(w, r, target)
	}
}

// handleCallback finishes a login. Whatever goes wrong, the user gets a 4xx
// page with a way to try again and no session; the reason goes to the log.
func handleCallback(p *pages, provider *auth.Provider, cookies *auth.Cookies, sessions *auth.Sessions, timeout time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		attempt, err := cookies.TakeLoginAttempt(w, r, q.Get("state"))
		if err != nil {
			p.fail(w, r, problemLoginExpired, err)
			return
		}
		// The cookie is cleared now, but a copy of it could be replayed:
		// the store remembers used states, across instances too.
		first, err := sessions.ClaimOnce(r.Context(), "login:"+attempt.State, auth.LoginMaxAge)
		if err != nil {
			p.fail(w, r, problemStoreDown, err)
			return
		}
		if !first {
			p.fail(w, r, problemLoginExpired, errStateReplayed)
			return
		}

		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		sess, err := provider.Finish(ctx, q, attempt)
		if err != nil {
			p.fail(w, r, callbackProblem(err, loginURL(attempt.ReturnTo)), err)
			return
		}

		// Never carry a session over a login: end whatever the browser had.
		if old := sessionFrom(r.Context()); old != nil {
			if err := sessions.End(r.Context(), w, old); err != nil {
				p.fail(w, r, problemStoreDown, err)
				return
			}
		}
		if err := sessions.Start(r.Context(), w, r, sess); err != nil {
			p.fail(w, r, problemStoreDown, err)
			return
		}
		p.log.InfoContext(r.Context(), "signed in", "sub", sess.User.Subject)
		if attempt.Popup {
			redirect(w, r, "/signed-in?return_to="+url.QueryEscape(landing(attempt.ReturnTo)))
			return
		}
		redirect(w, r, landing(attempt.ReturnTo))
	}
}

// landing is where a finished login goes: where it started, or the dashboard.
func landing(returnTo string) string {
	if returnTo == "" {
		return "/dashboard"
	}
	return returnTo
}

func loginURL(returnTo string) string {
	if returnTo == "" {
		return "/login"
	}
	return "/login?return_to=" + url.QueryEscape(returnTo)
}

var errStateReplayed = errors.New("login state used twice")

var problemLoginExpired = views.Problem{
	Status:   http.StatusBadRequest,
	Title:    "Sign-in expired",
	Message:  "This sign-in was not started here, has expired, or was already used. Please start again.",
	RetryURL: "/login",
}

// callbackProblem explains a failed login without revealing why in detail.
func callbackProblem(err error, retryURL string) views.Problem {
	prob := views.Problem{
		Status:   http.StatusBadRequest,
		Title:    "Sign-in failed",
		Message:  "The identity provider's answer could not be verified, so you were not signed in.",
		RetryURL: retryURL,
	}
	var provErr *auth.ProviderError
	if errors.As(err, &provErr) {
		switch provErr.Reason {
		case auth.ReasonRefused:
			prob.Status = http.StatusForbidden
			prob.Title = "Sign-in cancelled"
			prob.Message = "The sign-in was cancelled or refused at the identity provider."
		case auth.ReasonUnavailable:
			prob.Title = "Identity provider unavailable"
			prob.Message = "The identity provider did not answer in time, so you were not signed in. Please try again in a moment."
		}
	}
	return prob
}
