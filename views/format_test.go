package views

import (
	"html"
	"strings"
	"testing"
)

// Text written escaped reads back as it was, and can neither open a tag
// nor start an entity of its own; quotes, which mean nothing in text, stay
// as they are (the claims are JSON, full of them).
func FuzzWriteEscaped(f *testing.F) {
	for _, s := range []string{
		"", "plain", `<script>alert("x")</script>`, "a & b", "'quoted'", "&amp;", "\x00<\x00>",
		"{\n  \"sub\": \"ada\",\n  \"name\": \"Ada <Lovelace> & co\"\n}", "ü<é>", "<<>>&&\"\"''", "&#34;", "</pre>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		if err := writeEscaped(&b, s); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if got := html.UnescapeString(out); got != s {
			t.Errorf("writeEscaped(%q) = %q, which reads back as %q", s, out, got)
		}
		if strings.ContainsAny(out, "<>") {
			t.Errorf("writeEscaped(%q) = %q, with a < or > left", s, out)
		}
		for rest := out; ; {
			i := strings.IndexByte(rest, '&')
			if i < 0 {
				break
			}
			rest = rest[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Errorf("writeEscaped(%q) = %q, with an & that is not one of its own entities", s, out)
				break
			}
			rest = rest[1:]
		}
		if want := strings.Count(s, `"`) + strings.Count(s, "'"); strings.Count(out, `"`)+strings.Count(out, "'") != want {
			t.Errorf("writeEscaped(%q) = %q, quotes changed", s, out)
		}
	})
}
