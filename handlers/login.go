package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"latchkey/auth"
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
		target, err := provider.AuthCodeURL(r.Context(), attempt)
		if err != nil {
			p.fail(w, r, withRetry(fmt.Errorf("start login: %w", err), p.site.loginURL(returnTo, popup)))
			return
		}
		if err := cookies.SaveLoginAttempt(w, r, attempt); err != nil {
			p.fail(w, r, fmt.Errorf("save login attempt: %w", err))
			return
		}
		redirect(w, r, target, http.StatusNoContent)
	}
}

// handleCallback finishes a login. Whatever goes wrong, the user gets a 4xx
// page with a way to try again and no session; the reason goes to the log.
func handleCallback(p *pages, provider *auth.Provider, cookies *auth.Cookies, sessions *auth.Sessions, timeout time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		attempt, err := cookies.TakeLoginAttempt(w, r, q.Get("state"))
		if err != nil {
			p.fail(w, r, fmt.Errorf("%w: %w", errLoginUnknown, err))
			return
		}
		// From here on, "Try again" starts the same login afresh, and a
		// popup login's pages know they are in the popup.
		retry := p.site.loginURL(attempt.ReturnTo, attempt.Popup)
		if attempt.Popup {
			r = r.WithContext(withPopup(r.Context()))
		}
		// What costs nothing is checked before what costs a store write
		// and a token request.
		if err := provider.CheckCallback(q); err != nil {
			p.fail(w, r, withRetry(fmt.Errorf("%w: %w", errSignIn, err), retry))
			return
		}
		// The cookie is cleared now, but a copy of it could be replayed:
		// the store remembers used states, across instances too.
		first, err := sessions.ClaimOnce(r.Context(), "login:"+attempt.State, auth.LoginMaxAge)
		if err != nil {
			p.fail(w, r, withRetry(err, retry))
			return
		}
		if !first {
			p.fail(w, r, withRetry(fmt.Errorf("%w: its state was used before", errLoginUnknown), retry))
			return
		}

		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		sess, err := provider.Finish(ctx, q, attempt)
		if err != nil {
			p.fail(w, r, withRetry(fmt.Errorf("%w: %w", errSignIn, err), retry))
			return
		}

		// Never carry a session over a login: end whatever the browser had.
		if old := sessionFrom(r.Context()); old != nil {
			if err := sessions.End(r.Context(), w, old); err != nil {
				p.fail(w, r, withRetry(err, retry))
				return
			}
		}
		if err := sessions.Start(r.Context(), w, r, sess); err != nil {
			p.fail(w, r, withRetry(err, retry))
			return
		}
		p.log.InfoContext(r.Context(), "signed in", "sub", sess.User.Subject)
		if attempt.Popup {
			redirect(w, r, p.site.path(routeSignedIn)+"?return_to="+url.QueryEscape(p.site.landing(attempt.ReturnTo)), http.StatusNoContent)
			return
		}
		redirect(w, r, p.site.landing(attempt.ReturnTo), http.StatusNoContent)
	}
}
