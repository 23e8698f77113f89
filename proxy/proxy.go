package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
)

// Config configures a Proxy.
type Config struct {
	// Upstream is the app's address.
	Upstream *Upstream
	// Transport carries the requests to the upstream; nil:
	// NewTransport(Upstream, TransportOptions{}).
	Transport http.RoundTripper
	// Identity strips the identity headers clients send and sets the
	// signed-in user's. Required: no request reaches the app unstripped.
	Identity *IdentityHeaders
	// OwnCookie reports whether a cookie is latchkey's; those are taken
	// out of the Cookie header, so the app never sees its session
	// cookie. nil: none are.
	OwnCookie func(name string) bool
	// UpstreamHost sends the upstream's host as Host (localhost for a
	// socket) instead of the host the client asked for.
	UpstreamHost bool
	// ForwardedProto, when set ("http" or "https"), is sent as
	// X-Forwarded-Proto instead of the scheme of the client's
	// connection: "https" when latchkey serves plain HTTP behind a TLS
	// terminator (the scheme of BASE_URL).
	ForwardedProto string
	// ErrorHandler answers a request the upstream did not serve, with
	// the inbound request, so that it can answer a page to a navigation
	// (see Classify) and plain text to anything else; it also logs. nil:
	// plain text, logged at error level. It is not called when the
	// client went away.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *UpstreamError)
	// Log receives the requests given up by their clients (at debug
	// level) and, without ErrorHandler, the upstream's failures; nil:
	// discarded.
	Log *slog.Logger
}

// Proxy sends requests to the upstream with httputil.ReverseProxy:
// bodies stream both ways, Server-Sent Events are flushed as they come,
// WebSocket and other upgrades pass through, hop-by-hop headers are
// dropped. It adds no headers of its own to the app's responses: the app
// owns its Content-Security-Policy. It is safe for concurrent use.
type Proxy struct {
	target         Upstream
	transport      http.RoundTripper
	identity       *IdentityHeaders
	strip          foldedNames // the identity headers and forwarding ones
	ownCookie      func(string) bool
	upstreamHost   bool
	forwardedProto []string
	onError        func(http.ResponseWriter, *http.Request, *UpstreamError)
	log            *slog.Logger
	buffers        *bufferPool
	exchanges      sync.Pool // *exchange
}

// New returns a Proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Upstream == nil || cfg.Upstream.URL == nil:
		return nil, errors.New("proxy: no upstream")
	case cfg.Identity == nil:
		return nil, errors.New("proxy: no IdentityHeaders")
	case cfg.ForwardedProto != "" && cfg.ForwardedProto != "http" && cfg.ForwardedProto != "https":
		return nil, errors.New("proxy: ForwardedProto must be http or https")
	}
	p := &Proxy{
		target:       *cfg.Upstream,
		transport:    cfg.Transport,
		identity:     cfg.Identity,
		ownCookie:    cfg.OwnCookie,
		upstreamHost: cfg.UpstreamHost,
		onError:      cfg.ErrorHandler,
		log:          cfg.Log,
		buffers:      newBufferPool(),
	}
	if p.transport == nil {
		p.transport = NewTransport(cfg.Upstream, TransportOptions{})
	}
	for _, name := range append(cfg.Identity.strip.names(), forwardingHeaders...) {
		p.strip.add(name)
	}
	if cfg.ForwardedProto != "" {
		p.forwardedProto = []string{cfg.ForwardedProto}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	// ReverseProxy logs a body copy cut short, which is a client leaving.
	errorLog := slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	p.exchanges.New = func() any {
		x := &exchange{p: p}
		x.rp = httputil.ReverseProxy{
			Rewrite:        x.rewrite,
			Transport:      p.transport,
			BufferPool:     x,
			ModifyResponse: x.respond,
			ErrorHandler:   x.fail,
			ErrorLog:       errorLog,
		}
		return x
	}
	return p, nil
}

// exchange is one request on its way through the proxy. Exchanges are
// pooled with a ReverseProxy each, so that passing the request's path
// and identity to Rewrite costs no allocation.
type exchange struct {
	p    *Proxy
	rp   httputil.ReverseProxy
	in   *http.Request
	rw   responseWriter
	path Path
	id   *Identity
	// length is the response's Content-Length, -1 until it is known or
	// when it is not given: it picks the size of the copy buffer.
	length int64
}

// Forward sends r to the upstream as a request for path, its canonical
// path (from ParseRequest; the zero Path: read from r), with the headers
// of id, who is signed in (nil: nobody). The client's copies of the
// identity headers and latchkey's cookies are removed first.
//
// A request the client gave up on before the upstream answered is not
// an error: it is logged at debug level and gets status 499, as in
// nginx, which only the request log sees.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, path Path, id *Identity) {
	if path.decoded == "" {
		var err error
		if path, err = RequestPath(r); err != nil {
			status := err.(*PathError).Status()
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	x := p.exchanges.Get().(*exchange)
	x.in, x.path, x.id, x.length = r, path, id, -1
	x.rw.reset(w)
	defer p.release(x)
	x.rp.ServeHTTP(&x.rw, r)
}

func (p *Proxy) release(x *exchange) {
	x.in, x.path, x.id = nil, Path{}, nil
	x.rw.reset(nil)
	p.exchanges.Put(x)
}

func (x *exchange) rewrite(pr *httputil.ProxyRequest) {
	p, out := x.p, pr.Out
	// ReverseProxy's copy of the headers is sized for the client's; the
	// forwarding and identity headers would make it grow twice.
	grown := make(http.Header, len(out.Header)+addedHeaders)
	for k, v := range out.Header {
		grown[k] = v
	}
	out.Header = grown
	// The upstream is sent the canonical path that access was decided on.
	out.URL.Path, out.URL.RawPath = x.path.decoded, x.path.rawPath()
	pr.SetURL(p.target.URL)
	if !p.upstreamHost {
		out.Host = pr.In.Host
	}
	p.strip.strip(out.Header)
	setForwarded(out.Header, pr.In, p.forwardedProto)
	p.identity.set(out.Header, x.id)
	removeCookies(out.Header, p.ownCookie)
}

// respond notes the length of the upstream's response before it is
// copied.
func (x *exchange) respond(res *http.Response) error {
	x.length = res.ContentLength
	return nil
}

// Get lends ReverseProxy the buffer that copies the response, sized for
// it (see smallBufferSize).
func (x *exchange) Get() []byte { return x.p.buffers.getFor(x.length) }

// Put takes the buffer back.
func (x *exchange) Put(buf []byte) { x.p.buffers.Put(buf) }

func (x *exchange) fail(_ http.ResponseWriter, _ *http.Request, err error) {
	p := x.p
	if x.rw.hijacked {
		// The connection is the client's now; nothing can be answered.
		p.log.Debug("upgraded connection ended", "path", x.path.decoded, "err", err)
		return
	}
	failure, gone := classifyError(x.in.Context(), err)
	if gone {
		p.log.Debug("client went away before the upstream answered", "path", x.path.decoded, "err", err)
		x.rw.ResponseWriter.WriteHeader(statusClientClosedRequest)
		return
	}
	ue := &UpstreamError{Failure: failure, Err: err}
	if p.onError != nil {
		p.onError(x.rw.ResponseWriter, x.in, ue)
		return
	}
	p.log.Error("upstream request failed", "upstream", p.target.String(), "path", x.path.decoded, "err", ue)
	http.Error(x.rw.ResponseWriter, http.StatusText(ue.Status()), ue.Status())
}

// setForwarded sets X-Forwarded-For, -Host and -Proto on h, from which
// the client's copies were stripped, as httputil.ProxyRequest.SetXForwarded
// does, with two allocations fewer: the values of For and Host share one
// array, and Proto is shared (proto, when set, else the connection's).
func setForwarded(h http.Header, in *http.Request, proto []string) {
	values := make([]string, 2)
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		values[0] = ip
		h["X-Forwarded-For"] = values[0:1:1]
	}
	values[1] = in.Host
	h["X-Forwarded-Host"] = values[1:2:2]
	switch {
	case proto != nil:
		h["X-Forwarded-Proto"] = proto
	case in.TLS != nil:
		h["X-Forwarded-Proto"] = protoHTTPS
	default:
		h["X-Forwarded-Proto"] = protoHTTP
	}
}

// X-Forwarded-Proto values; shared, never modified.
var protoHTTP, protoHTTPS = []string{"http"}, []string{"https"}

// forwardingHeaders describe the client's connection to the app. The
// client's copies are removed whatever their spelling: ReverseProxy drops
// X-Forwarded-For, -Host and -Proto and Forwarded as written, but not
// X_Forwarded_For, which CGI-style servers (PHP's HTTP_X_FORWARDED_FOR)
// read as the same header; nor the Port and Prefix that some frameworks
// build URLs from. latchkey is the app's front door: it trusts none of
// them from its client.
var forwardingHeaders = []string{
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Prefix",
}

// addedHeaders is how many headers Rewrite may add: X-Forwarded-For,
// -Host and -Proto, the identity headers and Authorization.
const addedHeaders = 3 + 6

// statusClientClosedRequest is nginx's status for a request its client
// closed before the answer.
const statusClientClosedRequest = 499

// Failure is why the upstream did not answer.
type Failure uint8

const (
	// Unreachable: no connection could be made: refused, unknown host,
	// no such socket, no route, or a failed TLS handshake.
	Unreachable Failure = iota + 1
	// Timeout: connecting or waiting for the response headers took
	// longer than the transport's timeouts.
	Timeout
	// Broken: the exchange broke after connecting: the connection was
	// reset or closed early, or the answer was not valid HTTP.
	Broken
)

// String names the failure for logs.
func (f Failure) String() string {
	switch f {
	case Unreachable:
		return "unreachable"
	case Timeout:
		return "timeout"
	case Broken:
		return "broken"
	}
	return "unknown"
}

// UpstreamError is a request the upstream did not answer.
type UpstreamError struct {
	Failure Failure
	Err     error
}

// Error says how the upstream failed.
func (e *UpstreamError) Error() string {
	return "upstream " + e.Failure.String() + ": " + e.Err.Error()
}

// Unwrap returns the transport's error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// Status is the HTTP status to answer with: 504 Gateway Timeout for a
// timeout, 502 Bad Gateway otherwise.
func (e *UpstreamError) Status() int {
	if e.Failure == Timeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// classifyError tells why a request to the upstream failed, or that its
// client went away.
func classifyError(ctx context.Context, err error) (failure Failure, clientGone bool) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return 0, true
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return Timeout, false
	}
	if errors.Is(err, context.Canceled) {
		return 0, true
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	if (errors.As(err, &opErr) && opErr.Op == "dial") || errors.As(err, &dnsErr) ||
		errors.As(err, &certErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) {
		return Unreachable, false
	}
	return Broken, false
}

// responseWriter passes the upstream's response on. It flushes after
// every write, so that a response with a Content-Length streams as it
// comes instead of waiting in net/http's buffer (ReverseProxy flushes
// only event streams and responses of unknown length, with a timer and
// a goroutine each). It also notes that ReverseProxy took over the
// connection for an upgrade, after which no error can be answered.
type responseWriter struct {
	http.ResponseWriter
	flusher  http.Flusher
	rc       *http.ResponseController // when the writer is wrapped
	hijacked bool
}

func (w *responseWriter) reset(rw http.ResponseWriter) {
	*w = responseWriter{ResponseWriter: rw}
	if rw == nil {
		return
	}
	if f, ok := rw.(http.Flusher); ok {
		w.flusher = f
	} else {
		w.rc = http.NewResponseController(rw)
	}
}

// Write writes b and flushes it to the client.
func (w *responseWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	if err != nil {
		return n, err
	}
	return n, w.FlushError()
}

// FlushError sends what was written to the client.
func (w *responseWriter) FlushError() error {
	if w.flusher != nil {
		w.flusher.Flush()
		return nil
	}
	if err := w.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// Hijack hands the connection over for an upgrade.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
