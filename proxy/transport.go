package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// TransportOptions tunes the connections to the upstream. The zero value
// gives the defaults.
type TransportOptions struct {
	// DialTimeout bounds connecting (TCP or socket). Default 10s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake with an https
	// upstream. Default 10s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers
	// once the request is sent; the body, a stream of events or a
	// WebSocket may then last as long as it likes. Default 60s, as
	// nginx's proxy_read_timeout; negative: no limit (long polling).
	ResponseHeaderTimeout time.Duration
	// MaxIdleConns is how many idle connections to the upstream are
	// kept for reuse. Default 256.
	MaxIdleConns int
	// TLSClientConfig configures TLS to an https upstream (a private
	// CA, a client certificate); nil: the system's roots.
	TLSClientConfig *tls.Config
}

// The defaults of TransportOptions.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultMaxIdleConns          = 256
)

// NewTransport returns a Transport for u, tuned as a reverse proxy's:
// many idle connections kept (Go's default of 2 per host makes every
// other request under load open a connection), HTTP/2 to https
// upstreams, no transparent decompression (the client's Accept-Encoding
// and the app's Content-Encoding pass as they are), no proxy from the
// environment, and timeouts for connecting and for the response headers
// but none that cuts a long response.
func NewTransport(u *Upstream, opts TransportOptions) *http.Transport {
	dialTimeout := orDefault(opts.DialTimeout, DefaultDialTimeout)
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if u.Socket != "" {
		socket := u.Socket
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		}
	}
	headerTimeout := orDefault(opts.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	if opts.ResponseHeaderTimeout < 0 {
		headerTimeout = 0
	}
	idle := opts.MaxIdleConns
	if idle <= 0 {
		idle = DefaultMaxIdleConns
	}
	var tlsConfig *tls.Config
	if opts.TLSClientConfig != nil {
		tlsConfig = opts.TLSClientConfig.Clone()
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    orDefault(opts.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout:  headerTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           idle,
		MaxIdleConnsPerHost:    idle,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// bufferSize is the size of the buffers that copy bodies: large enough
// that a big response moves in few system calls.
const bufferSize = 32 << 10

// smallBufferSize is the size of the buffers that copy a response whose
// Content-Length says it fits: most pages, scripts and API answers.
// Lending each of them 32 KB would hold 32 KB for every response in
// flight (some 30 MB at a thousand connections) and make the collector
// run more often, for bytes that are never used.
const smallBufferSize = 4 << 10

// bufferPool lends the buffers that copy responses, so that a response
// does not allocate a fresh buffer each time: a small one for a response
// known to fit in it, a large one otherwise.
type bufferPool struct{ large, small sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{
		large: sync.Pool{New: func() any { return new([bufferSize]byte) }},
		small: sync.Pool{New: func() any { return new([smallBufferSize]byte) }},
	}
}

// Get lends a large buffer.
func (b *bufferPool) Get() []byte { return b.large.Get().(*[bufferSize]byte)[:] }

// getFor lends a buffer for a body of length bytes (-1: unknown).
func (b *bufferPool) getFor(length int64) []byte {
	if length >= 0 && length <= smallBufferSize {
		return b.small.Get().(*[smallBufferSize]byte)[:]
	}
	return b.Get()
}

// Put takes back a buffer from Get or getFor. It is kept as an array
// pointer, which a sync.Pool holds without allocating.
func (b *bufferPool) Put(buf []byte) {
	switch cap(buf) {
	case bufferSize:
		b.large.Put((*[bufferSize]byte)(buf[:bufferSize]))
	case smallBufferSize:
		b.small.Put((*[smallBufferSize]byte)(buf[:smallBufferSize]))
	}
}
