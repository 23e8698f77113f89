package handlers

import (
	"net/http"

	"latchkey/views"
)

// The problems users can meet. Their words are the app's own; details go
// to the log only.
var (
	problemNotFound = views.Problem{
		Status:  http.StatusNotFound,
		Title:   "Page not found",
		Message: "There is nothing at this address.",
	}
	problemMethod = views.Problem{
		Status:  http.StatusMethodNotAllowed,
		Title:   "Not allowed",
		Message: "This page cannot be used that way.",
	}
	problemCrossOrigin = views.Problem{
		Status:  http.StatusForbidden,
		Title:   "Request refused",
		Message: "This request came from another site, so it was refused. Use the buttons on this site instead.",
	}
	problemProviderDown = views.Problem{
		Status:   http.StatusServiceUnavailable,
		Title:    "Identity provider unavailable",
		Message:  "The identity provider cannot be reached right now. Please try again in a moment.",
		RetryURL: "/login",
	}
	problemStoreDown = views.Problem{
		Status:  http.StatusServiceUnavailable,
		Title:   "Sessions unavailable",
		Message: "Your session cannot be checked right now. Please try again in a moment.",
	}
	problemInternal = views.Problem{
		Status:  http.StatusInternalServerError,
		Title:   "Something went wrong",
		Message: "Something went wrong on our side. Please try again.",
	}
)

func notFound(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { p.fail(w, r, problemNotFound, nil) }
}

func methodNotAllowed(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { p.fail(w, r, problemMethod, nil) }
}

func forbiddenCrossOrigin(p *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, problemCrossOrigin, nil)
	})
}
