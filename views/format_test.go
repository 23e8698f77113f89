package views

import (
	"html"
	"strings"
	"testing"
)

// Text written escaped is what templ's escaping of a { } value gives.
func FuzzWriteEscaped(f *testing.F) {
	for _, s := range []string{
		"", "plain", `<script>alert("x")</script>`, "a & b", "'quoted'", "&amp;", "\x00<\x00>",
		"{\n  \"sub\": \"ada\",\n  \"name\": \"Ada <Lovelace> & co\"\n}", "ü<é>", "<<>>&&\"\"''",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		if err := writeEscaped(&b, s); err != nil {
			t.Fatal(err)
		}
		if want := html.EscapeString(s); b.String() != want {
			t.Errorf("writeEscaped(%q) = %q, want %q", s, b.String(), want)
		}
	})
}
