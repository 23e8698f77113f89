// Package views holds the app's pages and fragments as templ components.
// Components take small view structs and do no I/O.
package views

// Shell is what every page needs to draw its frame: who is signed in,
// where the assets are and which provider is in use.
type Shell struct {
	// Title is the page's own title; the app's name is added.
	Title  string
	Assets Assets
	// User is the signed-in person, nil when anonymous.
	User *User
	// CSRF is the session's token for its forms.
	CSRF string
	// LoginURL starts a login that comes back to this page.
	LoginURL string
	// DevIdP marks that the built-in development provider is in use.
	DevIdP bool
	// DevIdPExposed marks that the development provider is reachable from
	// the network, so that anyone who can open the page can sign in.
	DevIdPExposed bool
	// AuthRequired marks pages that only a signed-in user may see.
	AuthRequired bool
}

// Assets are the content-addressed URLs of the static files.
type Assets struct {
	CSS     string
	HTMX    string
	App     string
	Favicon string
}

// User is the signed-in person as pages show them.
type User struct {
	Name    string
	Email   string
	Picture string
	// ClaimsJSON is the provider's userinfo, already indented.
	ClaimsJSON string
}

// Device is one of the user's active sessions, as the sessions panel
// lists it.
type Device struct {
	// ID names the session in the panel's forms.
	ID string
	// Name says which browser on which system, e.g. "Firefox on Linux".
	Name        string
	SignedIn    string
	SignedInISO string
	LastSeen    string
	// Current marks the session of the request being answered.
	Current bool
}

// Problem is an error page's content. Messages are written for users:
// they never carry internal or provider error text.
type Problem struct {
	Status  int
	Title   string
	Message string
	// RetryURL, when set, is offered as "Try again".
	RetryURL string
}

// DemoUser is one account offered by the development provider's sign-in page.
type DemoUser struct {
	ID      string
	Name    string
	Email   string
	Picture string
}

// DevSignIn is the development provider's sign-in page.
type DevSignIn struct {
	Action        string
	AuthRequestID string
	ClientID      string
	Users         []DemoUser
}
