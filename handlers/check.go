package handlers

import (
	"errors"
	"net/http"

	"latchkey/auth"
	"latchkey/proxy"
)

// handleCheck answers a front server that asks whether to let a request
// through (forward auth: nginx auth_request, Caddy forward_auth, Traefik
// forwardAuth). For an allowed session it answers 200 with the identity
// headers, which the front server copies onto the app's request. Without
// a session it answers as proxy.Request.Challenge says: 401, or for a
// navigation through Caddy or Traefik, which pass the answer on, a
// redirect to sign in; never a 3xx to nginx, which would make it a 500. A
// user the rules refuse gets 403, with the page that says why.
func handleCheck(p *pages, sessions *auth.Sessions, refresher *auth.Refresher, f *front, policy *proxy.Policy, passToken bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := proxy.ParseForwardAuth(r)
		sess, err := sessions.Load(r.Context(), r)
		switch {
		case errors.Is(err, auth.ErrNoSession):
			p.challenge(w, r, &q, sessions)
			return
		case err != nil:
			p.fail(w, r, err)
			return
		}
		id := identityOf(sess)
		if ok, reason := policy.Allows(id); !ok {
			p.forbid(w, r, &q, sess, reason)
			return
		}
		if passToken {
			switch err := accessToken(r, refresher, sess, id); {
			case sessionGone(err) || errors.Is(err, auth.ErrNoRefreshToken):
				p.challenge(w, r, &q, sessions)
				return
			case err != nil:
				p.fail(w, r, err)
				return
			}
		}
		h := w.Header()
		f.identity.SetAll(h, id)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}
