package oidctest

import (
	"net/http"
	"net/url"
)

// Endpoint names one of the provider's endpoints in the request records.
type Endpoint string

// The endpoints whose requests are recorded.
const (
	EndpointDiscovery  Endpoint = "discovery"
	EndpointAuthorize  Endpoint = "authorize"
	EndpointToken      Endpoint = "token"
	EndpointUserinfo   Endpoint = "userinfo"
	EndpointJWKS       Endpoint = "jwks"
	EndpointEndSession Endpoint = "end_session"
	EndpointPicture    Endpoint = "picture"
)

// maxFormBytes bounds the request bodies the provider reads.
const maxFormBytes = 1 << 20

// Request is the record of one request the provider received, taken before it was answered.
type Request struct {
	Endpoint Endpoint
	Method   string
	Path     string
	Query    url.Values  // the URL query
	Form     url.Values  // the url-encoded body of a POST, PUT or PATCH
	Header   http.Header // the request headers, Authorization included
}

// clone returns a deep copy, so callers cannot race with the provider or with each other.
func (r Request) clone() Request {
	r.Query = cloneValues(r.Query)
	r.Form = cloneValues(r.Form)
	r.Header = r.Header.Clone()
	return r
}

// Params returns the query and the form together, form values last.
func (r Request) Params() url.Values {
	params := cloneValues(r.Query)
	for k, vs := range r.Form {
		params[k] = append(params[k], vs...)
	}
	return params
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// record wraps an endpoint's handler so that each request is parsed and recorded first.
func (p *Provider) record(e Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		parseErr := r.ParseForm()
		rec := Request{
			Endpoint: e,
			Method:   r.Method,
			Path:     r.URL.Path,
			Query:    cloneValues(r.URL.Query()),
			Form:     cloneValues(r.PostForm),
			Header:   r.Header.Clone(),
		}
		p.mu.Lock()
		p.requests[e] = append(p.requests[e], rec)
		p.mu.Unlock()
		if parseErr != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request could not be parsed")
			return
		}
		h(w, r)
	})
}

// Requests returns copies of the requests an endpoint received, oldest first.
func (p *Provider) Requests(e Endpoint) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.requests[e]))
	for i, r := range p.requests[e] {
		out[i] = r.clone()
	}
	return out
}

// Calls returns how many requests an endpoint received.
func (p *Provider) Calls(e Endpoint) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests[e])
}

// lastRequest returns a copy of the latest request to an endpoint, if any.
func (p *Provider) lastRequest(e Endpoint) (Request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := p.requests[e]
	if len(rs) == 0 {
		return Request{}, false
	}
	return rs[len(rs)-1].clone(), true
}

// DiscoveryCalls returns how many times the discovery document was requested.
func (p *Provider) DiscoveryCalls() int { return p.Calls(EndpointDiscovery) }

// AuthorizeCalls returns how many authorization requests were received.
func (p *Provider) AuthorizeCalls() int { return p.Calls(EndpointAuthorize) }

// TokenCalls returns how many token requests were received.
func (p *Provider) TokenCalls() int { return p.Calls(EndpointToken) }

// UserinfoCalls returns how many userinfo requests were received.
func (p *Provider) UserinfoCalls() int { return p.Calls(EndpointUserinfo) }

// JWKSCalls returns how many times the JWKS was requested.
func (p *Provider) JWKSCalls() int { return p.Calls(EndpointJWKS) }

// EndSessionCalls returns how many end-session requests were received.
func (p *Provider) EndSessionCalls() int { return p.Calls(EndpointEndSession) }

// LastAuthorize returns the parameters of the latest authorization request, or nil if none came.
func (p *Provider) LastAuthorize() url.Values {
	r, ok := p.lastRequest(EndpointAuthorize)
	if !ok {
		return nil
	}
	return r.Params()
}

// LastToken returns the form and the headers of the latest token request, or nils if none came.
func (p *Provider) LastToken() (url.Values, http.Header) {
	r, ok := p.lastRequest(EndpointToken)
	if !ok {
		return nil, nil
	}
	return r.Form, r.Header
}

// LastEndSession returns the parameters of the latest end-session request, or nil if none came.
func (p *Provider) LastEndSession() url.Values {
	r, ok := p.lastRequest(EndpointEndSession)
	if !ok {
		return nil
	}
	return r.Params()
}
