package proxy

import (
	"fmt"
	"strings"
)

// PublicPaths are the path patterns that reach the upstream without a
// session. A pattern is an absolute path matched against the canonical
// path (see CanonicalPath), segment by segment and case-sensitively:
//
//	/favicon.ico   exactly that path
//	/healthz       exactly /healthz: not /healthz/ or /healthz/x
//	/docs/         exactly /docs/ (a trailing slash is part of the path)
//	/static/*      everything below /static/: /static/, /static/app.css,
//	               /static/img/logo.png, but not /static itself
//	/static/**     /static itself and everything below it
//	/users/*/avatar  one segment in the middle: /users/ada/avatar
//	/*.css         any .css file at the root, not below it
//	/assets/**/*.png  a .png file anywhere below /assets/
//
// Within a segment, * matches any run of characters, even none, but never
// a slash. A final /* matches the whole subtree, as it does in Caddy, since
// that is what /static/* is meant to say; a segment that is exactly **
// matches any number of segments, none included. No other character is
// special. Patterns are written decoded (/café, not /caf%C3%A9), and
// cannot contain dot segments, empty segments or a backslash.
//
// The query plays no part. A path is public only if every reading of it
// is (see Match).
type PublicPaths struct {
	patterns []pathPattern
}

type pathPattern struct {
	text string
	segs []string // "**" matches any number of segments
}

// ParsePublicPaths checks and compiles patterns.
func ParsePublicPaths(patterns []string) (*PublicPaths, error) {
	pp := &PublicPaths{}
	for _, text := range patterns {
		p, err := parsePattern(text)
		if err != nil {
			return nil, err
		}
		pp.patterns = append(pp.patterns, p)
	}
	return pp, nil
}

func parsePattern(text string) (pathPattern, error) {
	bad := func(why string) (pathPattern, error) {
		return pathPattern{}, fmt.Errorf("public path %q %s", text, why)
	}
	switch {
	case text == "":
		return bad("is empty")
	case text[0] != '/':
		return bad("must start with /")
	case len(text) > MaxPathLength:
		return bad("is too long")
	case strings.ContainsAny(text, "\\?#"):
		return bad("must not contain \\, ? or #")
	}
	for _, c := range []byte(text) {
		if c < ' ' || c == 0x7f {
			return bad("contains a control character")
		}
	}
	if hasEscape(text) {
		return bad("is percent-encoded: write it decoded (/café, not /caf%C3%A9)")
	}
	segs := strings.Split(text[1:], "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "" && !last && text != "/":
			return bad("has an empty segment (//)")
		case s == "." || s == "..":
			return bad("has a dot segment")
		case strings.Contains(s, "**") && s != "**":
			return bad("uses ** inside a segment: ** must be a whole segment")
		}
	}
	if segs[len(segs)-1] == "*" {
		// A final /* is the subtree: one more segment, then any number.
		segs = append(segs, "**")
	}
	return pathPattern{text: text, segs: segs}, nil
}

// Patterns returns the patterns as written; a nil PublicPaths has none.
func (pp *PublicPaths) Patterns() []string {
	if pp == nil {
		return nil
	}
	out := make([]string, len(pp.patterns))
	for i, p := range pp.patterns {
		out[i] = p.text
	}
	return out
}

// Match reports whether p is public. Every reading of the path that a
// server behind latchkey might make has to match a pattern: the literal
// path, the path with ";parameters" dropped from each segment (Java
// servers), with trailing dots and spaces dropped (Windows), and with
// both. So /admin;.css is not public under /*.css, because a Java server
// serves /admin for it.
func (pp *PublicPaths) Match(p Path) bool {
	if pp == nil || len(pp.patterns) == 0 || p.decoded == "" {
		return false
	}
	if !pp.matchAny(p.decoded[1:]) {
		return false
	}
	if p.readings == 0 {
		return true
	}
	for _, reading := range otherReadings(p) {
		if !pp.matchAny(reading) {
			return false
		}
	}
	return true
}

func (pp *PublicPaths) matchAny(path string) bool {
	for i := range pp.patterns {
		if matchSegments(pp.patterns[i].segs, path) {
			return true
		}
	}
	return false
}

// otherReadings returns the readings of p other than the literal one, each
// without its leading slash.
func otherReadings(p Path) []string {
	segs := strings.Split(p.decoded[1:], "/")
	read := func(cut, trim bool) string {
		out := make([]string, 0, len(segs))
		for i, s := range segs {
			if cut {
				s, _, _ = strings.Cut(s, ";")
				if s == "" && i < len(segs)-1 {
					continue // an empty segment, merged
				}
			}
			if trim {
				s = strings.TrimRight(s, ". ")
			}
			out = append(out, s)
		}
		return strings.Join(out, "/")
	}
	var readings []string
	if p.readings&readingParams != 0 {
		readings = append(readings, read(true, false))
	}
	if p.readings&readingTrailingDot != 0 {
		readings = append(readings, read(false, true))
	}
	if p.readings == readingParams|readingTrailingDot {
		readings = append(readings, read(true, true))
	}
	return readings
}

// matchSegments matches the segments of path (no leading slash) against
// pattern segments, "**" standing for any number of segments. It keeps
// one backtracking point, like a glob matcher for '*', so its work is
// bounded by len(segs) times the number of path segments.
func matchSegments(segs []string, path string) bool {
	pi := 0 // next pattern segment
	si := 0 // start of the next path segment; len(path)+1 at the end
	starPi, starSi := -1, 0
	end := len(path) + 1
	next := func(at int) (string, int) {
		if j := strings.IndexByte(path[at:], '/'); j >= 0 {
			return path[at : at+j], at + j + 1
		}
		return path[at:], end
	}
	for si < end {
		if pi < len(segs) && segs[pi] == "**" {
			starPi, starSi = pi, si
			pi++
			continue
		}
		seg, after := next(si)
		if pi < len(segs) && matchSegment(segs[pi], seg) {
			pi, si = pi+1, after
			continue
		}
		if starPi < 0 {
			return false
		}
		// Let the last ** take one more segment and try again.
		_, starSi = next(starSi)
		pi, si = starPi+1, starSi
	}
	for pi < len(segs) && segs[pi] == "**" {
		pi++
	}
	return pi == len(segs)
}

// matchSegment matches one path segment against a pattern segment in
// which '*' matches any run of characters.
func matchSegment(pattern, seg string) bool {
	if strings.IndexByte(pattern, '*') < 0 {
		return pattern == seg
	}
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for si < len(seg) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			starPi, starSi = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == seg[si]:
			pi, si = pi+1, si+1
		case starPi >= 0:
			starSi++
			pi, si = starPi+1, starSi
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
