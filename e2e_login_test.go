package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"latchkey/auth/oidctest"
)

// The tests in this file log in and out the way a user does: through the
// built-in development provider with no configuration at all, and through
// a fake provider that is slow, fails, or sees two logins at once.

func TestDevProviderLoginLogout(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	b := newBrowser(t)

	home := b.get(app.URL + "/")
	if !home.has("login-box") || !home.has("dev-idp-banner") {
		t.Fatalf("home page should offer login and mark the development provider:\n%s", home.body)
	}

	signIn := b.get(app.URL + "/login")
	if signIn.status != http.StatusOK || !signIn.has("dev-signin") {
		t.Fatalf("login should reach the development sign-in page, got %d at %s:\n%s", signIn.status, signIn.url, signIn.body)
	}
	dash := b.submit(signIn, "form", url.Values{"user": {"ada"}})
	if dash.url.Path != "/dashboard" || dash.status != http.StatusOK {
		t.Fatalf("sign-in should land on /dashboard, got %d at %s:\n%s", dash.status, dash.url, dash.body)
	}
	if got := dash.text("welcome"); got != "Welcome Ada Lovelace" {
		t.Errorf("dashboard greeting = %q", got)
	}
	if claims := dash.text("claims"); !strings.Contains(claims, `"email": "ada@example.com"`) {
		t.Errorf("dashboard claims should show the userinfo email, got:\n%s", claims)
	}
	if cc := dash.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("dashboard Cache-Control = %q, want no-store", cc)
	}

	home = b.get(app.URL + "/")
	if got := home.text("user-name"); got != "Ada Lovelace" {
		t.Errorf("home profile card name = %q", got)
	}

	after := b.submit(home, `[data-testid="logout-form"]`, nil)
	if after.url.Path != "/" || !after.has("login-box") {
		t.Fatalf("logout should come back to the home page's login box, got %s:\n%s", after.url, after.body)
	}
	if got := after.text("notice"); got != "You have been logged out." {
		t.Errorf("after logout notice = %q", got)
	}
	again := b.get(app.URL + "/dashboard")
	if again.has("dashboard") {
		t.Error("dashboard still shown after logout")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(context.Background(), "test", []string{"latchkey", "--env-file="}, map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "x"}, io.Discard, &stderr, nil)
	var cfgErr *configError
	if !errors.As(err, &cfgErr) || !strings.Contains(err.Error(), "SESSION_SECRET") {
		t.Fatalf("run error = %v, want a configuration error naming SESSION_SECRET", err)
	}
}

// TestProviderTwoTabs: two logins started together both finish, in either order.
func TestProviderTwoTabs(t *testing.T) {
	t.Parallel()
	p, app := startWithProvider(t, nil)
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		b, rec := newRecordingBrowser(t)
		tabs := [2]string{startLogin(t, app, b, "/login"), startLogin(t, app, b, "/login")}
		for _, i := range order {
			r := &loginRun{app: app, p: p, b: b, rec: rec, final: b.get(tabs[i])}
			assertSignedIn(t, r)
		}
	}
}

// TestProviderFailures: a provider that fails or hangs costs a login, shown
// as the app's own 4xx page, never a 5xx or the provider's words.
func TestProviderFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lc   loginCase
	}{
		{"userinfo 500", loginCase{want: reject, behavior: oidctest.Behavior{UserinfoStatus: http.StatusInternalServerError}}},
		{"token endpoint 500", loginCase{want: reject, behavior: oidctest.Behavior{TokenStatus: http.StatusInternalServerError}}},
		{"token endpoint hangs", loginCase{
			want: reject, env: map[string]string{"PROVIDER_TIMEOUT": "1s"},
			behavior: oidctest.Behavior{TokenHang: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.lc.run(t)
		})
	}
}

// TestPortInUse: when the port is taken, latchkey says so and names the
// setting that chooses another.
func TestPortInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for _, tt := range []struct {
		name, want string
		env        map[string]string
		args       []string
	}{
		{name: "PORT", env: map[string]string{"PORT": port}, want: "choose another with PORT (or PORT=0"},
		{name: "--port", env: map[string]string{}, args: []string{"--port=" + port}, want: "choose another with --port (or PORT=0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["DATA_DIR"] = t.TempDir()
			err := run(context.Background(), "test", append([]string{"latchkey", "--env-file="}, tt.args...), tt.env, io.Discard, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), "port "+port+" is in use") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v; want it to say the port is in use and %q", err, tt.want)
			}
		})
	}
}

// TestInProcessCallsAreNotVisits: the calls latchkey makes to its own
// development provider (discovery, keys, token, userinfo) are not logged
// as visitors' requests; the browser's own steps through the provider are.
func TestInProcessCallsAreNotVisits(t *testing.T) {
	t.Parallel()
	app := startApp(t, map[string]string{})
	app.waitReady(t)
	b := newBrowser(t)
	signIn := b.get(app.URL + "/login")
	if dash := b.submit(signIn, "form", url.Values{"user": {"ada"}}); !dash.has("dashboard") {
		t.Fatalf("login failed: %d at %s", dash.status, dash.url)
	}
	logs := app.logs.String()
	for _, path := range []string{"/dev-idp/.well-known/openid-configuration", "/dev-idp/keys", "/dev-idp/oauth/token", "/dev-idp/userinfo"} {
		if strings.Contains(logs, "level=INFO msg=request method=GET path="+path+" ") || strings.Contains(logs, "level=INFO msg=request method=POST path="+path+" ") {
			t.Errorf("latchkey's own call to %s is logged as a visitor's request", path)
		}
	}
	for _, path := range []string{"/login", "/dev-idp/authorize", "/callback"} {
		if !strings.Contains(logs, "msg=request method=GET path="+path+" ") {
			t.Errorf("the browser's request for %s is not in the log", path)
		}
	}
}
