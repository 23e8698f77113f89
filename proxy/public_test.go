package proxy

import (
	"strconv"
	"strings"
	"testing"
)

func TestPublicPathsMatch(t *testing.T) {
	tests := []struct {
		name     string
		patterns string
		path     string // as sent, before canonicalisation
		want     bool
	}{
		{name: "exact", patterns: "/favicon.ico", path: "/favicon.ico", want: true},
		{name: "exact is case-sensitive", patterns: "/favicon.ico", path: "/FAVICON.ICO"},
		{name: "exact is not a prefix", patterns: "/healthz", path: "/healthz/x"},
		{name: "exact without the trailing slash", patterns: "/healthz", path: "/healthz/"},
		{name: "exact with a trailing dot", patterns: "/healthz", path: "/healthz."},
		{name: "root", patterns: "/", path: "/", want: true},
		{name: "root is only the root", patterns: "/", path: "/admin"},
		{name: "trailing slash pattern", patterns: "/docs/", path: "/docs/", want: true},
		{name: "trailing slash pattern is exact", patterns: "/docs/", path: "/docs/x"},
		{name: "subtree: a file", patterns: "/static/*", path: "/static/app.css", want: true},
		{name: "subtree: deeper", patterns: "/static/*", path: "/static/img/logo.png", want: true},
		{name: "subtree: the directory with a slash", patterns: "/static/*", path: "/static/", want: true},
		{name: "subtree: not the directory itself", patterns: "/static/*", path: "/static"},
		{name: "subtree: not a longer name", patterns: "/static/*", path: "/staticx/a"},
		{name: "double star: the directory itself", patterns: "/static/**", path: "/static", want: true},
		{name: "double star: deeper", patterns: "/static/**", path: "/static/a/b/c", want: true},
		{name: "one segment in the middle", patterns: "/users/*/avatar", path: "/users/ada/avatar", want: true},
		{name: "one segment in the middle, not two", patterns: "/users/*/avatar", path: "/users/ada/x/avatar"},
		{name: "suffix at the root", patterns: "/*.css", path: "/app.css", want: true},
		{name: "suffix is not below the root", patterns: "/*.css", path: "/css/app.css"},
		{name: "suffix anywhere below", patterns: "/assets/**/*.png", path: "/assets/a/b/x.png", want: true},
		{name: "suffix anywhere below, directly", patterns: "/assets/**/*.png", path: "/assets/x.png", want: true},
		{name: "suffix anywhere below, wrong type", patterns: "/assets/**/*.png", path: "/assets/a/x.js"},
		{name: "prefix within a segment", patterns: "/public*", path: "/public-notes", want: true},
		{name: "several stars in a segment", patterns: "/a*b*c", path: "/aXXbYYc", want: true},
		{name: "several stars in a segment, no match", patterns: "/a*b*c", path: "/aXXcYYb"},
		{name: "everything", patterns: "/**", path: "/admin/x", want: true},
		{name: "one of several patterns", patterns: "/static/*,/favicon.ico,/healthz", path: "/healthz", want: true},
		{name: "none of several patterns", patterns: "/static/*,/favicon.ico,/healthz", path: "/admin"},

		// The vectors: each is the non-public canonical path, or refused
		// before it gets here (see TestCanonicalPathRefuses).
		{name: "dot-dot out of a public dir", patterns: "/static/*", path: "/static/../admin"},
		{name: "encoded dot-dot out of a public dir", patterns: "/static/*", path: "/static/%2e%2e/admin"},
		{name: "dot-dot at the root", patterns: "/static/*", path: "/%2e%2e/admin"},
		{name: "double slash", patterns: "/static/*", path: "//admin"},
		{name: "double slash before a public dir", patterns: "/static/*", path: "//static/x", want: true},
		{name: "trailing dot segment in a public dir", patterns: "/static/*", path: "/static/x/.", want: true},
		{name: "trailing dot-dot leaves the public dir", patterns: "/static/*", path: "/static/.."},
		{name: "Java parameters then dot-dot", patterns: "/static/*", path: "/static;/../admin"},
		{name: "Java parameters make a public suffix", patterns: "/*.css", path: "/admin;.css"},
		{name: "Java parameters, encoded", patterns: "/*.css", path: "/admin%3b.css"},
		{name: "Java parameters inside a public dir", patterns: "/static/*", path: "/static/app.css;v=2", want: true},
		{name: "Java parameters on the public dir's name", patterns: "/static/*", path: "/static;x/app.css"},
		{name: "Windows trailing dot makes a public suffix", patterns: "/*.*", path: "/admin."},
		{name: "Windows trailing space makes a public suffix", patterns: "/* *", path: "/admin%20"},
		{name: "Windows trailing dot inside a public dir", patterns: "/static/*", path: "/static/app.css.", want: true},
		{name: "Java and Windows together", patterns: "/*.*", path: "/admin.;x"},
		{name: "upper case is another path", patterns: "/static/*", path: "/STATIC/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp, err := ParsePublicPaths(strings.Split(tt.patterns, ","))
			if err != nil {
				t.Fatal(err)
			}
			p, err := CanonicalPath(tt.path)
			if err != nil {
				t.Fatalf("CanonicalPath(%q): %v", tt.path, err)
			}
			if got := pp.Match(p); got != tt.want {
				t.Errorf("%s matching %q (canonical %q) = %v, want %v", tt.patterns, tt.path, p.String(), got, tt.want)
			}
		})
	}
}

func TestParsePublicPathsRefuses(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
	}{
		{name: "empty", pattern: ""},
		{name: "relative", pattern: "static/*"},
		{name: "empty segment", pattern: "/static//x"},
		{name: "dot segment", pattern: "/static/../x"},
		{name: "single dot segment", pattern: "/./x"},
		{name: "double star inside a segment", pattern: "/static/a**"},
		{name: "triple star", pattern: "/***"},
		{name: "percent-encoded", pattern: "/caf%C3%A9"},
		{name: "backslash", pattern: `/static\x`},
		{name: "query", pattern: "/static?x"},
		{name: "control character", pattern: "/a\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePublicPaths([]string{tt.pattern}); err == nil {
				t.Errorf("ParsePublicPaths(%q) accepted it", tt.pattern)
			} else if !strings.Contains(err.Error(), strconv.Quote(tt.pattern)) {
				t.Errorf("error %q does not quote the pattern", err)
			}
		})
	}
}

func TestPublicPathsNone(t *testing.T) {
	p, _ := CanonicalPath("/")
	var none *PublicPaths
	if none.Match(p) {
		t.Error("a nil list matched")
	}
	empty, _ := ParsePublicPaths(nil)
	if empty.Match(p) {
		t.Error("an empty list matched")
	}
	if empty.Match(Path{}) {
		t.Error("the zero Path matched")
	}
}
