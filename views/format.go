package views

import (
	"strings"
	"unicode/utf8"
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
