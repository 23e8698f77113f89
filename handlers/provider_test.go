package handlers_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"latchkey/auth"
	"latchkey/auth/oidctest"
	"latchkey/handlers"
)

// newProviderFixture is the app signing in through a fake provider, whose
// discovery document is loaded before the app is made: the provider is
// ready at once, and logins, refreshes and back-channel logouts run in
// the handler tests.
func newProviderFixture(t *testing.T, opts ...oidctest.Option) (*fixture, *oidctest.Provider) {
	t.Helper()
	idp := oidctest.New(t, opts...)
	client := *idp.Client()
	client.Timeout = 10 * time.Second
	provider := auth.NewProvider(auth.ProviderConfig{
		Issuer:       idp.Issuer(),
		ClientID:     idp.ClientID(),
		ClientSecret: idp.ClientSecret(),
		RedirectURI:  fixtureBase + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
		HTTPClient:   &client,
		Logger:       discard,
	})
	if err := provider.Discover(t.Context()); err != nil {
		t.Fatalf("discover the provider: %v", err)
	}
	return newFixtureFor(t, provider), idp
}

// startLogin opens /login?return_to=returnTo and lets the provider answer
// the authorization request. It returns the callback request the browser
// makes next, with the login attempt's cookie; serve a clone of it to
// replay it.
func (f *fixture) startLogin(t *testing.T, returnTo string) *http.Request {
	t.Helper()
	login := f.serve(httptest.NewRequest(http.MethodGet, "/login?return_to="+url.QueryEscape(returnTo), nil))
	authorize := login.Header.Get("Location")
	if login.StatusCode != http.StatusSeeOther || authorize == "" {
		t.Fatalf("/login = %d to %q, want a redirect to the provider", login.StatusCode, authorize)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	answer, err := noFollow.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	answer.Body.Close()
	callback, err := url.Parse(answer.Header.Get("Location"))
	if err != nil || callback.Path != "/callback" {
		t.Fatalf("the provider answered %d to %q, want a redirect to /callback", answer.StatusCode, answer.Header.Get("Location"))
	}
	req := httptest.NewRequest(http.MethodGet, callback.RequestURI(), nil)
	for _, c := range login.Cookies() {
		req.AddCookie(c)
	}
	return req
}

// login signs in through the provider and returns the session cookie.
func (f *fixture) login(t *testing.T) *http.Cookie {
	t.Helper()
	resp := f.serve(f.startLogin(t, "/dashboard"))
	cookie := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("callback = %d with session cookie %v, want a redirect and a session", resp.StatusCode, cookie)
	}
	return cookie
}

// sessionCookie is the session cookie resp sets, or nil.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "latchkey" && c.Value != "" && c.MaxAge >= 0 {
			return c
		}
	}
	return nil
}

// get fetches target with cookie (nil: none), as htmx when htmx is set.
func (f *fixture) get(target string, cookie *http.Cookie, htmx bool) *http.Response {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	return f.send(req, cookie, htmx)
}

// post submits form to target with cookie, as htmx when htmx is set.
func (f *fixture) post(target string, form url.Values, cookie *http.Cookie, htmx bool) *http.Response {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.send(req, cookie, htmx)
}

func (f *fixture) send(req *http.Request, cookie *http.Cookie, htmx bool) *http.Response {
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if htmx {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Current-URL", fixtureBase+"/dashboard")
	}
	return f.serve(req)
}

// dashboard is the signed-in user's dashboard.
func (f *fixture) dashboard(t *testing.T, cookie *http.Cookie) *goquery.Document {
	t.Helper()
	resp := f.get("/dashboard", cookie, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/dashboard = %d, want 200", resp.StatusCode)
	}
	return parse(t, resp)
}

// csrf is the CSRF token of the dashboard's forms.
func csrf(t *testing.T, dashboard *goquery.Document) string {
	t.Helper()
	token := dashboard.Find(`[data-testid="logout-form"] input[name="csrf"]`).AttrOr("value", "")
	if token == "" {
		t.Fatal("the dashboard has no CSRF token")
	}
	return token
}

func parse(t *testing.T, resp *http.Response) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// assertSignedIn checks that cookie opens the dashboard.
func (f *fixture) assertSignedIn(t *testing.T, cookie *http.Cookie) {
	t.Helper()
	if resp := f.get("/dashboard", cookie, false); resp.StatusCode != http.StatusOK {
		t.Errorf("/dashboard with the session cookie = %d, want 200", resp.StatusCode)
	}
}

// assertSignedOut checks that cookie names no session any more.
func (f *fixture) assertSignedOut(t *testing.T, cookie *http.Cookie) {
	t.Helper()
	resp := f.get("/dashboard", cookie, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		t.Errorf("/dashboard with the ended session's cookie = %d to %q, want a redirect to log in", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// logoutToken is a logout token the provider signs for its session sid,
// the way mode says.
func logoutToken(t *testing.T, idp *oidctest.Provider, sid string, mode oidctest.SignMode) string {
	t.Helper()
	now := time.Now()
	token, err := idp.SignJWT(map[string]any{
		"iss":    idp.Issuer(),
		"sub":    idp.Subject(),
		"aud":    idp.ClientID(),
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"sid":    sid,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}, mode, "logout+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// lastSID is the provider session id of the last ID token issued.
func lastSID(t *testing.T, idp *oidctest.Provider) string {
	t.Helper()
	var claims struct {
		SID string `json:"sid"`
	}
	if _, err := oidc.ParseToken(idp.LastIDToken(), &claims); err != nil || claims.SID == "" {
		t.Fatalf("the last ID token has no sid: %v", err)
	}
	return claims.SID
}

// TestWithProvider runs what needs a provider that answers: logins,
// refreshes, the sessions panel and back-channel logout.
func TestWithProvider(t *testing.T) {
	tests := []struct {
		name string
		opts []oidctest.Option
		// do makes the request under test, after any steps it needs.
		do         func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response
		wantStatus int
		wantHeader map[string]string
		wantTestID string // an element the answer must contain
		wantTitle  string // the error page's title
		wantRetry  string // the href of the error page's "Try again"
		// check looks at what the request changed.
		check func(t *testing.T, f *fixture, idp *oidctest.Provider, resp *http.Response)
	}{
		{
			name: "callback signs in and returns where the login started",
			do: func(t *testing.T, f *fixture, _ *oidctest.Provider) *http.Response {
				return f.serve(f.startLogin(t, "/dashboard?tab=profile"))
			},
			wantStatus: http.StatusSeeOther,
			wantHeader: map[string]string{"Location": "/dashboard?tab=profile"},
			check: func(t *testing.T, f *fixture, _ *oidctest.Provider, resp *http.Response) {
				cookie := sessionCookie(resp)
				if cookie == nil || !cookie.HttpOnly {
					t.Fatalf("no HttpOnly session cookie set: %v", resp.Header.Values("Set-Cookie"))
				}
				if got := f.dashboard(t, cookie).Find(`[data-testid="welcome"]`).Text(); got != "Welcome "+oidctest.DefaultName {
					t.Errorf("dashboard greeting = %q", got)
				}
			},
		},
		{
			name: "a replayed callback is refused",
			do: func(t *testing.T, f *fixture, _ *oidctest.Provider) *http.Response {
				callback := f.startLogin(t, "/dashboard")
				if first := f.serve(callback.Clone(t.Context())); sessionCookie(first) == nil {
					t.Fatalf("the first callback = %d without a session", first.StatusCode)
				}
				return f.serve(callback.Clone(t.Context()))
			},
			wantStatus: http.StatusBadRequest,
			wantTitle:  "Login expired",
			wantRetry:  "/login?return_to=%2Fdashboard",
			check: func(t *testing.T, _ *fixture, _ *oidctest.Provider, resp *http.Response) {
				if c := sessionCookie(resp); c != nil {
					t.Errorf("the replay set a session cookie")
				}
			},
		},
		{
			name: "a provider error with a hostile description is refused without its text",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				idp.SetBehavior(oidctest.Behavior{AuthorizeError: "access_denied"})
				callback := f.startLogin(t, "/dashboard")
				// A real attempt: the state matches the attempt's cookie, so
				// the description is read, not refused at the state check.
				if callback.URL.Query().Get("error_description") != oidctest.SecretErrorDescription || len(callback.Cookies()) == 0 {
					t.Fatalf("the callback %s carries no description or no attempt", callback.URL)
				}
				return f.serve(callback)
			},
			wantStatus: http.StatusForbidden,
			wantTitle:  "Login cancelled",
			wantRetry:  "/login?return_to=%2Fdashboard",
			check: func(t *testing.T, _ *fixture, _ *oidctest.Provider, resp *http.Response) {
				if c := sessionCookie(resp); c != nil {
					t.Errorf("a refused sign-in set a session cookie")
				}
			},
		},
		{
			name: "refresh with a refresh token gets a new access token and reads the profile with it",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				idp.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute}) // expired at once
				cookie := f.login(t)
				idp.SetBehavior(oidctest.Behavior{})
				t.Cleanup(func() { f.assertSignedIn(t, cookie) })
				return f.post("/profile/refresh", url.Values{"csrf": {csrf(t, f.dashboard(t, cookie))}}, cookie, true)
			},
			wantStatus: http.StatusOK,
			wantTestID: "claims",
			check: func(t *testing.T, _ *fixture, idp *oidctest.Provider, resp *http.Response) {
				var grants []url.Values
				for _, r := range idp.Requests(oidctest.EndpointToken) {
					if r.Form.Get("grant_type") == "refresh_token" {
						grants = append(grants, r.Form)
					}
				}
				if len(grants) != 1 {
					t.Fatalf("%d refresh grants, want 1", len(grants))
				}
				reads := idp.Requests(oidctest.EndpointUserinfo)
				if len(reads) != 2 {
					t.Fatalf("%d userinfo reads, want 2: the login's and the refresh's", len(reads))
				}
				if login, refresh := reads[0].Header.Get("Authorization"), reads[1].Header.Get("Authorization"); refresh == login || !strings.HasPrefix(refresh, "Bearer ") {
					t.Errorf("the profile was read again with %q, the login's token was %q: want a new access token", refresh, login)
				}
				claims := parse(t, resp).Find(`[data-testid="claims"]`).Text()
				if !strings.Contains(claims, oidctest.DefaultEmail) {
					t.Errorf("the refreshed profile lacks the user's email:\n%s", claims)
				}
			},
		},
		{
			name: "refresh without a refresh token asks for a new login and keeps the session",
			opts: []oidctest.Option{oidctest.WithOfflineAccess(false)},
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				idp.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
				cookie := f.login(t)
				t.Cleanup(func() { f.assertSignedIn(t, cookie) })
				return f.post("/profile/refresh", url.Values{"csrf": {csrf(t, f.dashboard(t, cookie))}}, cookie, true)
			},
			wantStatus: http.StatusUnauthorized,
			wantHeader: map[string]string{"HX-Redirect": ""},
			wantTitle:  "Log in again to refresh",
			wantRetry:  "/login?return_to=%2Fdashboard",
		},
		{
			name: "a refused refresh ends the session and sends htmx home",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				idp.SetBehavior(oidctest.Behavior{AccessTokenLifetime: -time.Minute})
				cookie := f.login(t)
				idp.SetBehavior(oidctest.Behavior{RefreshError: "invalid_grant"})
				t.Cleanup(func() { f.assertSignedOut(t, cookie) })
				return f.post("/profile/refresh", url.Values{"csrf": {csrf(t, f.dashboard(t, cookie))}}, cookie, true)
			},
			wantStatus: http.StatusUnauthorized,
			wantHeader: map[string]string{"HX-Redirect": "/"},
			wantTitle:  "Session ended",
			wantRetry:  "/login",
		},
		{
			name: "ending one other session",
			do: func(t *testing.T, f *fixture, _ *oidctest.Provider) *http.Response {
				here, other := f.login(t), f.login(t)
				dash := f.dashboard(t, here)
				action, ok := dash.Find(`[data-testid="session"] form`).Attr("action")
				if !ok || dash.Find(`[data-testid="session"]`).Length() != 2 {
					t.Fatalf("the panel should list two sessions, one with a Sign out form")
				}
				t.Cleanup(func() {
					f.assertSignedOut(t, other)
					f.assertSignedIn(t, here)
				})
				return f.post(action, url.Values{"csrf": {csrf(t, dash)}}, here, true)
			},
			wantStatus: http.StatusOK,
			wantTestID: "sessions-panel",
			check: func(t *testing.T, _ *fixture, _ *oidctest.Provider, resp *http.Response) {
				panel := parse(t, resp)
				if n := panel.Find(`[data-testid="session"]`).Length(); n != 1 || panel.Find(`[data-testid="this-device"]`).Length() != 1 {
					t.Errorf("the panel lists %d sessions, want this one alone", n)
				}
			},
		},
		{
			name: "ending every other session",
			do: func(t *testing.T, f *fixture, _ *oidctest.Provider) *http.Response {
				here, second, third := f.login(t), f.login(t), f.login(t)
				dash := f.dashboard(t, here)
				if n := dash.Find(`[data-testid="session"]`).Length(); n != 3 {
					t.Fatalf("the panel lists %d sessions, want 3", n)
				}
				t.Cleanup(func() {
					f.assertSignedOut(t, second)
					f.assertSignedOut(t, third)
					f.assertSignedIn(t, here)
				})
				return f.post("/sessions/end-others", url.Values{"csrf": {csrf(t, dash)}}, here, false)
			},
			wantStatus: http.StatusSeeOther,
			wantHeader: map[string]string{"Location": "/dashboard"},
		},
		{
			name: "back-channel logout ends the session the token names",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				cookie := f.login(t)
				t.Cleanup(func() { f.assertSignedOut(t, cookie) })
				return f.post("/backchannel-logout", url.Values{"logout_token": {logoutToken(t, idp, lastSID(t, idp), oidctest.SignValid)}}, nil, false)
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"Cache-Control": "no-store"},
		},
		{
			name: "back-channel logout refuses a token with a bad signature",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				cookie := f.login(t)
				t.Cleanup(func() { f.assertSignedIn(t, cookie) })
				return f.post("/backchannel-logout", url.Values{"logout_token": {logoutToken(t, idp, lastSID(t, idp), oidctest.SignBadSignature)}}, nil, false)
			},
			wantStatus: http.StatusBadRequest,
			wantHeader: map[string]string{"Cache-Control": "no-store"},
		},
		{
			name: "back-channel logout refuses a replayed token",
			do: func(t *testing.T, f *fixture, idp *oidctest.Provider) *http.Response {
				f.login(t)
				form := url.Values{"logout_token": {logoutToken(t, idp, lastSID(t, idp), oidctest.SignValid)}}
				if first := f.post("/backchannel-logout", form, nil, false); first.StatusCode != http.StatusOK {
					t.Fatalf("first delivery = %d, want 200", first.StatusCode)
				}
				return f.post("/backchannel-logout", form, nil, false)
			},
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, idp := newProviderFixture(t, tt.opts...)
			resp := tt.do(t, f, idp)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body = io.NopCloser(strings.NewReader(string(body)))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d:\n%.2000s", resp.StatusCode, tt.wantStatus, body)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantTestID != "" && doc.Find(`[data-testid="`+tt.wantTestID+`"]`).Length() == 0 {
				t.Errorf("the answer lacks %s:\n%s", tt.wantTestID, body)
			}
			if got := strings.TrimSpace(doc.Find(`[data-testid="error-title"]`).Text()); got != tt.wantTitle {
				t.Errorf("error title %q, want %q", got, tt.wantTitle)
			}
			if got, _ := doc.Find(`[data-testid="try-again"]`).Attr("href"); got != tt.wantRetry {
				t.Errorf("Try again = %q, want %q", got, tt.wantRetry)
			}
			// Nothing the provider says in errors, nor its secrets, reaches
			// the answer.
			for _, secret := range []string{"hunter2", "10.0.0.7", "<script>", "alert(", "oidctest", idp.ClientSecret()} {
				if strings.Contains(string(body), secret) {
					t.Errorf("the answer contains %q:\n%s", secret, body)
				}
			}
			if tt.check != nil {
				resp.Body = io.NopCloser(strings.NewReader(string(body)))
				tt.check(t, f, idp, resp)
			}
		})
	}
}

// storeDownAtCreate is a store that cannot be reached when a session is
// to be made: the login is done, its session cannot be kept.
type storeDownAtCreate struct{ auth.SessionStore }

func (storeDownAtCreate) Create(context.Context, *auth.Session) error {
	return fmt.Errorf("create session: %w: connection refused", auth.ErrStoreUnavailable)
}

// TestSessionsUnavailableAfterLogin: a login the provider completed, whose
// session the store cannot keep, answers "Sessions unavailable" with a
// Try again that starts the same login afresh.
func TestSessionsUnavailableAfterLogin(t *testing.T) {
	idp := oidctest.New(t)
	client := *idp.Client()
	provider := auth.NewProvider(auth.ProviderConfig{
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(),
		RedirectURI: fixtureBase + "/callback", Scopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
		HTTPClient: &client, Logger: discard,
	})
	if err := provider.Discover(t.Context()); err != nil {
		t.Fatalf("discover the provider: %v", err)
	}
	f := newFixtureWith(t, provider, func(d *handlers.Deps) {
		d.Sessions = auth.NewSessions(auth.SessionsConfig{Store: storeDownAtCreate{auth.NewMemoryStore(nil)}, Cookies: d.Cookies, MaxAge: time.Hour, IdleTimeout: 30 * time.Minute})
	})
	for _, popup := range []bool{false, true} {
		target := "/login?return_to=%2Fdashboard"
		want := "/login?return_to=%2Fdashboard"
		if popup {
			target += "&popup=1"
			want += "&popup=1"
		}
		login := f.serve(httptest.NewRequest(http.MethodGet, target, nil))
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		answer, err := noFollow.Get(login.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		answer.Body.Close()
		callback, _ := url.Parse(answer.Header.Get("Location"))
		req := httptest.NewRequest(http.MethodGet, callback.RequestURI(), nil)
		for _, c := range login.Cookies() {
			req.AddCookie(c)
		}
		resp := f.serve(req)
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(doc.Find(`[data-testid="error-title"]`).Text()) != "Sessions unavailable" {
			t.Fatalf("popup %v: callback = %d %q, want 503 Sessions unavailable", popup, resp.StatusCode, doc.Find(`[data-testid="error-title"]`).Text())
		}
		if got, _ := doc.Find(`[data-testid="try-again"]`).Attr("href"); got != want {
			t.Errorf("popup %v: Try again = %q, want %q", popup, got, want)
		}
		if _, inPopup := doc.Find("body").Attr("data-latchkey-popup"); inPopup != popup {
			t.Errorf("popup %v: the page says it is in the popup: %v", popup, inPopup)
		}
	}
}
