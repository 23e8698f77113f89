package auth

import (
	"context"
	"errors"
	"net"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Reason says, in the user's terms, why an exchange with the provider (a
// login, a refresh, a userinfo read) could not be finished.
type Reason int

const (
	// ReasonInvalid: the callback or the provider's answer failed a check.
	ReasonInvalid Reason = iota
	// ReasonRefused: the provider, or the user at the provider, said no.
	ReasonRefused
	// ReasonUnavailable: the provider could not be reached, failed or timed out.
	ReasonUnavailable
)

// ProviderError is an exchange with the provider that could not be
// finished: a login's callback, a refresh or a userinfo read. Err holds the
// detail for the log; it must never be shown to the user.
type ProviderError struct {
	Reason Reason
	Err    error
}

func (e *ProviderError) Error() string { return e.Err.Error() }
func (e *ProviderError) Unwrap() error { return e.Err }

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
