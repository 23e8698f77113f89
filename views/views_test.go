package views_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"latchkey/views"
)

var testAssets = views.Assets{
	CSS:     "/assets/app.0123456789ab.css",
	HTMX:    "/assets/vendor/htmx/htmx.min.ba9876543210.js",
	App:     "/assets/app.aabbccddeeff.js",
	Favicon: "/assets/favicon.112233445566.svg",
}

const hostile = `<script>alert(1)</script>`

func anonymous() views.Shell {
	return views.Shell{Assets: testAssets, LoginURL: "/login?return_to=%2Fdashboard"}
}

func signedIn(u views.User) views.Shell {
	return views.Shell{Assets: testAssets, User: &u, CSRF: "csrf-token-123", LoginURL: "/login?return_to=%2F"}
}

var ada = views.User{
	Name:       "Ada Lovelace",
	Email:      "ada@example.com",
	Picture:    "https://idp.example.com/ada.png",
	ClaimsJSON: "{\n  \"sub\": \"ada\",\n  \"email\": \"ada@example.com\"\n}",
}

// render renders c and parses the result as a document.
func render(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(t.Context(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatalf("parse rendered HTML: %v", err)
	}
	return doc
}

// one returns the single element with data-testid id, failing otherwise.
func one(t *testing.T, doc *goquery.Document, id string) *goquery.Selection {
	t.Helper()
	sel := doc.Find(`[data-testid="` + id + `"]`)
	if sel.Length() != 1 {
		t.Fatalf("found %d elements with data-testid=%q, want 1", sel.Length(), id)
	}
	return sel
}

// attr returns an attribute that must be present.
func attr(t *testing.T, sel *goquery.Selection, name string) string {
	t.Helper()
	v, ok := sel.Attr(name)
	if !ok {
		t.Fatalf("%s has no %s attribute", goquery.NodeName(sel), name)
	}
	return v
}

func absent(t *testing.T, doc *goquery.Document, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if n := doc.Find(`[data-testid="` + id + `"]`).Length(); n != 0 {
			t.Errorf("found %d elements with data-testid=%q, want none", n, id)
		}
	}
}

func TestAuthBox(t *testing.T) {
	noEmail := ada
	noEmail.Email = ""
	noPicture := ada
	noPicture.Picture = ""

	tests := []struct {
		name  string
		shell views.Shell
		check func(t *testing.T, doc *goquery.Document)
	}{
		{
			name:  "anonymous",
			shell: anonymous(),
			check: func(t *testing.T, doc *goquery.Document) {
				box := one(t, doc, "auth-box")
				if got := attr(t, box, "data-signed-in"); got != "false" {
					t.Errorf("data-signed-in = %q, want false", got)
				}
				if attr(t, box, "id") != "auth-box" {
					t.Error("auth box has the wrong id")
				}
				if box.Find(`[data-testid="login-box"]`).Length() != 1 {
					t.Error("the login box is not inside the auth box")
				}
				button := one(t, doc, "login-button")
				if got := attr(t, button, "href"); got != "/login?return_to=%2Fdashboard" {
					t.Errorf("login href = %q, want the shell's LoginURL", got)
				}
				attr(t, button, "data-login-popup")
				if got := strings.TrimSpace(button.Text()); got != "Log in" {
					t.Errorf("login button text = %q", got)
				}
				absent(t, doc, "profile-card", "logout-form", "user-name")
			},
		},
		{
			name:  "signed in",
			shell: signedIn(ada),
			check: func(t *testing.T, doc *goquery.Document) {
				box := one(t, doc, "auth-box")
				if got := attr(t, box, "data-signed-in"); got != "true" {
					t.Errorf("data-signed-in = %q, want true", got)
				}
				if box.Find(`[data-testid="profile-card"]`).Length() != 1 {
					t.Error("the profile card is not inside the auth box")
				}
				if got := one(t, doc, "user-name").Text(); got != ada.Name {
					t.Errorf("user-name = %q, want %q", got, ada.Name)
				}
				if got := one(t, doc, "user-email").Text(); got != ada.Email {
					t.Errorf("user-email = %q, want %q", got, ada.Email)
				}
				avatar := one(t, doc, "avatar")
				if goquery.NodeName(avatar) != "img" || attr(t, avatar, "src") != ada.Picture {
					t.Errorf("avatar = <%s src=%q>, want <img src=%q>", goquery.NodeName(avatar), avatar.AttrOr("src", ""), ada.Picture)
				}
				if got := attr(t, one(t, doc, "dashboard-link"), "href"); got != "/dashboard" {
					t.Errorf("dashboard link = %q", got)
				}
				form := one(t, doc, "logout-form")
				if strings.ToLower(attr(t, form, "method")) != "post" || attr(t, form, "action") != "/logout" {
					t.Errorf("logout form is %s %s, want post /logout", form.AttrOr("method", ""), form.AttrOr("action", ""))
				}
				csrf := form.Find(`input[type="hidden"][name="csrf"]`)
				if csrf.Length() != 1 || csrf.AttrOr("value", "") != "csrf-token-123" {
					t.Errorf("logout form csrf input = %d elements, value %q", csrf.Length(), csrf.AttrOr("value", ""))
				}
				if form.Find(`[data-testid="logout-button"]`).Length() != 1 {
					t.Error("logout button is not inside the logout form")
				}
				absent(t, doc, "login-box", "login-button")
			},
		},
		{
			name:  "signed in without an email",
			shell: signedIn(noEmail),
			check: func(t *testing.T, doc *goquery.Document) {
				one(t, doc, "profile-card")
				absent(t, doc, "user-email")
			},
		},
		{
			name:  "signed in without a picture",
			shell: signedIn(noPicture),
			check: func(t *testing.T, doc *goquery.Document) {
				avatar := one(t, doc, "avatar")
				if goquery.NodeName(avatar) == "img" {
					t.Error("avatar is an image without a picture")
				}
				if got := avatar.Text(); got != "A" {
					t.Errorf("avatar initial = %q, want A", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, render(t, views.AuthBox(tt.shell)))
		})
	}
}

func TestHostileUserDataIsEscaped(t *testing.T) {
	evil := views.User{
		Name:       hostile,
		Email:      `"><script>alert(2)</script>@evil.example`,
		Picture:    "javascript:alert(3)",
		ClaimsJSON: `{"name": "</pre><script>alert(4)</script>"}`,
	}
	tests := []struct {
		name string
		page templ.Component
	}{
		{name: "auth box", page: views.AuthBox(signedIn(evil))},
		{name: "dashboard", page: views.Dashboard(signedIn(evil), []views.Device{{ID: "k1", Name: hostile, Current: true}, {ID: "k2", Name: hostile}})},
		{name: "logout confirm", page: views.LogoutConfirm(signedIn(evil))},
		{name: "error page", page: views.ErrorPage(anonymous(), views.Problem{Status: 400, Title: hostile, Message: hostile})},
		{name: "home notice", page: views.Home(anonymous(), hostile)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := render(t, tt.page)
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if _, ok := s.Attr("src"); !ok {
					t.Errorf("user data made a script element: %s", s.Text())
				}
			})
			if !strings.Contains(doc.Text(), "<script>alert(") {
				t.Error("the hostile text is not shown as text")
			}
			doc.Find("img").Each(func(_ int, s *goquery.Selection) {
				if src := s.AttrOr("src", ""); strings.HasPrefix(strings.ToLower(src), "javascript:") {
					t.Errorf("image src %q runs script", src)
				}
			})
		})
	}
}

func TestDashboard(t *testing.T) {
	tests := []struct {
		name         string
		authRequired bool
	}{
		{name: "page that needs a session", authRequired: true},
		{name: "without the marker", authRequired: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := signedIn(ada)
			s.AuthRequired = tt.authRequired
			s.Path = "/dashboard"
			doc := render(t, views.Dashboard(s, nil))

			if got := strings.Join(strings.Fields(one(t, doc, "welcome").Text()), " "); got != "Welcome "+ada.Name {
				t.Errorf("welcome = %q, want %q", got, "Welcome "+ada.Name)
			}
			claims := doc.Find(`pre[data-testid="claims"]`)
			if claims.Length() != 1 || claims.Text() != ada.ClaimsJSON {
				t.Errorf("claims = %q, want %q", claims.Text(), ada.ClaimsJSON)
			}
			if _, ok := doc.Find("body").Attr("data-auth-required"); ok != tt.authRequired {
				t.Errorf("body data-auth-required present = %v, want %v", ok, tt.authRequired)
			}
			if got := doc.Find(`[data-latchkey-nav]`).AttrOr("data-signed-in", ""); got != "true" {
				t.Errorf("the header's data-signed-in = %q, want true", got)
			}
			// The avatar, the name and Log out once each; no link to the
			// page itself.
			if n := doc.Find(`form[action="/logout"] input[name="csrf"][value="csrf-token-123"]`).Length(); n != 1 {
				t.Errorf("found %d logout forms with the CSRF token, want 1", n)
			}
			if n := doc.Find(`[data-testid="avatar"]`).Length(); n != 1 {
				t.Errorf("found %d avatars, want 1", n)
			}
			if n := strings.Count(doc.Find("main").Text(), ada.Name); n != 1 {
				t.Errorf("the name is shown %d times, want once", n)
			}
			if n := doc.Find(`a[href="/dashboard"]`).Length(); n != 0 {
				t.Errorf("the dashboard has %d links to itself", n)
			}
		})
	}
}

func TestErrorPage(t *testing.T) {
	tests := []struct {
		name      string
		problem   views.Problem
		wantRetry string
	}{
		{
			name:      "with a retry link",
			problem:   views.Problem{Status: 400, Title: "Login failed", Message: "Please try again.", RetryURL: "/login?return_to=%2Fdashboard"},
			wantRetry: "/login?return_to=%2Fdashboard",
		},
		{
			name:    "without a retry link",
			problem: views.Problem{Status: 404, Title: "Not found", Message: "There is no such page."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := render(t, views.ErrorPage(anonymous(), tt.problem))
			if got := one(t, doc, "error-title").Text(); got != tt.problem.Title {
				t.Errorf("title = %q, want %q", got, tt.problem.Title)
			}
			if got := one(t, doc, "error-message").Text(); got != tt.problem.Message {
				t.Errorf("message = %q, want %q", got, tt.problem.Message)
			}
			retry := doc.Find(`[data-testid="try-again"]`)
			switch {
			case tt.wantRetry == "" && retry.Length() != 0:
				t.Errorf("try-again link shown without a RetryURL: %q", retry.AttrOr("href", ""))
			case tt.wantRetry != "" && retry.AttrOr("href", "") != tt.wantRetry:
				t.Errorf("try-again href = %q, want %q", retry.AttrOr("href", ""), tt.wantRetry)
			}
			if doc.Find(`a[href="/"]`).Length() == 0 {
				t.Error("no link home")
			}
		})
	}
}

func TestDevIdPBanner(t *testing.T) {
	tests := []struct {
		name   string
		devIdP bool
	}{
		{name: "development provider", devIdP: true},
		{name: "real provider", devIdP: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := anonymous()
			s.DevIdP = tt.devIdP
			doc := render(t, views.Home(s, ""))
			banner := doc.Find(`[data-testid="dev-idp-banner"]`)
			if got := banner.Length() == 1; got != tt.devIdP {
				t.Errorf("banner shown = %v, want %v", got, tt.devIdP)
			}
			if tt.devIdP && !strings.Contains(banner.Text(), "OIDC_ISSUER") {
				t.Errorf("banner %q does not say how to configure a real provider", banner.Text())
			}
		})
	}
}

func TestLayoutAssetsAndScripts(t *testing.T) {
	tests := []struct {
		name        string
		page        templ.Component
		wantScripts []string
	}{
		{name: "home", page: views.Home(anonymous(), "notice"), wantScripts: []string{testAssets.HTMX, testAssets.App}},
		{name: "dashboard", page: views.Dashboard(signedIn(ada), nil), wantScripts: []string{testAssets.HTMX, testAssets.App}},
		{name: "logout confirm", page: views.LogoutConfirm(anonymous()), wantScripts: []string{testAssets.HTMX, testAssets.App}},
		{name: "error page", page: views.ErrorPage(anonymous(), views.Problem{Status: 500, Title: "Oops"}), wantScripts: []string{testAssets.HTMX, testAssets.App}},
		{name: "popup done", page: views.PopupDone(signedIn(ada), "/dashboard"), wantScripts: []string{testAssets.App}},
		{
			name: "dev sign-in",
			page: views.DevSignInPage(anonymous(), views.DevSignIn{
				Action: "/dev-idp/login", AuthRequestID: "req-1", AppName: "latchkey on localhost:3000",
				Users: []views.DemoUser{{ID: "ada", Name: "Ada", Email: "ada@example.com", Picture: "/assets/avatars/ada.svg"}},
			}),
			wantScripts: []string{testAssets.HTMX, testAssets.App},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := render(t, tt.page)
			var scripts []string
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				src, ok := s.Attr("src")
				if !ok || strings.TrimSpace(s.Text()) != "" {
					t.Errorf("inline script: %q", s.Text())
				}
				scripts = append(scripts, src)
			})
			if strings.Join(scripts, " ") != strings.Join(tt.wantScripts, " ") {
				t.Errorf("scripts = %q, want %q", scripts, tt.wantScripts)
			}
			if got := doc.Find(`link[rel="stylesheet"]`).AttrOr("href", ""); got != testAssets.CSS {
				t.Errorf("stylesheet = %q, want %q", got, testAssets.CSS)
			}
			if got := doc.Find(`link[rel="icon"]`).AttrOr("href", ""); got != testAssets.Favicon {
				t.Errorf("icon = %q, want %q", got, testAssets.Favicon)
			}
			doc.Find("[onclick], [onload], [onerror], [onsubmit]").Each(func(_ int, s *goquery.Selection) {
				t.Errorf("inline event handler on <%s>", goquery.NodeName(s))
			})
			if doc.Find("style").Length() != 0 || doc.Find("[style]").Length() != 0 {
				t.Error("inline style found")
			}
			if got := doc.Find(`meta[name="referrer"]`).AttrOr("content", ""); got != "no-referrer" {
				t.Errorf("referrer policy = %q, want no-referrer", got)
			}
		})
	}
}

func TestSessionsPanel(t *testing.T) {
	devices := []views.Device{
		{ID: "current", Name: "Firefox on Linux", SignedIn: "1 Dec 2026 10:00 UTC", LastSeen: "just now", Current: true},
		{ID: "other", Name: "Safari on iOS", SignedIn: "30 Nov 2026 08:00 UTC", LastSeen: "2 hours ago"},
	}
	tests := []struct {
		name          string
		devices       []views.Device
		wantEndForms  []string
		wantEndOthers bool
	}{
		{name: "this device alone", devices: devices[:1], wantEndForms: nil, wantEndOthers: false},
		{name: "two devices", devices: devices, wantEndForms: []string{"/sessions/other/end"}, wantEndOthers: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := render(t, views.SessionsPanel(signedIn(ada), tt.devices, ""))
			if got := doc.Find(`[data-testid="session"]`).Length(); got != len(tt.devices) {
				t.Errorf("%d sessions listed, want %d", got, len(tt.devices))
			}
			if got := doc.Find(`[data-testid="this-device"]`).Length(); got != 1 {
				t.Errorf("%d sessions marked as this device, want 1", got)
			}
			var actions []string
			doc.Find(`[data-testid="end-session"]`).Each(func(_ int, s *goquery.Selection) {
				form := s.Closest("form")
				actions = append(actions, form.AttrOr("action", ""))
				if form.AttrOr("hx-post", "") != form.AttrOr("action", "") || form.Find(`input[name="csrf"]`).AttrOr("value", "") != signedIn(ada).CSRF {
					t.Errorf("sign-out form %q must post with htmx and carry the CSRF token", form.AttrOr("action", ""))
				}
			})
			if strings.Join(actions, " ") != strings.Join(tt.wantEndForms, " ") {
				t.Errorf("sign-out forms %v, want %v", actions, tt.wantEndForms)
			}
			if got := doc.Find(`[data-testid="end-other-sessions"]`).Length() == 1; got != tt.wantEndOthers {
				t.Errorf("sign out everywhere else offered = %v, want %v", got, tt.wantEndOthers)
			}
		})
	}
}

func TestNotAllowed(t *testing.T) {
	u := ada
	u.Name = hostile
	doc := render(t, views.NotAllowed(signedIn(u), "the account is not in a group that is allowed"))
	if got := one(t, doc, "signed-in-as").Text(); !strings.Contains(got, hostile) || !strings.Contains(got, "(ada@example.com)") {
		t.Errorf("signed in as = %q", got)
	}
	if doc.Find("script").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.AttrOr("src", "") == "" }).Length() != 0 {
		t.Error("the user's name became a script")
	}
	if got := one(t, doc, "not-allowed-reason").Text(); got != "the account is not in a group that is allowed." {
		t.Errorf("reason = %q", got)
	}
	if n := doc.Find(`form[action="/logout"] input[name="csrf"][value="csrf-token-123"]`).Length(); n != 1 {
		t.Errorf("%d logout forms with the CSRF token, want 1", n)
	}
}

// TestPopupPages: a page drawn for the login popup says so to the
// script, has no links in its header, and offers Close instead of Home;
// elsewhere, the header links to the dashboard once logged in, but not
// from the dashboard.
func TestPopupPages(t *testing.T) {
	prob := views.Problem{Status: 403, Title: "Login cancelled", Message: "The login was cancelled.", RetryURL: "/login?popup=1"}
	popup := anonymous()
	popup.Popup = true
	doc := render(t, views.ErrorPage(popup, prob))
	if _, ok := doc.Find("body").Attr("data-latchkey-popup"); !ok {
		t.Error("the popup's page does not say it is in the popup")
	}
	if n := doc.Find("header a").Length(); n != 0 {
		t.Errorf("the popup's header has %d links", n)
	}
	if got := strings.TrimSpace(one(t, doc, "home-link").Text()); got != "Close" {
		t.Errorf("the popup's second button says %q, want Close", got)
	}
	if got := attr(t, one(t, doc, "try-again"), "href"); got != prob.RetryURL {
		t.Errorf("Try again = %q", got)
	}

	page := views.ErrorPage(anonymous(), prob)
	doc = render(t, page)
	if _, ok := doc.Find("body").Attr("data-latchkey-popup"); ok {
		t.Error("a page outside the popup says it is in the popup")
	}
	if got := strings.TrimSpace(one(t, doc, "home-link").Text()); got != "Home" {
		t.Errorf("the error page's second button says %q, want Home", got)
	}

	s := signedIn(ada)
	s.Path = "/logout"
	if got := attr(t, one(t, render(t, views.LogoutConfirm(s)), "nav-dashboard"), "href"); got != "/dashboard" {
		t.Errorf("the header links to %q, want the dashboard", got)
	}
	absent(t, render(t, views.LogoutConfirm(anonymous())), "nav-dashboard")
}

// TestLogoutConfirmSignedOut: /logout without a session offers to log in.
func TestLogoutConfirmSignedOut(t *testing.T) {
	doc := render(t, views.LogoutConfirm(anonymous()))
	if got := attr(t, one(t, doc, "login-button"), "href"); got != anonymous().LoginURL {
		t.Errorf("Log in = %q, want the shell's LoginURL", got)
	}
	one(t, doc, "home-link")
	absent(t, doc, "logout-form")
}

// TestDevSignInPage: the development provider's page names what the
// login is for in a person's words and warns once that it is a demo.
func TestDevSignInPage(t *testing.T) {
	s := anonymous()
	s.DevIdP = true
	s.Bare = true
	doc := render(t, views.DevSignInPage(s, views.DevSignIn{
		Action: "/dev-idp/login", AuthRequestID: "req-1", AppName: "latchkey on localhost:3000",
		Users: []views.DemoUser{{ID: "ada", Name: "Ada", Email: "ada@example.com", Picture: "/assets/avatars/ada.svg"}},
	}))
	if got := strings.TrimSpace(one(t, doc, "dev-signin-title").Text()); got != "Choose an account" {
		t.Errorf("title = %q", got)
	}
	if !strings.Contains(one(t, doc, "dev-signin").Text(), "to log in to latchkey on localhost:3000") {
		t.Error("the page does not say what the login is for")
	}
	if n := doc.Find(".dev-idp-banner").Length(); n != 1 {
		t.Errorf("%d development warnings, want 1", n)
	}
	if n := doc.Find("header a").Length(); n != 0 {
		t.Errorf("the provider's page has %d links in its header", n)
	}
}
