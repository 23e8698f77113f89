package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests in this file put the real nginx and Caddy in front of latchkey
// (forward auth) and the test app, with the configurations the README
// gives, taken from README.md itself, and drive a login through them.

// readmeBlock returns the fenced code block of README.md whose first line
// is marker.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(readme), "```")[1:] {
		_, body, _ := strings.Cut(block, "\n")
		if strings.HasPrefix(body, marker+"\n") || strings.HasPrefix(body, marker+" ") {
			return body
		}
	}
	t.Fatalf("README.md has no code block starting %q", marker)
	return ""
}

// replaceAll replaces each old with its new in s, failing the test when
// one is not there: the README's configuration changed under the test.
func replaceAll(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("the README's configuration has no %q", pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// frontServer is a front server started by a test.
type frontServer struct {
	url  string // where browsers reach it: BASE_URL
	logs *outputBuffer
}

// program returns the path of a program a test needs, or skips the test.
func program(t *testing.T, path, name, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	skipBecause(t, name+" not found at "+path+" nor on PATH (apt-get install "+pkg+")")
	return ""
}

// startProcess runs cmd until the test ends, with its output in logs, and
// waits until it accepts connections on port.
func startProcess(t *testing.T, cmd *exec.Cmd, port int, logs *outputBuffer) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), logs)
		}
	})
	waitFor(t, filepath.Base(cmd.Path)+" to accept connections", func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", cmd.Path, logs)
		default:
		}
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// startNginx runs nginx with the README's configuration on port, in front
// of latchkey at latchkeyAddr and the app at appAddr.
func startNginx(t *testing.T, port int, latchkeyAddr, appAddr string) *frontServer {
	t.Helper()
	bin := program(t, "/usr/sbin/nginx", "nginx", "nginx")
	dir := t.TempDir()
	site := replaceAll(t, readmeBlock(t, "# latchkey forward auth: nginx"),
		"server 127.0.0.1:3000;", "server "+latchkeyAddr+";",
		"server 127.0.0.1:8080;", "server "+appAddr+";",
		"listen 80;", "listen 127.0.0.1:"+strconv.Itoa(port)+";",
		"server_name app.example.com;", "server_name localhost;",
	)
	conf := fmt.Sprintf(`worker_processes 1;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, site)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &outputBuffer{}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", "stderr", "-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+";")
	startProcess(t, cmd, port, logs)
	return &frontServer{url: "http://localhost:" + strconv.Itoa(port), logs: logs}
}

// startCaddy runs Caddy with the README's configuration on port, in front
// of latchkey at latchkeyAddr and the app at appAddr.
func startCaddy(t *testing.T, port int, latchkeyAddr, appAddr string) *frontServer {
	t.Helper()
	bin := program(t, "/usr/bin/caddy", "caddy", "caddy")
	dir := t.TempDir()
	site := replaceAll(t, readmeBlock(t, "# latchkey forward auth: Caddy"),
		"app.example.com {", "http://localhost:"+strconv.Itoa(port)+" {\n\tbind 127.0.0.1",
		"127.0.0.1:3000", latchkeyAddr,
		"127.0.0.1:8080", appAddr,
	)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte("{\n\tadmin off\n\tauto_https off\n}\n"+site), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &outputBuffer{}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	// Caddy keeps its state under the home directory: a fresh one each.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	startProcess(t, cmd, port, logs)
	return &frontServer{url: "http://localhost:" + strconv.Itoa(port), logs: logs}
}

// startBehind starts latchkey for forward auth behind a front server on
// port (BASE_URL is the front server's), and returns it with its address.
func startBehind(t *testing.T, frontPort int, env map[string]string) (*testApp, string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		env["PORT"] = strconv.Itoa(port)
		env["BASE_URL"] = "http://localhost:" + strconv.Itoa(frontPort)
		env["PROXY_PREFIX"] = "/.latchkey"
		app, err := launchApp(t, env)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("latchkey log:\n%s", app.logs)
				}
			})
			return app, "127.0.0.1:" + strconv.Itoa(port)
		}
		if attempt == 3 {
			t.Fatalf("latchkey did not start: %v", err)
		}
	}
}

func TestFrontServers(t *testing.T) {
	t.Parallel()
	for _, server := range []struct {
		name  string
		start func(t *testing.T, port int, latchkeyAddr, appAddr string) *frontServer
	}{
		{"nginx", startNginx},
		{"Caddy", startCaddy},
	} {
		t.Run(server.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t)
			port := freePort(t)
			app, addr := startBehind(t, port, map[string]string{"ALLOWED_GROUPS": "staff"})
			front := server.start(t, port, addr, strings.TrimPrefix(up.URL(), "http://"))
			app.URL = front.url
			app.waitReadyAt(t, "/.latchkey/readyz")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s log:\n%s", server.name, front.logs)
				}
			})

			// Signed out, scripts get 401 and navigations go to sign in.
			before := up.count()
			if resp := rawGet(t, app, "/api/board", "Sec-Fetch-Mode: cors"); resp.status != http.StatusUnauthorized {
				t.Errorf("a script without a session = %d, want 401:\n%s", resp.status, resp.body)
			}
			htmx := rawGet(t, app, "/board", "HX-Request: true", "HX-Current-URL: "+front.url+"/board")
			if htmx.status != http.StatusUnauthorized || !strings.Contains(htmx.header.Get("HX-Trigger"), "latchkey:login-required") {
				t.Errorf("htmx without a session = %d HX-Trigger %q, want 401 and the login trigger", htmx.status, htmx.header.Get("HX-Trigger"))
			}
			b := newBrowser(t)
			forged := http.Header{
				"Accept": {"text/html"}, "Sec-Fetch-Mode": {"navigate"},
				"X-Forwarded-User": {"mallory"}, "X-Forwarded-Groups": {"admins"}, "X-Latchkey-Assertion": {"forged"},
				"X_Forwarded_User": {"mallory"},
			}
			signIn := b.getWith(front.url+"/board?tab=2", forged)
			if !signIn.has("dev-signin") {
				t.Fatalf("a navigation without a session should reach the sign-in page, got %d at %s:\n%s", signIn.status, signIn.url, signIn.body)
			}
			if up.count() != before {
				t.Errorf("requests without a session reached the app: %s", up.all()[before].uri)
			}

			// Signed in, the app receives who it is, and nothing forged.
			landed := navSubmit(t, b, signIn, "form", map[string][]string{"user": {"grace"}})
			if landed.status != http.StatusOK || landed.url.RequestURI() != "/board?tab=2" || !strings.HasPrefix(landed.body, "app: GET /board?tab=2") {
				t.Fatalf("the login should come back to the app's page, got %d at %s:\n%s", landed.status, landed.url, landed.body)
			}
			again := b.getWith(front.url+"/board?tab=3", forged)
			if again.status != http.StatusOK {
				t.Fatalf("signed in, the app's page = %d", again.status)
			}
			got := up.last("/board?tab=3")
			for name, want := range map[string]string{
				"X-Forwarded-User":               "grace",
				"X-Forwarded-Email":              "grace@example.com",
				"X-Forwarded-Preferred-Username": "grace",
				"X-Forwarded-Groups":             "staff",
			} {
				if v := got.header.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("the app received %s %q, want %q", name, v, want)
				}
			}
			for name, v := range got.header {
				if strings.Contains(strings.Join(v, ","), "mallory") || strings.Contains(strings.Join(v, ","), "forged") || strings.Contains(name, "_") {
					t.Errorf("the app received the client's %s: %q", name, v)
				}
			}
			a := verifyAssertion(t, app, got.header.Get("X-Latchkey-Assertion"), front.url)
			if a.Subject != "grace" {
				t.Errorf("assertion sub = %q", a.Subject)
			}

			// Not allowed: the 403 page reaches the browser.
			alan := newBrowser(t)
			refused := navSubmit(t, alan, alan.getWith(front.url+"/board", navigation), "form", map[string][]string{"user": {"alan"}})
			if refused.status != http.StatusForbidden || !refused.has("not-allowed") {
				t.Errorf("Alan, in no group, = %d, want latchkey's 403 page:\n%s", refused.status, refused.body)
			}

			// Logging out ends it.
			account := b.getWith(front.url+"/.latchkey/account", navigation)
			out := navSubmit(t, b, account, `[data-testid="logout-form"]`, nil)
			if out.url.Path != "/.latchkey/" || out.text("notice") != "You have been logged out." {
				t.Errorf("logout should end on latchkey's home page, got %s:\n%s", out.url, out.body)
			}
			before = up.count()
			if after := b.noFollow().getWith(front.url+"/board", navigation); after.status != http.StatusSeeOther || up.count() != before {
				t.Errorf("after logout the app's page = %d, want a redirect to sign in", after.status)
			}
		})
	}
}
