package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"latchkey/auth"
)

func TestProblemFor(t *testing.T) {
	unreachable := fmt.Errorf("load session: %w: %w", auth.ErrStoreUnavailable, io.ErrUnexpectedEOF)
	refused := &auth.ProviderError{Reason: auth.ReasonRefused, Err: errors.New(`provider answered error "access_denied"`)}
	invalid := &auth.ProviderError{Reason: auth.ReasonInvalid, Err: errors.New("ID token without sub")}
	down := &auth.ProviderError{Reason: auth.ReasonUnavailable, Err: errors.New("exchange code: dial tcp: connection refused")}
	tests := []struct {
		name      string
		err       error
		wantTitle string
		status    int
		retry     string
	}{
		{name: "not found", err: errNotFound, status: 404, wantTitle: "Page not found"},
		{name: "method", err: errMethodNotAllowed, status: 405, wantTitle: "Not allowed"},
		{name: "cross-origin", err: errCrossOrigin, status: 403, wantTitle: "Request refused"},
		{name: "bad CSRF token", err: errBadCSRF, status: 403, wantTitle: "Request refused"},
		{name: "form of another type", err: fmt.Errorf("read form: %w: %q", errFormType, "multipart/form-data"), status: 415, wantTitle: "Form not accepted"},
		{name: "form too large", err: fmt.Errorf("read form: %w", errFormTooLarge), status: 413, wantTitle: "Form too large"},
		{name: "form that cannot be parsed", err: fmt.Errorf("read form: %w: %w", errFormBroken, errors.New("invalid URL escape")), status: 400, wantTitle: "Form not readable"},
		{name: "unknown login attempt", err: fmt.Errorf("%w: %w", errLoginUnknown, auth.ErrCookieInvalid), status: 400, wantTitle: "Login expired", retry: "/login"},
		{name: "store unreachable", err: unreachable, status: 503, wantTitle: "Sessions unavailable"},
		{name: "store answered an error", err: fmt.Errorf("save session: %w", errors.New("disk I/O error")), status: 500, wantTitle: "Something went wrong"},
		{name: "session ended by a refused refresh", err: fmt.Errorf("%w: %w", auth.ErrSessionEnded, invalid), status: 401, wantTitle: "Session ended", retry: "/login"},
		{name: "session gone mid-request", err: fmt.Errorf("reload session: %w", auth.ErrNoSession), status: 401, wantTitle: "Session ended", retry: "/login"},
		{name: "no refresh token", err: auth.ErrNoRefreshToken, status: 401, wantTitle: "Log in again to refresh", retry: "/login?return_to=%2Fdashboard"},
		{name: "provider not discovered yet", err: auth.ErrProviderUnavailable, status: 503, wantTitle: "Identity provider unavailable"},
		{name: "provider down on a refresh", err: down, status: 503, wantTitle: "Identity provider unavailable"},
		{name: "provider misconfigured", err: withRetry(fmt.Errorf("start login: %w", &auth.MisconfigurationError{Problem: "issuer mismatch"}), "/login"), status: 503, wantTitle: "Login misconfigured"},
		{name: "provider answer unusable on a refresh", err: fmt.Errorf("read userinfo: %w", invalid), status: 502, wantTitle: "Identity provider error"},
		{name: "sign-in cancelled", err: fmt.Errorf("%w: %w", errSignIn, refused), status: 403, wantTitle: "Login cancelled", retry: "/login"},
		{name: "sign-in answer unusable", err: fmt.Errorf("%w: %w", errSignIn, invalid), status: 400, wantTitle: "Login failed", retry: "/login"},
		{name: "sign-in with the provider down", err: fmt.Errorf("%w: %w", errSignIn, down), status: 400, wantTitle: "Identity provider unavailable", retry: "/login"},
		{name: "retry link carried by the error", err: withRetry(fmt.Errorf("%w: %w", errSignIn, invalid), "/login?return_to=%2Fx"), status: 400, wantTitle: "Login failed", retry: "/login?return_to=%2Fx"},
		{name: "retry link on a 503", err: withRetry(fmt.Errorf("start login: %w", auth.ErrProviderUnavailable), "/login?popup=1"), status: 503, wantTitle: "Identity provider unavailable", retry: "/login?popup=1"},
		{name: "logout token refused", err: fmt.Errorf("%w: issuer", auth.ErrLogoutTokenInvalid), status: 400, wantTitle: "Logout token refused"},
		{name: "logout token replayed", err: errLogoutReplay, status: 400, wantTitle: "Logout token refused"},
		{name: "development provider refusal", err: &devRefusal{status: 400, message: "This login request is unknown."}, status: 400, wantTitle: "Login request refused", retry: "/login"},
		{name: "development provider refusal with a status that is not 4xx", err: &devRefusal{status: 500, message: "x"}, status: 400, wantTitle: "Login request refused", retry: "/login"},
		{name: "unclassified", err: errors.New("boom"), status: 500, wantTitle: "Something went wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemFor(site{}, tt.err)
			if got.Status != tt.status || got.Title != tt.wantTitle || got.RetryURL != tt.retry {
				t.Errorf("problemFor = %d %q retry %q, want %d %q retry %q", got.Status, got.Title, got.RetryURL, tt.status, tt.wantTitle, tt.retry)
			}
			if got.Message == "" {
				t.Error("no message for the user")
			}
		})
	}
}

// TestFailLogsDetailShowsNone: the page says what problemFor says and
// nothing of the error; the log has the error, at error level for a 5xx.
func TestFailLogsDetailShowsNone(t *testing.T) {
	assets, err := newAssets(os.DirFS("../assets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		err       error
		wantLevel string
	}{
		{name: "unclassified", err: errors.New("redis: unexpected reply <b>secret-detail</b>"), wantLevel: "level=ERROR"},
		{name: "user's mistake", err: fmt.Errorf("%w: secret-detail", errBadCSRF), wantLevel: "level=INFO"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			p := newPages(slog.New(slog.NewTextHandler(&logs, nil)), assets.paths(), false)
			rec := httptest.NewRecorder()
			p.fail(rec, httptest.NewRequest(http.MethodGet, "/x", nil), tt.err)
			if want := problemFor(site{}, tt.err); rec.Code != want.Status || !strings.Contains(rec.Body.String(), want.Title) {
				t.Errorf("answer %d, want %d with %q:\n%s", rec.Code, want.Status, want.Title, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "secret-detail") {
				t.Errorf("the page shows the error's text:\n%s", rec.Body)
			}
			if !strings.Contains(logs.String(), "secret-detail") || !strings.Contains(logs.String(), tt.wantLevel) {
				t.Errorf("log should hold the detail at %s:\n%s", tt.wantLevel, &logs)
			}
		})
	}
}

// TestFailEndedSessionSendsHTMXHome: a failure that ended the session
// leaves nothing to update on the page: htmx is sent home (its card comes
// along), a navigation gets the page.
func TestFailEndedSessionSendsHTMXHome(t *testing.T) {
	assets, err := newAssets(os.DirFS("../assets"))
	if err != nil {
		t.Fatal(err)
	}
	p := newPages(slog.New(slog.NewTextHandler(io.Discard, nil)), assets.paths(), false)
	ended := fmt.Errorf("%w: invalid_grant", auth.ErrSessionEnded)

	req := httptest.NewRequest(http.MethodPost, "/profile/refresh", nil)
	req.Header.Set("HX-Request", "true")
	rec := httptest.NewRecorder()
	p.fail(rec, req, ended)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("HX-Redirect") != "/" || !strings.Contains(rec.Body.String(), `data-testid="error"`) {
		t.Errorf("htmx: %d HX-Redirect %q, want 401, HX-Redirect / and the error card:\n%s", rec.Code, rec.Header().Get("HX-Redirect"), rec.Body)
	}

	rec = httptest.NewRecorder()
	p.fail(rec, httptest.NewRequest(http.MethodPost, "/profile/refresh", nil), ended)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("HX-Redirect") != "" || !strings.Contains(rec.Body.String(), "Session ended") {
		t.Errorf("navigation: %d HX-Redirect %q, want the 401 page:\n%s", rec.Code, rec.Header().Get("HX-Redirect"), rec.Body)
	}
}
