package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPathLength is the longest request path accepted, in bytes as sent.
const MaxPathLength = 8192

// Path is a request path in canonical form: percent-decoded, dot segments
// removed, repeated slashes merged. Access is decided on it and the
// upstream receives exactly it, so what was matched is what the upstream
// acts on. The zero Path is not valid; make one with CanonicalPath or
// RequestPath.
type Path struct {
	decoded string // what access is decided on
	escaped string // the same, percent-encoded as sent to the upstream
	// readings notes which other readings of the path a server behind
	// latchkey might make: see the readings flags.
	readings uint8
}

// The readings of a path that differ from the literal one. Java servers
// drop ";parameters" from each segment; Windows drops trailing dots and
// spaces from file names. A path is public only if every reading is.
const (
	readingParams      uint8 = 1 << iota // a segment holds a ';'
	readingTrailingDot                   // a segment ends in '.' or ' '
)

// String returns the decoded canonical path.
func (p Path) String() string { return p.decoded }

// Escaped returns the canonical path as sent to the upstream.
func (p Path) Escaped() string { return p.escaped }

// rawPath is the value of url.URL.RawPath for the path: empty when the
// default encoding of the decoded path is the canonical one.
func (p Path) rawPath() string {
	if p.escaped == p.decoded {
		return ""
	}
	return p.escaped
}

// PathError reports a path that is refused because it cannot be given one
// meaning that every server behind latchkey would agree on.
type PathError struct {
	Path   string // the path as received
	Reason string // what is wrong with it, for the log
}

// Error says which path was refused and why.
func (e *PathError) Error() string {
	p := e.Path
	if len(p) > 200 {
		p = p[:200] + "…"
	}
	return fmt.Sprintf("path %q refused: %s", p, e.Reason)
}

// Status is the HTTP status to answer a refused path with.
func (e *PathError) Status() int {
	if len(e.Path) > MaxPathLength {
		return http.StatusRequestURITooLong
	}
	return http.StatusBadRequest
}

// RequestPath returns the canonical path of r, read from the request
// target as the client sent it.
func RequestPath(r *http.Request) (Path, error) {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		// Built in-process, or an absolute-form target: Go has parsed it.
		return CanonicalPath(r.URL.EscapedPath())
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return CanonicalPath(uri)
}

// CanonicalPath canonicalises an escaped absolute path (no query). It
// refuses, with a *PathError, what servers disagree about:
//
//   - an encoded slash or backslash (%2F, %5C) or a raw backslash, which
//     some servers treat as a separator and others as data;
//   - an encoded ? or # (%3F, %23), which a server that decodes the path
//     before passing it on would turn into a query or fragment;
//   - a percent sign that decodes to another escape (%252e), which a
//     server that decodes twice would read differently;
//   - control characters, raw or encoded (NUL, CR, LF, tab, DEL, C1,
//     U+2028, U+2029), and bytes that are not valid UTF-8 once decoded,
//     which includes overlong encodings of '.' and '/';
//   - characters that Unicode normalisation or Windows' best-fit code
//     pages turn into '.', '/', '\', '%', ';', '?' or '#', such as U+FF0E
//     or U+2215;
//   - a segment that is a dot segment in another server's reading: "..;"
//     or ".;x" for Java servers, which drop ";parameters", or "..." and
//     ". " for Windows, which drops trailing dots and spaces;
//   - a path longer than MaxPathLength or not starting with '/'.
//
// Everything else is decoded, dot segments are removed as RFC 3986 §5.2.4
// says (".." at the root stays at the root), empty segments are merged
// ("//admin" is "/admin") and a trailing slash is kept. Unreserved
// characters are sent decoded, other encoded bytes stay encoded with
// upper-case hex, and bytes not allowed raw in a path are encoded.
func CanonicalPath(escaped string) (Path, error) {
	if len(escaped) > MaxPathLength {
		return Path{}, &PathError{Path: escaped, Reason: "longer than the limit"}
	}
	if escaped == "" || escaped[0] != '/' {
		return Path{}, &PathError{Path: escaped, Reason: "not an absolute path"}
	}
	if isCanonical(escaped) {
		return Path{decoded: escaped, escaped: escaped}, nil
	}
	return canonicalise(escaped)
}

// isCanonical reports whether a path needs no work: only characters that
// stand for themselves, no empty or dot segments, no ';', no segment
// ending in a dot. Most requests take this way, which allocates nothing.
func isCanonical(s string) bool {
	prev := byte('/')
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			if prev == '/' || prev == '.' {
				return false
			}
		case c == ';' || c >= utf8.RuneSelf || !rawInPath[c]:
			return false
		}
		prev = c
	}
	return prev != '.'
}

// rawInPath lists the bytes sent as they are in a canonical path segment:
// RFC 3986 pchar without pct-encoded (unreserved, sub-delims, ':', '@').
var rawInPath = func() (t [utf8.RuneSelf]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@") {
		t[c] = true
	}
	return t
}()

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperHex = "0123456789ABCDEF"

func canonicalise(raw string) (Path, error) {
	refuse := func(reason string) (Path, error) {
		return Path{}, &PathError{Path: raw, Reason: reason}
	}
	dec := make([]byte, 0, len(raw))
	esc := make([]byte, 0, len(raw)+16)
	type mark struct{ dec, esc int }
	var kept []mark // where each segment kept so far starts
	trailingSlash := false
	for rest := raw[1:]; ; {
		segment, more, last := rest, "", true
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			segment, more, last = rest[:i], rest[i+1:], false
		}
		start := mark{len(dec), len(esc)}
		dec, esc = append(dec, '/'), append(esc, '/')
		for i := 0; i < len(segment); i++ {
			c := segment[i]
			switch {
			case c == '%':
				if i+2 >= len(segment) {
					return refuse("invalid percent-encoding")
				}
				hi, ok1 := unhex(segment[i+1])
				lo, ok2 := unhex(segment[i+2])
				if !ok1 || !ok2 {
					return refuse("invalid percent-encoding")
				}
				b := hi<<4 | lo
				i += 2
				switch {
				case b == '/':
					return refuse("encoded slash")
				case b == '\\':
					return refuse("encoded backslash")
				case b == '?' || b == '#':
					return refuse("encoded ? or #")
				case b < ' ' || b == 0x7f:
					return refuse("control character")
				}
				dec = append(dec, b)
				if isUnreserved(b) {
					esc = append(esc, b)
				} else {
					esc = append(esc, '%', upperHex[b>>4], upperHex[b&15])
				}
			case c == '\\':
				return refuse("backslash")
			case c == '?' || c == '#':
				return refuse("? or # in the path")
			case c < ' ' || c == 0x7f:
				return refuse("control character")
			default:
				dec = append(dec, c)
				if c < utf8.RuneSelf && rawInPath[c] {
					esc = append(esc, c)
				} else {
					esc = append(esc, '%', upperHex[c>>4], upperHex[c&15])
				}
			}
		}
		switch seg := string(dec[start.dec+1:]); seg {
		case "", ".":
			dec, esc = dec[:start.dec], esc[:start.esc]
			trailingSlash = last
		case "..":
			dec, esc = dec[:start.dec], esc[:start.esc]
			if n := len(kept); n > 0 {
				dec, esc = dec[:kept[n-1].dec], esc[:kept[n-1].esc]
				kept = kept[:n-1]
			}
			trailingSlash = last
		default:
			if reason := checkSegment(seg); reason != "" {
				return refuse(reason)
			}
			kept = append(kept, start)
			trailingSlash = false
		}
		if last {
			break
		}
		rest = more
	}
	if trailingSlash || len(dec) == 0 {
		dec, esc = append(dec, '/'), append(esc, '/')
	}
	p := Path{decoded: string(dec), escaped: string(esc)}
	endsInDot := func(s string) bool { return s != "" && (s[len(s)-1] == '.' || s[len(s)-1] == ' ') }
	for seg := range strings.SplitSeq(p.decoded[1:], "/") {
		param, _, hasParams := strings.Cut(seg, ";")
		if hasParams {
			p.readings |= readingParams
		}
		if endsInDot(seg) || endsInDot(param) {
			p.readings |= readingTrailingDot
		}
	}
	return p, nil
}

// checkSegment returns why a decoded segment, not itself a dot segment,
// is refused, or "".
func checkSegment(seg string) string {
	if hasEscape(seg) {
		return "double percent-encoding"
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] >= utf8.RuneSelf {
			if reason := checkUnicode(seg); reason != "" {
				return reason
			}
			break
		}
	}
	param, _, hasParams := strings.Cut(seg, ";")
	switch {
	case hasParams && (param == "." || param == ".."):
		return "dot segment once parameters are dropped"
	case strings.TrimRight(seg, ". ") == "":
		return "dot segment once trailing dots and spaces are dropped"
	case param != "" && strings.TrimRight(param, ". ") == "":
		return "dot segment once parameters and trailing dots are dropped"
	}
	return ""
}

// hasEscape reports whether s holds a percent sign followed by two hex
// digits.
func hasEscape(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' {
			_, ok1 := unhex(s[i+1])
			_, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				return true
			}
		}
	}
	return false
}

// checkUnicode returns why a segment with non-ASCII bytes is refused, or "".
func checkUnicode(seg string) string {
	if !utf8.ValidString(seg) {
		return "invalid UTF-8"
	}
	for _, r := range seg {
		if r < utf8.RuneSelf {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "control character"
		}
		if isLookalike(r) {
			return "character that normalises to a separator"
		}
	}
	return ""
}

// isLookalike reports whether NFC/NFKC normalisation or a Windows best-fit
// code page maps r to '.', '/', '\', '%', ';', '?' or '#'.
func isLookalike(r rune) bool {
	switch r {
	case '\u037E', // GREEK QUESTION MARK, ';' under NFC
		'\u2024', '\u2025', '\u2026', // ONE DOT LEADER, TWO DOT LEADER, ELLIPSIS
		'\u2044', '\u2215', '\u2216', // FRACTION SLASH, DIVISION SLASH, SET MINUS
		'\uFE52', '\uFE54', '\uFE56', '\uFE5F', '\uFE68', '\uFE6A', // small forms
		'\uFF03', '\uFF05', '\uFF0E', '\uFF0F', '\uFF1B', '\uFF1F', '\uFF3C': // fullwidth forms
		return true
	}
	return false
}
