package main

import (
	"net/http"
	"strings"
	"testing"
)

// The tests in this file ask latchkey's check as front servers do, with
// the headers each of them sends; e2e_front_servers_test.go runs the real
// nginx and Caddy in front.

// startForwardAuth starts the program for forward auth alone: its routes
// under /.latchkey, the app served by someone else.
func startForwardAuth(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	env["PROXY_PREFIX"] = "/.latchkey"
	app := startApp(t, env)
	app.waitReadyAt(t, "/.latchkey/readyz")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.logs)
		}
	})
	return app
}

// check asks the app's check with the header lines given.
func check(t *testing.T, app *testApp, method string, lines ...string) rawResponse {
	t.Helper()
	return sendRaw(t, app, method+" /.latchkey/check HTTP/1.1\r\nHost: "+hostOf(t, app.URL)+"\r\n"+strings.Join(append(lines, "Connection: close"), "\r\n")+"\r\n\r\n")
}

func TestForwardAuthCheck(t *testing.T) {
	t.Parallel()
	app := startForwardAuth(t, map[string]string{"ALLOWED_GROUPS": "staff"})
	host := hostOf(t, app.URL)
	ada, alan := newBrowser(t), newBrowser(t)
	devSignInAt(t, app, ada, "/.latchkey/login", "ada")
	devSignInAt(t, app, alan, "/.latchkey/login", "alan")
	adaCookie := "Cookie: latchkey=" + ada.cookie(app.URL, "latchkey").Value
	alanCookie := "Cookie: latchkey=" + alan.cookie(app.URL, "latchkey").Value

	caddy := []string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: /board?tab=2", "X-Forwarded-Host: " + host, "X-Forwarded-Proto: http"}
	nginx := []string{"X-Original-Method: GET", "X-Original-URI: /board?tab=2"}
	navigate := []string{"Accept: text/html", "Sec-Fetch-Mode: navigate"}
	with := func(groups ...[]string) []string {
		var all []string
		for _, g := range groups {
			all = append(all, g...)
		}
		return all
	}
	for _, tt := range []struct {
		name     string
		method   string
		lines    []string
		status   int
		location string
		user     string
	}{
		{name: "Caddy, signed in", lines: with(caddy, navigate, []string{adaCookie}), status: 200, user: "ada"},
		{name: "nginx, signed in", lines: with(nginx, navigate, []string{adaCookie}), status: 200, user: "ada"},
		{name: "HEAD, signed in", method: "HEAD", lines: with(nginx, []string{adaCookie}), status: 200, user: "ada"},
		{name: "Caddy, a navigation without a session", lines: with(caddy, navigate), status: 303, location: "/.latchkey/login?return_to=%2Fboard%3Ftab%3D2"},
		{name: "nginx, a navigation without a session: never a 3xx", lines: with(nginx, navigate), status: 401, location: "/.latchkey/login?return_to=%2Fboard%3Ftab%3D2"},
		{name: "nginx, a client's X-Forwarded-Method removed by the config", lines: with(nginx, navigate, []string{"X-Forwarded-Method: "}), status: 401},
		{name: "Caddy, htmx without a session", lines: with(caddy, []string{"HX-Request: true", "HX-Current-URL: " + app.URL + "/board"}), status: 401},
		{name: "Caddy, fetch without a session", lines: with(caddy, []string{"Sec-Fetch-Mode: cors"}), status: 401},
		{name: "Caddy, a post without a session", lines: with([]string{"X-Forwarded-Method: POST", "X-Forwarded-Uri: /board"}), status: 401},
		{name: "an X-Forwarded-Uri that looks like another site stays on this one", lines: with([]string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: //evil.example/x"}, navigate), status: 303, location: "/.latchkey/login?return_to=%2Fevil.example%2Fx"},
		{name: "an X-Forwarded-Uri of another site", lines: with([]string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: https://evil.example/x"}, navigate), status: 303, location: "/.latchkey/login?return_to=%2F"},
		{name: "Caddy, not allowed", lines: with(caddy, navigate, []string{alanCookie}), status: 403},
		{name: "nginx, not allowed", lines: with(nginx, []string{alanCookie}), status: 403},
		{name: "forged identity headers are not answered back", lines: with(nginx, []string{adaCookie, "X-Forwarded-User: mallory", "X-Forwarded-Groups: admins"}), status: 200, user: "ada"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			resp := check(t, app, method, tt.lines...)
			if resp.status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", resp.status, tt.status, resp.body)
			}
			if tt.location != "" && resp.header.Get("Location") != tt.location {
				t.Errorf("Location = %q, want %q", resp.header.Get("Location"), tt.location)
			}
			if got := resp.header.Get("X-Forwarded-User"); got != tt.user {
				t.Errorf("X-Forwarded-User = %q, want %q", got, tt.user)
			}
			if tt.user != "" {
				if got := resp.header.Get("X-Forwarded-Groups"); got != "admins,staff" {
					t.Errorf("X-Forwarded-Groups = %q", got)
				}
				a := verifyAssertion(t, app, resp.header.Get("X-Latchkey-Assertion"), app.URL)
				if a.Subject != tt.user {
					t.Errorf("assertion sub = %q", a.Subject)
				}
			}
			if tt.status == 401 && !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Latchkey ") {
				t.Errorf("WWW-Authenticate = %q", resp.header.Get("WWW-Authenticate"))
			}
			if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}
	if resp := rawGet(t, app, "/board"); resp.status != http.StatusNotFound {
		t.Errorf("a path of the app, asked of latchkey itself = %d, want 404: forward auth alone serves no app", resp.status)
	}
}
