package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Kind is who is asking, as far as the answer to a request without a
// session goes.
type Kind uint8

const (
	// Navigation is a browser loading a page: GET or HEAD with
	// Sec-Fetch-Mode: navigate, or, from a browser that does not send
	// Sec-Fetch-Mode, an Accept header that asks for HTML.
	Navigation Kind = iota + 1
	// HTMX is a request made by htmx (HX-Request: true).
	HTMX
	// Preflight is a CORS preflight: OPTIONS with
	// Access-Control-Request-Method.
	Preflight
	// Other is anything else: fetch and XHR, API clients, form posts.
	Other
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Navigation:
		return "navigation"
	case HTMX:
		return "htmx"
	case Preflight:
		return "preflight"
	case Other:
		return "other"
	}
	return "unknown"
}

// Classify tells who is asking from a request's method and headers.
func Classify(method string, h http.Header) Kind {
	if method == http.MethodOptions && first(h, "Access-Control-Request-Method") != "" {
		return Preflight
	}
	if first(h, "Hx-Request") == "true" {
		return HTMX
	}
	if method != http.MethodGet && method != http.MethodHead {
		return Other
	}
	// A browser that sends Sec-Fetch-Mode says what it is doing; fetch()
	// asking for text/html is not a navigation.
	if mode := first(h, "Sec-Fetch-Mode"); mode != "" {
		if mode == "navigate" || mode == "nested-navigate" {
			return Navigation
		}
		return Other
	}
	for _, accept := range h["Accept"] {
		if acceptsHTML(accept) {
			return Navigation
		}
	}
	return Other
}

// first returns the first value of a header given in canonical form.
func first(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// acceptsHTML reports whether an Accept header lists text/html or
// application/xhtml+xml with a q above zero. Wildcards do not count:
// curl and fetch() send */*.
func acceptsHTML(accept string) bool {
	for accept != "" {
		var item string
		item, accept, _ = strings.Cut(accept, ",")
		mediaType, params, _ := strings.Cut(item, ";")
		mediaType = strings.TrimSpace(mediaType)
		if !strings.EqualFold(mediaType, "text/html") && !strings.EqualFold(mediaType, "application/xhtml+xml") {
			continue
		}
		if !zeroQ(params) {
			return true
		}
	}
	return false
}

// zeroQ reports whether media type parameters hold q=0 (or 0.0, 0.000).
func zeroQ(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		value = strings.TrimSpace(value)
		return value != "" && strings.Trim(value, "0.") == "" && value[0] == '0'
	}
	return false
}

// Request is a request as latchkey decides on it: the one a browser sent
// to latchkey's proxy, or the one a front server asks about in forward
// auth.
type Request struct {
	Method string
	// Scheme is "http" or "https", as the client used it; empty when not
	// known.
	Scheme string
	// Host is the host the client asked for.
	Host string
	// Path is the canonical path. In forward auth it is the zero Path
	// when the front server did not send a usable one.
	Path Path
	// RawQuery is the query as sent, without the '?'.
	RawQuery string
	Kind     Kind
	// Header holds the client's headers.
	Header http.Header
	// CanRedirect is whether a 3xx answer reaches the browser: false for
	// nginx auth_request, which turns it into a 500.
	CanRedirect bool
}

// ParseRequest reads a request made to latchkey's proxy. Its error is a
// *PathError: answer it with the error's Status.
func ParseRequest(r *http.Request) (Request, error) {
	p, err := RequestPath(r)
	if err != nil {
		return Request{}, err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return Request{
		Method:      r.Method,
		Scheme:      scheme,
		Host:        r.Host,
		Path:        p,
		RawQuery:    r.URL.RawQuery,
		Kind:        Classify(r.Method, r.Header),
		Header:      r.Header,
		CanRedirect: true,
	}, nil
}

// MaxReturnTo is the longest return path kept; a longer one falls back
// to the path without its query, then to "/".
const MaxReturnTo = 2048

// ReturnTo is where a login started by this request should bring the
// user back to: a local path and query (never another site), for the
// login URL's return_to. A navigation comes back to itself, exactly. An
// htmx request (but a boosted navigation) and a form post come back to
// the page they were made from, taken from HX-Current-URL or Referer when
// it is on the same host; else to "/".
func (q *Request) ReturnTo() string {
	safe := q.Method == http.MethodGet || q.Method == http.MethodHead
	var path, query string
	switch {
	case q.Kind == HTMX && !(safe && first(q.Header, "Hx-Boosted") == "true"):
		path, query = q.samePage(first(q.Header, "Hx-Current-Url"))
	case !safe:
		path, query = q.samePage(first(q.Header, "Referer"))
	default:
		path, query = q.Path.escaped, q.RawQuery
	}
	if path == "" || len(path) > MaxReturnTo {
		return "/"
	}
	if query == "" || !isPrintableQuery(query) || len(path)+1+len(query) > MaxReturnTo {
		return path
	}
	return path + "?" + query
}

// samePage returns the canonical path and query of page, an absolute URL,
// if it is on the request's host; else "/".
func (q *Request) samePage(page string) (string, string) {
	u, err := url.Parse(page)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, q.Host) || u.User != nil {
		return "/", ""
	}
	escaped := u.EscapedPath()
	if escaped == "" {
		escaped = "/"
	}
	p, err := CanonicalPath(escaped)
	if err != nil {
		return "/", ""
	}
	return p.escaped, u.RawQuery
}

func isPrintableQuery(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// LoginRequiredEvent is the htmx event an unauthenticated htmx request
// triggers (in HX-Trigger), with the detail {"loginURL": "…"}. latchkey's
// script cancels htmx:before:response for such a response (so that
// HX-Redirect is not followed), opens the login popup and, once signed
// in, issues the request again.
const LoginRequiredEvent = "latchkey:login-required"

// AuthScheme is the scheme of the WWW-Authenticate challenge: latchkey's
// own, since the credential is a session cookie obtained by signing in
// through the browser, which no HTTP client can do by itself. Its
// parameters are realm and login_url.
const AuthScheme = "Latchkey"

// Challenge sets the headers of the answer to a request that needs a
// session and has none, and returns its status; it writes nothing.
//
//   - A navigation is sent to loginURL: 303 See Other. Behind nginx
//     auth_request, which cannot pass a 3xx on, it is 401 with the login
//     URL in Location, for `auth_request_set $login $upstream_http_location`.
//   - An htmx request gets 401, HX-Trigger naming LoginRequiredEvent, and
//     HX-Redirect to loginURL for pages without latchkey's script.
//   - Anything else, preflights included, gets 401; never a redirect,
//     which a script could only follow to the provider and fail on.
//
// Every 401 carries WWW-Authenticate: Latchkey realm="…", login_url="…",
// and every answer Cache-Control: no-store. loginURL is the login page
// with ReturnTo as its return_to; realm names the site.
func (q *Request) Challenge(h http.Header, loginURL, realm string) int {
	h.Set("Cache-Control", "no-store")
	if q.Kind == Navigation && q.CanRedirect {
		h.Set("Location", loginURL)
		return http.StatusSeeOther
	}
	if realm == "" {
		realm = "latchkey"
	}
	h.Set("Www-Authenticate", AuthScheme+" realm="+quote(realm)+", login_url="+quote(loginURL))
	switch q.Kind {
	case Navigation:
		h.Set("Location", loginURL)
	case HTMX:
		detail, _ := json.Marshal(loginURL) // a string always marshals
		h.Set("Hx-Trigger", `{"`+LoginRequiredEvent+`":{"loginURL":`+string(detail)+`}}`)
		h.Set("Hx-Redirect", loginURL)
	}
	return http.StatusUnauthorized
}

// WriteChallenge answers with Challenge's headers and status and a
// one-line plain-text body.
func (q *Request) WriteChallenge(w http.ResponseWriter, loginURL, realm string) {
	status := q.Challenge(w.Header(), loginURL, realm)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if q.Method != http.MethodHead {
		_, _ = w.Write([]byte("Sign in required: " + loginURL + "\n"))
	}
}

// quote makes an HTTP quoted-string of s, dropping control characters.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
