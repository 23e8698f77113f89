package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
)

// Upstream is the app latchkey stands in front of: an http or https URL
// with an optional base path, or a Unix socket.
type Upstream struct {
	// URL is where requests are sent: scheme, host and base path (no
	// trailing slash). For a Unix socket it is http://localhost and the
	// base path; the host only names the connection pool.
	URL *url.URL
	// Socket is the path of the Unix socket; empty for TCP.
	Socket string
}

// upstreamExamples ends the errors of ParseUpstream, so that a message
// quoted by a configuration error says what would be accepted.
const upstreamExamples = "give http://host:port[/base], https://host[:port][/base] or unix:/path/app.sock[:/base]"

// ParseUpstream reads an upstream setting:
//
//	http://127.0.0.1:8080          an app listening on TCP
//	https://app.internal/base      requests for /x go to /base/x
//	unix:/run/app.sock             an app listening on a Unix socket
//	unix:///run/app.sock           the same, in URL form
//	unix:/run/app.sock:/base       a socket with a base path (nginx's form)
//
// The socket path ends at the first colon, so it cannot contain one. The
// errors quote the setting and say what would be accepted.
func ParseUpstream(s string) (*Upstream, error) {
	if s == "" {
		return nil, errors.New("empty upstream: " + upstreamExamples)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("upstream %q contains a space or control character: %s", s, upstreamExamples)
		}
	}
	if rest, ok := strings.CutPrefix(s, "unix:"); ok {
		return parseSocket(s, rest)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		if !strings.Contains(s, "://") {
			return nil, fmt.Errorf("upstream %q has no scheme: write http://%s, or %s", s, s, upstreamExamples)
		}
		if err == nil {
			return nil, fmt.Errorf("upstream %q: the scheme must be http, https or unix: %s", s, upstreamExamples)
		}
		return nil, fmt.Errorf("upstream %q is not a URL: %s", s, upstreamExamples)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("upstream %q must not contain a user name or password", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("upstream %q has no host: %s", s, upstreamExamples)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("upstream %q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("upstream %q must not have a fragment", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("upstream %q: port %s is not between 1 and 65535", s, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("upstream %q has an empty port", s)
	}
	base, err := basePath(s, u.EscapedPath())
	if err != nil {
		return nil, err
	}
	target := &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}
	target.Path, target.RawPath = base.decoded, base.rawPath()
	return &Upstream{URL: target}, nil
}

// maxSocketPath is the longest socket path the system can connect to
// (sun_path holds 108 bytes on Linux and 104 elsewhere, with a NUL).
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

func parseSocket(s, rest string) (*Upstream, error) {
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		if !strings.HasPrefix(after, "/") {
			return nil, fmt.Errorf("upstream %q: the socket path must be absolute in this form (unix:///run/app.sock), or write unix:%s", s, after)
		}
		rest = after
	}
	socket, base, hasBase := strings.Cut(rest, ":")
	switch {
	case socket == "":
		return nil, fmt.Errorf("upstream %q has no socket path: %s", s, upstreamExamples)
	case strings.ContainsAny(socket, "?#"):
		return nil, fmt.Errorf("upstream %q: a socket path must not contain ? or #", s)
	case len(socket) > maxSocketPath():
		return nil, fmt.Errorf("upstream %q: the socket path is %d bytes, longer than the %d a socket path may have", s, len(socket), maxSocketPath())
	case hasBase && !strings.HasPrefix(base, "/"):
		return nil, fmt.Errorf("upstream %q: the base path after the socket must start with / (unix:/run/app.sock:/base); a socket path cannot contain a colon", s)
	}
	p := Path{decoded: "/"}
	if hasBase {
		var err error
		if p, err = basePath(s, base); err != nil {
			return nil, err
		}
	}
	target := &url.URL{Scheme: "http", Host: "localhost"}
	target.Path, target.RawPath = p.decoded, p.rawPath()
	if target.Path == "/" {
		target.Path = ""
	}
	return &Upstream{URL: target, Socket: socket}, nil
}

// basePath checks the base path of an upstream: a plain path with no dot
// segments, repeated slashes or encoded separators, without its trailing
// slash.
func basePath(s, escaped string) (Path, error) {
	escaped = strings.TrimRight(escaped, "/")
	if escaped == "" {
		return Path{}, nil
	}
	p, err := CanonicalPath(escaped)
	if err != nil || p.escaped != escaped {
		return Path{}, fmt.Errorf("upstream %q: the base path %q must be a plain path, without dot segments, repeated slashes or encoded slashes", s, escaped)
	}
	return p, nil
}

// String returns the upstream in the form ParseUpstream reads.
func (u *Upstream) String() string {
	if u.Socket != "" {
		if p := u.URL.EscapedPath(); p != "" {
			return "unix:" + u.Socket + ":" + p
		}
		return "unix:" + u.Socket
	}
	return u.URL.String()
}

// Origin names the upstream without its base path: scheme://host[:port]
// with the port left out when it is the scheme's default, or unix:PATH
// for a socket. It is the default audience of the signed assertion.
func (u *Upstream) Origin() string {
	if u.Socket != "" {
		return "unix:" + u.Socket
	}
	host := u.URL.Host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (u.URL.Scheme == "http" && port == "80") || (u.URL.Scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	return u.URL.Scheme + "://" + host
}
