package auth

import (
	"context"
	"errors"
	"net"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Reason says, in the user's terms, why a login could not be finished.
type Reason int

const (
	// ReasonInvalid: the callback or the provider's answer failed a check.
	ReasonInvalid Reason = iota
	// ReasonRefused: the provider, or the user at the provider, said no.
	ReasonRefused
	// ReasonUnavailable: the provider could not be reached, failed or timed out.
	ReasonUnavailable
)

// CallbackError is a login that could not be finished. Err holds the detail
// for the log; it must never be shown to the user.
type CallbackError struct {
	Reason Reason
	Err    error
}

func (e *CallbackError) Error() string { return e.Err.Error() }
func (e *CallbackError) Unwrap() error { return e.Err }

// classify tells a provider that failed to answer from one that answered
// something unacceptable.
func classify(err error) Reason {
	var retrieve *oauth2.RetrieveError
	if errors.As(err, &retrieve) {
		if retrieve.Response != nil && retrieve.Response.StatusCode >= 500 {
			return ReasonUnavailable
		}
		return ReasonInvalid
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) {
		return ReasonUnavailable
	}
	var oidcErr *oidc.Error
	if errors.As(err, &oidcErr) {
		return ReasonInvalid
	}
	return ReasonInvalid
}
