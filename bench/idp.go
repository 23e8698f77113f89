package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"latchkey/auth/oidctest"
)

// The login CPU measure: latchkey signing people in through a provider in
// another process, so that the app's CPU per login is its own. The
// provider is the repository's auth/oidctest (the one the end-to-end tests
// log in through), served by the bench binary ("-serve idp CALLBACK"): a
// strict provider (PKCE, exact redirect URI, RS256-signed ID tokens,
// userinfo) that approves every authorization request at once for its one
// user, as a provider where the user is already signed in does. The
// built-in provider cannot serve: it registers only its own process's
// callback.

// idpClientID is the client the provider registers for the measured app.
const idpClientID = "latchkey-bench"

// serveIdP runs the provider with the client registered for callback and
// secret, prints its issuer on a line of its own, then serves until the
// process is stopped.
func serveIdP(callback, secret string) error {
	var host idpHost
	p := oidctest.New(&host, oidctest.WithClient(idpClientID, secret), oidctest.WithRedirectURI(callback))
	if host.failed != nil {
		return host.failed
	}
	fmt.Println(p.Issuer())
	select {}
}

// idpHost stands in for the test oidctest.New expects: it reports a
// failure instead of failing a test.
type idpHost struct {
	testing.TB // not called beyond the methods below
	failed     error
}

func (*idpHost) Helper()        {}
func (*idpHost) Cleanup(func()) {}
func (h *idpHost) Fatalf(format string, args ...any) {
	if h.failed == nil {
		h.failed = fmt.Errorf(format, args...)
	}
}

// externalLogin is the measured app with the provider in its process.
type externalLogin struct {
	app *app
	idp *exec.Cmd
}

// startExternalLogin starts the provider, then the app using it as
// OIDC_ISSUER, with the embedded store.
func startExternalLogin(ctx context.Context, bin, dir string) (*externalLogin, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	callback := fmt.Sprintf("http://127.0.0.1:%d/callback", port)
	secret := rand.Text() + rand.Text()
	idp := exec.Command(self, serveFlag, "idp", callback, secret)
	idp.Stderr = os.Stderr
	stdout, err := idp.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := idp.Start(); err != nil {
		return nil, fmt.Errorf("start the provider: %w", err)
	}
	issuer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		issuer <- strings.TrimSpace(line)
	}()
	e := &externalLogin{idp: idp}
	select {
	case iss := <-issuer:
		if iss == "" {
			e.stop()
			return nil, errors.New("the provider did not start")
		}
		e.app, err = startAppAt(bin, filepath.Join(dir, "external"), "embedded", "", port,
			"OIDC_ISSUER="+iss, "OIDC_CLIENT_ID="+idpClientID, "OIDC_CLIENT_SECRET="+secret)
		if err != nil {
			e.stop()
			return nil, err
		}
	case <-time.After(readyTimeout):
		e.stop()
		return nil, errors.New("the provider did not start")
	case <-ctx.Done():
		e.stop()
		return nil, ctx.Err()
	}
	if err := e.app.waitReady(ctx); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *externalLogin) stop() {
	if e.app != nil {
		e.app.stop()
	}
	_ = e.idp.Process.Signal(syscall.SIGTERM)
	_ = e.idp.Wait()
}

// loginCPU logs in through the external provider with workers browsers
// for d, each login followed by its logout, and returns the logins
// completed and the app's CPU time over the run.
func loginCPU(ctx context.Context, e *externalLogin, workers int, d time.Duration) (int64, time.Duration, error) {
	// A first login fetches discovery and the provider's keys: done
	// before the count starts, as a running app has done it long ago.
	if _, err := externalLoginOnce(ctx, e.app.url); err != nil {
		return 0, 0, err
	}
	pid := e.app.cmd.Process.Pid
	before, err := cpuTime(pid)
	if err != nil {
		return 0, 0, err
	}
	logins, _, err := loginsFor(ctx, e.app.url, workers, d, func(ctx context.Context, b *browser, _ int) (*signedIn, error) {
		return b.loginAt(ctx, "/login")
	})
	if err != nil {
		return 0, 0, err
	}
	after, err := cpuTime(pid)
	if err != nil {
		return 0, 0, err
	}
	return logins, after - before, nil
}

// externalLoginOnce logs in once through the external provider.
func externalLoginOnce(ctx context.Context, base string) (*signedIn, error) {
	b, err := newBrowser(base, nil)
	if err != nil {
		return nil, err
	}
	return b.loginAt(ctx, "/login")
}
