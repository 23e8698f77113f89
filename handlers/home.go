package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"latchkey/auth"
	"latchkey/views"
)

// handleHome serves the landing page; to htmx, just its auth box. Coming
// back from a logout with the state this app sent, it says so, and that
// the user is still signed in at a provider that has no way to end its
// own session; any other state is ignored.
func handleHome(p *pages, cookies *auth.Cookies, provider *auth.Provider) http.HandlerFunc {
	// Every visitor sees the same page and auth box: draw them once. (If
	// that fails, each request draws them and shows what went wrong.)
	visitor := p.shellFor(p.site.home(), nil, "")
	visitorPage, err := p.draw(views.Home(visitor, ""))
	visitorBox, boxErr := p.draw(views.AuthBox(visitor))
	if err != nil || boxErr != nil {
		visitorPage, visitorBox = nil, nil
	}
	return func(w http.ResponseWriter, r *http.Request) {
		notice := ""
		// Most visits have no query: parsing none would still make a map.
		if state := queryValue(r, "state"); state != "" && cookies.TakeLogoutState(w, r, state) {
			notice = "You have been logged out."
			if !provider.EndsProviderSessions() {
				notice = "You have been logged out of this site. You are still logged in at " + provider.Host() +
					", so the next Log in may log you in there without asking."
			}
		}
		if notice == "" && visitorPage != nil && sessionFrom(r.Context()) == nil {
			if isHTMX(r) {
				p.sendDrawn(w, r, http.StatusOK, visitorBox)
			} else {
				p.sendDrawn(w, r, http.StatusOK, visitorPage)
			}
			return
		}
		s := p.shell(r, "")
		p.render(w, r, http.StatusOK, views.Home(s, notice), views.AuthBox(s))
	}
}

// handleSignedIn ends a login that ran in the popup window.
func handleSignedIn(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := auth.SafeReturnPath(r.URL.Query().Get("return_to"))
		if sessionFrom(r.Context()) == nil {
			redirect(w, r, p.site.home(), http.StatusNoContent)
			return
		}
		p.render(w, r, http.StatusOK, views.PopupDone(p.shell(r, "Logged in"), next), nil)
	}
}

// handleBox answers the login box or the profile card alone, for a page
// to show where it likes (an app's page behind latchkey, with hx-get) and
// for latchkey's script to draw again when the session changes; to
// latchkey's own pages, with the header's session links. Its Log In comes
// back to the page it is on: the htmx request's page, or the Referer,
// when either is on this site.
func handleBox(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page := pageOf(r, p.site.base)
		path, _, _ := strings.Cut(page, "?")
		s := p.shellFor(path, sessionFrom(r.Context()), "")
		s.LoginURL = p.site.loginURL(p.site.returnTo(page), false)
		p.render(w, r, http.StatusOK, views.BoxUpdate(s, path != "" && p.site.owns(path)), nil)
	}
}

// pageOf is the path and query of the page a request was made from, when
// that page is on base's site: "" otherwise.
func pageOf(r *http.Request, base *url.URL) string {
	for _, header := range []string{"HX-Current-URL", "Referer"} {
		u, err := url.Parse(r.Header.Get(header))
		if err != nil || u.Host == "" || !strings.EqualFold(u.Scheme+"://"+u.Host, base.Scheme+"://"+base.Host) {
			continue
		}
		page := u.EscapedPath()
		if page == "" {
			page = "/"
		}
		if u.RawQuery != "" {
			page += "?" + u.RawQuery
		}
		return page
	}
	return ""
}

// queryValue is r.URL.Query().Get(name).
func queryValue(r *http.Request, name string) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get(name)
}
