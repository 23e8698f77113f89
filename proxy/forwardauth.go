package proxy

import (
	"net/http"
	"strings"
)

// ParseForwardAuth reads the check request of a front server that asks
// whether to let a request through, and returns that original request.
//
// Caddy's forward_auth and Traefik's forwardAuth send X-Forwarded-Method,
// X-Forwarded-Uri, X-Forwarded-Host and X-Forwarded-Proto, and pass the
// check's answer to the browser, a redirect included: such a request has
// CanRedirect set. nginx's auth_request sends what its configuration says;
// latchkey reads X-Original-URI and X-Original-Method:
//
//	location = /.latchkey/check {
//	    internal;
//	    proxy_pass http://latchkey;
//	    proxy_pass_request_body off;
//	    proxy_set_header Content-Length "";
//	    proxy_set_header X-Original-URI $request_uri;
//	    proxy_set_header X-Original-Method $request_method;
//	    proxy_set_header X-Forwarded-Host $host;
//	    proxy_set_header X-Forwarded-Proto $scheme;
//	    proxy_set_header X-Forwarded-Method "";
//	}
//
// nginx turns any answer but 2xx, 401 and 403 into a 500, so a check
// without X-Forwarded-Method never gets a redirect; the empty
// X-Forwarded-Method above removes one a client might send. The client's
// other headers (Accept, Sec-Fetch-Mode, HX-Request, Cookie) come along
// with the check, so Kind is what the original request was.
//
// The original URI is used for ReturnTo only, checked as a local path; a
// URI that is not one leaves Path zero, and ReturnTo is then "/". No
// decision depends on it: a client who can reach the check endpoint can
// send any X-Forwarded-Uri, so which locations need a session is the
// front server's configuration, not PUBLIC_PATHS.
func ParseForwardAuth(r *http.Request) Request {
	h := r.Header
	q := Request{Method: r.Method, Scheme: "http", Host: r.Host, Header: h}
	if r.TLS != nil {
		q.Scheme = "https"
	}
	uri := ""
	if m := first(h, "X-Forwarded-Method"); m != "" {
		q.Method, q.CanRedirect = m, true
		uri = first(h, "X-Forwarded-Uri")
	} else {
		if m := first(h, "X-Original-Method"); m != "" {
			q.Method = m
		}
		uri = first(h, "X-Original-Uri")
	}
	if host := first(h, "X-Forwarded-Host"); host != "" {
		q.Host = host
	}
	if proto := strings.ToLower(first(h, "X-Forwarded-Proto")); proto == "http" || proto == "https" {
		q.Scheme = proto
	}
	if uri, _, _ = strings.Cut(uri, "#"); strings.HasPrefix(uri, "/") {
		path, query, _ := strings.Cut(uri, "?")
		if p, err := CanonicalPath(path); err == nil {
			q.Path, q.RawQuery = p, query
		}
	}
	q.Kind = Classify(q.Method, h)
	return q
}
