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
	// LoginURL starts a login that comes back to this page; a visitor's
	// pages offer it.
	LoginURL string
	// DevIdP marks that the built-in development provider is in use.
	DevIdP bool
	// DevIdPExposed marks that the development provider is reachable from
	// the network, so that anyone who can open the page can sign in.
	DevIdPExposed bool
	// AuthRequired marks pages that only a signed-in user may see.
	AuthRequired bool
	// Path is the path of the page being drawn. The header links to no
	// page it is on, and latchkey's home page draws the auth box large.
	Path string
	// Popup marks a page drawn in the login popup window: its header has
	// no links, and its Home closes the window, so that a login never
	// turns the popup into a second window of the site.
	Popup bool
	// Bare draws the header without links, for a page of a login under
	// way (the development provider's).
	Bare bool
	// Links are where latchkey's own pages are.
	Links Links
	// Frames, when set, keeps the frames Layout draws, to draw each once.
	Frames *Frames
}

// Links are the paths of latchkey's own pages that pages link and post
// to. The zero value is latchkey serving a site of its own, at the root;
// in front of an app they are under latchkey's prefix.
type Links struct {
	Home             string // latchkey's home page; default /
	Dashboard        string // default /dashboard
	Logout           string // default /logout
	RefreshProfile   string // default /profile/refresh
	Sessions         string // what a session's own path starts with; default /sessions/
	EndOtherSessions string // default /sessions/end-others
}

func (l Links) home() string      { return or(l.Home, "/") }
func (l Links) dashboard() string { return or(l.Dashboard, "/dashboard") }
func (l Links) logout() string    { return or(l.Logout, "/logout") }
func (l Links) refreshProfile() string {
	return or(l.RefreshProfile, "/profile/refresh")
}
func (l Links) endSession(id string) string { return or(l.Sessions, "/sessions/") + id + "/end" }
func (l Links) endOtherSessions() string {
	return or(l.EndOtherSessions, "/sessions/end-others")
}

// onHome reports a page drawn for latchkey's home page.
func (s Shell) onHome() bool { return s.Path == s.Links.home() }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
	Name string
	// SignedIn is when the session began, as a person reads it without
	// the script, which writes it again in their time zone from
	// SignedInISO.
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
	// RetryText, when set, is what the RetryURL button says instead.
	RetryText string
}

// DemoUser is one account offered by the development provider's sign-in page.
type DemoUser struct {
	ID      string
	Name    string
	Email   string
	Picture string
}

// DevSignIn is the development provider's login page.
type DevSignIn struct {
	Action        string
	AuthRequestID string
	// AppName names, in a person's words, what the login is for.
	AppName string
	Users   []DemoUser
}
