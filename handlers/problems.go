package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"latchkey/auth"
	"latchkey/proxy"
	"latchkey/views"
)

// The handlers' own kinds of failure. problemFor also knows the auth
// package's sentinels and *auth.ProviderError.
var (
	errNotFound         = errors.New("no such page")
	errMethodNotAllowed = errors.New("method not allowed")
	errCrossOrigin      = errors.New("cross-origin request refused")
	errBadCSRF          = errors.New("form without the session's CSRF token")
	// errLoginUnknown: the callback names no login attempt this browser
	// started, or one already used.
	errLoginUnknown = errors.New("login attempt unknown, expired or already used")
	// errSignIn marks the provider errors of a login's callback, which
	// answer differently from the same errors on a refresh.
	errSignIn       = errors.New("sign-in failed")
	errLogoutReplay = errors.New("logout token replayed")
)

// devRefusal is the development provider declining a login request,
// with its own words for the user.
type devRefusal struct {
	status  int
	message string
}

func (e *devRefusal) Error() string { return "development provider refused: " + e.message }

// retryError carries the "Try again" link of the page a failure shows.
type retryError struct {
	err error
	url string
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// withRetry returns err with url as its page's "Try again" link.
func withRetry(err error, url string) error { return &retryError{err: err, url: url} }

// problemFor says what the user sees for err: its status and the app's own
// words. It never shows the error's text. An error of no known kind is a
// 500.
func problemFor(s site, err error) views.Problem {
	prob := problemKind(s, err)
	// Trying again cannot help with a misconfiguration.
	if retry, ok := errors.AsType[*retryError](err); ok && !errors.Is(err, auth.ErrProviderMisconfigured) {
		prob.RetryURL = retry.url
	}
	return prob
}

func problemKind(s site, err error) views.Problem {
	switch {
	case errors.Is(err, errNotFound):
		return views.Problem{
			Status:  http.StatusNotFound,
			Title:   "Page not found",
			Message: "There is nothing at this address.",
		}
	case errors.Is(err, errMethodNotAllowed):
		return views.Problem{
			Status:  http.StatusMethodNotAllowed,
			Title:   "Not allowed",
			Message: "This page cannot be used that way.",
		}
	case errors.Is(err, errCrossOrigin):
		return views.Problem{
			Status:  http.StatusForbidden,
			Title:   "Request refused",
			Message: "This request came from another site, so it was refused. Use the buttons on this site instead.",
		}
	case errors.Is(err, errBadCSRF):
		return views.Problem{
			Status:  http.StatusForbidden,
			Title:   "Request refused",
			Message: "This form has expired. Please go back, reload the page and try again.",
		}
	case errors.Is(err, errFormType):
		return views.Problem{
			Status:  http.StatusUnsupportedMediaType,
			Title:   "Form not accepted",
			Message: "This site takes forms only as its own pages send them. Please go back, reload the page and try again.",
		}
	case errors.Is(err, errFormTooLarge):
		return views.Problem{
			Status:  http.StatusRequestEntityTooLarge,
			Title:   "Form too large",
			Message: "This form sent more than this site accepts. Please go back, reload the page and try again.",
		}
	case errors.Is(err, errFormBroken):
		return views.Problem{
			Status:  http.StatusBadRequest,
			Title:   "Form not readable",
			Message: "This form could not be read. Please go back, reload the page and try again.",
		}
	case errors.Is(err, errRateLimited):
		return views.Problem{
			Status:  http.StatusTooManyRequests,
			Title:   "Too many login attempts",
			Message: "Too many logins were started from your network just now. Please wait a minute and try again.",
		}
	case errors.Is(err, errLoginUnknown):
		return views.Problem{
			Status:   http.StatusBadRequest,
			Title:    "Login expired",
			Message:  "This login was not started here, has expired, or was already used. Please start again.",
			RetryURL: s.loginURL("", false),
		}
	case errors.Is(err, errSignIn):
		return signInProblem(s, err)
	case errors.Is(err, auth.ErrSessionEnded):
		// The causes are many — a grant the provider revoked or expired, a
		// login elsewhere at a provider that keeps one refresh token per
		// user (Dex), tokens that fail a check or do not open — and none
		// is the user's doing: the words must be true of every one.
		return views.Problem{
			Status:   http.StatusUnauthorized,
			Title:    "Session ended",
			Message:  "Your login could not be renewed, so this session has ended. Please log in again.",
			RetryURL: s.loginURL("", false),
		}
	case errors.Is(err, auth.ErrNoSession):
		// The session ended while the request was under way (a logout in
		// another tab, say).
		return views.Problem{
			Status:   http.StatusUnauthorized,
			Title:    "Session ended",
			Message:  "Your session has ended. Please log in again.",
			RetryURL: s.loginURL("", false),
		}
	case errors.Is(err, auth.ErrNoRefreshToken):
		return views.Problem{
			Status:   http.StatusUnauthorized,
			Title:    "Log in again to refresh",
			Message:  "Your profile can only be read again after a new login: the identity provider gave no refresh token.",
			RetryURL: s.loginURL(s.dashboard(), false),
		}
	case errors.Is(err, auth.ErrLogoutTokenInvalid), errors.Is(err, errLogoutReplay):
		// Only the provider sees this, as a bare status.
		return views.Problem{
			Status:  http.StatusBadRequest,
			Title:   "Logout token refused",
			Message: "The logout token failed a check.",
		}
	case errors.Is(err, auth.ErrStoreUnavailable):
		// Only a store that cannot be reached is a 503: that passes. A
		// store that answered with an error is a fault of ours, a 500.
		return views.Problem{
			Status:  http.StatusServiceUnavailable,
			Title:   "Sessions unavailable",
			Message: "Your session cannot be checked right now. Please try again in a moment.",
		}
	case errors.Is(err, auth.ErrProviderMisconfigured):
		// Only an operator can help; what is wrong is in the log and in
		// /readyz.
		return views.Problem{
			Status:  http.StatusServiceUnavailable,
			Title:   "Login misconfigured",
			Message: "The identity provider is misconfigured for this site, so nobody can log in until an administrator fixes it. Your account is not the problem.",
		}
	case errors.Is(err, auth.ErrProviderUnavailable):
		return problemProviderDown()
	}
	if pathErr, ok := errors.AsType[*proxy.PathError](err); ok {
		return views.Problem{
			Status:  pathErr.Status(),
			Title:   "Address not accepted",
			Message: "This address cannot be served: it is too long, or has characters or parts that servers read in different ways.",
		}
	}
	if upErr, ok := errors.AsType[*proxy.UpstreamError](err); ok {
		return views.Problem{
			Status:  upErr.Status(),
			Title:   "The app is not answering",
			Message: "The app behind this site did not answer. Please try again in a moment.",
		}
	}
	if m, ok := errors.AsType[*errMisdirected](err); ok {
		return views.Problem{
			Status:    http.StatusMisdirectedRequest,
			Title:     "Wrong address",
			Message:   "This site is served at another address.",
			RetryURL:  m.url,
			RetryText: "Go there",
		}
	}
	if refusal, ok := errors.AsType[*devRefusal](err); ok {
		status := refusal.status
		if status < 400 || status > 499 {
			status = http.StatusBadRequest
		}
		return views.Problem{
			Status:   status,
			Title:    "Login request refused",
			Message:  refusal.message,
			RetryURL: s.loginURL("", false),
		}
	}
	if provErr, ok := errors.AsType[*auth.ProviderError](err); ok {
		if provErr.Reason == auth.ReasonUnavailable {
			return problemProviderDown()
		}
		// Refused or unusable outside a login: a refresh or a userinfo
		// read that the provider answered with something we cannot use.
		return views.Problem{
			Status:  http.StatusBadGateway,
			Title:   "Identity provider error",
			Message: "The identity provider's answer could not be used. Please try again; if this keeps happening, log in again.",
		}
	}
	return views.Problem{
		Status:  http.StatusInternalServerError,
		Title:   "Something went wrong",
		Message: "Something went wrong on our side. Please try again.",
	}
}

func problemProviderDown() views.Problem {
	return views.Problem{
		Status:  http.StatusServiceUnavailable,
		Title:   "Identity provider unavailable",
		Message: "The identity provider cannot be reached right now. Please try again in a moment.",
	}
}

// signInProblem explains a failed login without revealing why in detail.
// Every one is a 4xx: the user's login failed, whoever is to blame.
func signInProblem(s site, err error) views.Problem {
	prob := views.Problem{
		Status:   http.StatusBadRequest,
		Title:    "Login failed",
		Message:  "The identity provider's answer could not be verified, so you were not logged in.",
		RetryURL: s.loginURL("", false),
	}
	if provErr, ok := errors.AsType[*auth.ProviderError](err); ok {
		switch provErr.Reason {
		case auth.ReasonRefused:
			prob.Status = http.StatusForbidden
			prob.Title = "Login cancelled"
			prob.Message = "The login was cancelled or refused at the identity provider."
		case auth.ReasonUnavailable:
			prob.Title = "Identity provider unavailable"
			prob.Message = "The identity provider did not answer in time, so you were not logged in. Please try again in a moment."
		}
	}
	return prob
}

// fail is the one path a failure takes to the user: it logs err (at error
// level for a 5xx, where the fault is ours or a backend's) and answers the
// problem problemFor picks, in the app's own look.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	prob := problemFor(p.site, err)
	p.logFailure(r, prob, err)
	if prob.RetryURL == "" && transient(err) && r.Method == http.MethodGet && !isHTMX(r) {
		// What is down now may be back in a moment: the same page again.
		prob.RetryURL = r.URL.RequestURI()
	}
	if isHTMX(r) && sessionGone(err) {
		// The page htmx would swap into belongs to a session that is over:
		// load home instead. The card stays in the answer, with the
		// failure's status, as redirect's rule says.
		w.Header().Set("HX-Redirect", p.site.home())
	}
	p.render(w, r, prob.Status, views.ErrorPage(p.shell(r, prob.Title), prob), views.ErrorCard(prob))
}

// failStatus answers a failure with its status alone, for clients that
// are not browsers (a provider's back-channel logout).
func (p *pages) failStatus(w http.ResponseWriter, r *http.Request, err error) {
	prob := problemFor(p.site, err)
	p.logFailure(r, prob, err)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(prob.Status)
}

// transient reports a failure that may be over in a moment: a store or a
// provider that cannot be reached. A misconfiguration is not one.
func transient(err error) bool {
	if errors.Is(err, auth.ErrProviderMisconfigured) {
		return false
	}
	if provErr, ok := errors.AsType[*auth.ProviderError](err); ok && provErr.Reason == auth.ReasonUnavailable {
		return true
	}
	return errors.Is(err, auth.ErrStoreUnavailable) || errors.Is(err, auth.ErrProviderUnavailable)
}

// sessionGone reports a failure that means the request's session is over.
func sessionGone(err error) bool {
	return errors.Is(err, auth.ErrSessionEnded) || errors.Is(err, auth.ErrNoSession)
}

func (p *pages) logFailure(r *http.Request, prob views.Problem, err error) {
	level := slog.LevelInfo
	if prob.Status >= 500 {
		level = slog.LevelError
	}
	p.log.Log(r.Context(), level, "request failed", "status", prob.Status, "path", r.URL.Path, "problem", prob.Title, "err", err)
}

func notFound(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { p.fail(w, r, errNotFound) }
}

// methodNotAllowed answers a method the route does not serve, and lists
// those it does in Allow, as RFC 9110 (15.5.6) asks of a 405.
func methodNotAllowed(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(r); allow != "" {
			w.Header().Set("Allow", allow)
		}
		p.fail(w, r, errMethodNotAllowed)
	}
}

// allowedMethods lists the methods the router serves at r's path; HEAD
// comes with GET.
func allowedMethods(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return ""
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return strings.Join(allow, ", ")
}

func forbiddenCrossOrigin(p *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.fail(w, r, errCrossOrigin) })
}
