package proxy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantDecoded string
		wantEscaped string
	}{
		{name: "root", in: "/", wantDecoded: "/", wantEscaped: "/"},
		{name: "plain", in: "/app/page.html", wantDecoded: "/app/page.html", wantEscaped: "/app/page.html"},
		{name: "trailing slash kept", in: "/app/", wantDecoded: "/app/", wantEscaped: "/app/"},
		{name: "sub-delims stay raw", in: "/a/b!$&'()*+,=:@", wantDecoded: "/a/b!$&'()*+,=:@", wantEscaped: "/a/b!$&'()*+,=:@"},
		{name: "dot-dot removed", in: "/static/../admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "dot-dot at the root stays at the root", in: "/../../etc/passwd", wantDecoded: "/etc/passwd", wantEscaped: "/etc/passwd"},
		{name: "dot-dot alone", in: "/..", wantDecoded: "/", wantEscaped: "/"},
		{name: "double slash at the start", in: "//admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "many slashes", in: "///admin//x//", wantDecoded: "/admin/x/", wantEscaped: "/admin/x/"},
		{name: "encoded dot-dot", in: "/%2e%2e/admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "encoded dot-dot, upper case", in: "/%2E%2E/admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "half-encoded dot-dot below a public dir", in: "/static/.%2e/admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "encoded dot-dot below a public dir", in: "/static/%2e%2e/admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "trailing dot segment", in: "/static/x/.", wantDecoded: "/static/x/", wantEscaped: "/static/x/"},
		{name: "trailing dot-dot segment", in: "/static/x/..", wantDecoded: "/static/", wantEscaped: "/static/"},
		{name: "single dot in the middle", in: "/a/./b", wantDecoded: "/a/b", wantEscaped: "/a/b"},
		{name: "trailing dot in a name is kept", in: "/admin.", wantDecoded: "/admin.", wantEscaped: "/admin."},
		{name: "Java parameters before dot-dot", in: "/static;/../admin", wantDecoded: "/admin", wantEscaped: "/admin"},
		{name: "Java parameters kept in a name", in: "/admin;jsessionid=1", wantDecoded: "/admin;jsessionid=1", wantEscaped: "/admin;jsessionid=1"},
		{name: "encoded semicolon stays encoded", in: "/a%3bb", wantDecoded: "/a;b", wantEscaped: "/a%3Bb"},
		{name: "unreserved characters are decoded", in: "/%41dmin/%7euser", wantDecoded: "/Admin/~user", wantEscaped: "/Admin/~user"},
		{name: "UTF-8 is escaped in upper case", in: "/caf%c3%a9", wantDecoded: "/café", wantEscaped: "/caf%C3%A9"},
		{name: "raw UTF-8 is escaped", in: "/café", wantDecoded: "/café", wantEscaped: "/caf%C3%A9"},
		{name: "encoded space", in: "/a%20b", wantDecoded: "/a b", wantEscaped: "/a%20b"},
		{name: "raw space", in: "/a b", wantDecoded: "/a b", wantEscaped: "/a%20b"},
		{name: "characters not allowed raw are escaped", in: `/a"<>{}|^[]`, wantDecoded: `/a"<>{}|^[]`, wantEscaped: "/a%22%3C%3E%7B%7D%7C%5E%5B%5D"},
		{name: "a literal percent sign", in: "/100%25", wantDecoded: "/100%", wantEscaped: "/100%25"},
		{name: "a literal percent sign before text", in: "/100%25-off", wantDecoded: "/100%-off", wantEscaped: "/100%25-off"},
		{name: "case is kept", in: "/ADMIN", wantDecoded: "/ADMIN", wantEscaped: "/ADMIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CanonicalPath(tt.in)
			if err != nil {
				t.Fatalf("CanonicalPath(%q): %v", tt.in, err)
			}
			if p.String() != tt.wantDecoded || p.Escaped() != tt.wantEscaped {
				t.Errorf("CanonicalPath(%q) = %q (sent as %q), want %q (sent as %q)", tt.in, p.String(), p.Escaped(), tt.wantDecoded, tt.wantEscaped)
			}
			// Canonical is a fixed point: the upstream's reading of what
			// it receives is what was decided on.
			again, err := CanonicalPath(p.Escaped())
			if err != nil || again != p {
				t.Errorf("CanonicalPath(%q) = %+v, %v; want the same path again", p.Escaped(), again, err)
			}
		})
	}
}

func TestCanonicalPathRefuses(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStatus int
	}{
		{name: "encoded slash", in: "/static%2f..%2fadmin"},
		{name: "encoded slash, upper case", in: "/static%2F..%2Fadmin"},
		{name: "encoded slash in a name", in: "/repos/a%2fb"},
		{name: "encoded backslash", in: "/static%5c..%5cadmin"},
		{name: "encoded backslash, upper case", in: "/a%5Cb"},
		{name: "raw backslash", in: `/static\..\admin`},
		{name: "raw backslash at the start", in: `/\evil`},
		{name: "encoded NUL", in: "/admin%00.css"},
		{name: "raw NUL", in: "/admin\x00.css"},
		{name: "encoded CR LF", in: "/a%0d%0aSet-Cookie:x=1"},
		{name: "raw LF", in: "/a\nb"},
		{name: "encoded tab", in: "/a%09b"},
		{name: "encoded DEL", in: "/a%7fb"},
		{name: "C1 control NEL", in: "/a%c2%85b"},
		{name: "line separator", in: "/a%e2%80%a8b"},
		{name: "overlong dot-dot", in: "/%c0%ae%c0%ae/admin"},
		{name: "overlong slash", in: "/static%c0%af..%c0%afadmin"},
		{name: "three-byte overlong dot", in: "/%e0%80%ae%e0%80%ae/admin"},
		{name: "invalid UTF-8", in: "/%ff"},
		{name: "raw invalid UTF-8", in: "/\xff"},
		{name: "encoded surrogate", in: "/%ed%a0%80"},
		{name: "double-encoded dot-dot", in: "/%252e%252e/admin"},
		{name: "double-encoded dot-dot below a public dir", in: "/static/%252e%252e/admin"},
		{name: "double-encoded slash", in: "/static%252f..%252fadmin"},
		{name: "encoded percent, then encoded hex", in: "/%25%32%65%25%32%65/admin"},
		{name: "fullwidth dots", in: "/%ef%bc%8e%ef%bc%8e/admin"},
		{name: "fullwidth solidus", in: "/static%ef%bc%8f..%ef%bc%8fadmin"},
		{name: "division slash", in: "/static%e2%88%95..%e2%88%95admin"},
		{name: "fullwidth reverse solidus", in: "/a%ef%bc%bcb"},
		{name: "two dot leader", in: "/%e2%80%a5/admin"},
		{name: "fullwidth percent", in: "/%ef%bc%852e"},
		{name: "Greek question mark, a semicolon under NFC", in: "/a%cd%beb"},
		{name: "Java dot-dot with parameters", in: "/static/..;/admin"},
		{name: "Java dot-dot with a session id", in: "/static/..;jsessionid=1/admin"},
		{name: "Java dot with parameters", in: "/static/.;x/admin"},
		{name: "Windows triple dot", in: "/static/.../admin"},
		{name: "Windows dot and space", in: "/static/.%20/admin"},
		{name: "Windows dot-dot and space", in: "/static/..%20/admin"},
		{name: "Windows space only", in: "/static/%20/admin"},
		{name: "Java and Windows together", in: "/static/..%20;x/admin"},
		{name: "encoded question mark", in: "/admin%3f.css"},
		{name: "encoded hash", in: "/admin%23.css"},
		{name: "raw hash", in: "/admin#x"},
		{name: "truncated escape", in: "/a%2"},
		{name: "escape at the end", in: "/a%"},
		{name: "not hex", in: "/a%zz"},
		{name: "IIS unicode escape", in: "/%u002e%u002e/admin"},
		{name: "empty", in: ""},
		{name: "relative", in: "admin"},
		{name: "asterisk form", in: "*"},
		{name: "too long", in: "/" + strings.Repeat("a", MaxPathLength), wantStatus: http.StatusRequestURITooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CanonicalPath(tt.in)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("CanonicalPath(%q) = %q, %v; want a *PathError", tt.in, p.String(), err)
			}
			want := tt.wantStatus
			if want == 0 {
				want = http.StatusBadRequest
			}
			if pe.Status() != want {
				t.Errorf("Status() = %d, want %d", pe.Status(), want)
			}
			if pe.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestRequestPath(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		want    string
		wantErr bool
	}{
		{name: "plain", target: "/a/b?x=1", want: "/a/b"},
		{name: "encoding as sent, not as Go decoded it", target: "/static%2f..%2fadmin", wantErr: true},
		{name: "dot segments", target: "/static/../admin?q=%2f", want: "/admin"},
		{name: "absolute form", target: "http://app.test/static/../admin", want: "/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			p, err := RequestPath(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RequestPath(%q) = %q, %v; want error %v", tt.target, p.String(), err, tt.wantErr)
			}
			if p.String() != tt.want {
				t.Errorf("RequestPath(%q) = %q, want %q", tt.target, p.String(), tt.want)
			}
		})
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/x", "/a;b/..;/c", "/caf%C3%A9", "//x/./y/", "/a.%20/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := CanonicalPath(in)
		if err != nil {
			return
		}
		d := p.String()
		if d == "" || d[0] != '/' || strings.Contains(d, "//") || strings.ContainsAny(d, "\\\x00\r\n") {
			t.Fatalf("CanonicalPath(%q) = %q", in, d)
		}
		for seg := range strings.SplitSeq(d[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CanonicalPath(%q) = %q keeps a dot segment", in, d)
			}
		}
		again, err := CanonicalPath(p.Escaped())
		if err != nil || again != p {
			t.Fatalf("CanonicalPath(%q) = %+v; again from %q: %+v, %v", in, p, p.Escaped(), again, err)
		}
	})
}
