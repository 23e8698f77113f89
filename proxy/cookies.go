package proxy

import (
	"net/http"
	"strings"
)

// removeCookies removes from the Cookie headers of h the cookies own
// names, and keeps every other cookie byte for byte. h must be the
// outgoing request's own copy: its values are changed in place.
func removeCookies(h http.Header, own func(name string) bool) {
	values := h["Cookie"]
	if len(values) == 0 || own == nil {
		return
	}
	kept := values[:0]
	for _, v := range values {
		if v = withoutCookies(v, own); v != "" {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

// withoutCookies returns a Cookie header value without the cookies own
// names. When those come first or last, or not at all, the result is part
// of v and nothing is allocated.
func withoutCookies(v string, own func(name string) bool) string {
	const (
		beforeKept = iota // only dropped cookies so far
		inKept            // in the first run of kept cookies
		afterKept         // a cookie was dropped after that run
	)
	state, dropped, contiguous := beforeKept, false, true
	keptStart, keptEnd := -1, -1
	eachCookie(v, func(start, end int, name string) {
		if own(name) {
			dropped = true
			if state == inKept {
				state = afterKept
			}
			return
		}
		switch state {
		case beforeKept:
			keptStart, state = start, inKept
		case afterKept:
			contiguous = false
		}
		keptEnd = end
	})
	switch {
	case !dropped:
		return v
	case keptStart < 0:
		return ""
	case contiguous:
		return v[keptStart:keptEnd]
	}
	var b strings.Builder
	b.Grow(len(v))
	eachCookie(v, func(start, end int, name string) {
		if own(name) {
			return
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v[start:end])
	})
	return b.String()
}

// eachCookie calls fn with the bounds of each cookie-pair of a Cookie
// header value, without the spaces around it, and its name.
func eachCookie(v string, fn func(start, end int, name string)) {
	for start := 0; start < len(v); {
		end := strings.IndexByte(v[start:], ';')
		if end < 0 {
			end = len(v)
		} else {
			end += start
		}
		s, e := start, end
		for s < e && (v[s] == ' ' || v[s] == '\t') {
			s++
		}
		for e > s && (v[e-1] == ' ' || v[e-1] == '\t') {
			e--
		}
		if s < e {
			name, _, _ := strings.Cut(v[s:e], "=")
			fn(s, e, strings.TrimRight(name, " \t"))
		}
		start = end + 1
	}
}
