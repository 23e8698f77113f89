package views

import (
	"context"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// initial is the first letter of a name, for an avatar without a picture.
func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	return strings.ToUpper(string(r))
}

// emailAside is the user's email address in brackets, after their name,
// when it says something the name does not.
func emailAside(u *User) string {
	if u.Email == "" || u.Email == u.Name {
		return ""
	}
	return " (" + u.Email + ")"
}

// escapedText is s as the text of an element, written as it is escaped: a
// value of hundreds of bytes (the claims) is not copied twice first.
func escapedText(s string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		return writeEscaped(w, s)
	})
}

// writeEscaped writes s to w as the text of an element: & as &amp; and
// < and > as &lt; and &gt;, which is all that can start markup or an
// entity there. Quotes mean something only in attribute values, so they
// are written as they are; in a page of JSON claims each one would
// otherwise take five bytes.
func writeEscaped(w io.Writer, s string) error {
	start := 0
	for i := 0; i < len(s); i++ {
		var entity string
		switch s[i] {
		case '&':
			entity = "&amp;"
		case '<':
			entity = "&lt;"
		case '>':
			entity = "&gt;"
		default:
			continue
		}
		if _, err := io.WriteString(w, s[start:i]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, entity); err != nil {
			return err
		}
		start = i + 1
	}
	_, err := io.WriteString(w, s[start:])
	return err
}
