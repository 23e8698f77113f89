package devidp

// User is a demo account offered on the sign-in page.
type User struct {
	ID, Name, GivenName, FamilyName, Email string
	// Picture is the absolute URL of the user's avatar.
	Picture string
	// Groups are the user's groups, in the groups claim (scope groups),
	// for trying ALLOWED_GROUPS.
	Groups []string
}

// demoUsers returns a fresh copy of the demo accounts, their pictures under
// avatarBaseURL.
func demoUsers(avatarBaseURL string) []User {
	if avatarBaseURL != "" && avatarBaseURL[len(avatarBaseURL)-1] != '/' {
		avatarBaseURL += "/"
	}
	users := []User{
		{ID: "ada", Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com", Groups: []string{"admins", "staff"}},
		{ID: "grace", Name: "Grace Hopper", GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com", Groups: []string{"staff"}},
		{ID: "alan", Name: "Alan Turing", GivenName: "Alan", FamilyName: "Turing", Email: "alan@example.com"},
	}
	for i := range users {
		users[i].Picture = avatarBaseURL + users[i].ID + ".svg"
	}
	return users
}
