package handlers

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// The most a form post may send. latchkey's own forms carry one CSRF
// token of 43 characters, so 4 KB leaves room for any browser's extras. A
// back-channel logout token is a signed JWT, one or two kilobytes even with
// a 4096-bit RSA signature (683 characters of it); 16 KB leaves room for a
// provider that adds claims of its own.
const (
	formLimit        = 4 << 10
	logoutTokenLimit = 16 << 10
)

var (
	errFormType     = errors.New("form body is not application/x-www-form-urlencoded")
	errFormTooLarge = errors.New("form body too large")
	errFormBroken   = errors.New("form body cannot be parsed")
)

// readForm is the first thing to touch the body of a route that takes a
// form. It accepts only application/x-www-form-urlencoded (a post with an
// empty body may have no type), reads at most limit bytes of it and parses
// it, so what runs after finds the form parsed and never parses a body of
// its own: a multipart body, whose files net/http would spool to disk, is
// refused before a byte of it is read. refuse answers a body readForm
// will not take: 415 for another type, 413 above limit, 400 for a form
// that cannot be parsed.
func readForm(limit int64, refuse func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := parseForm(w, r, limit); err != nil {
				refuse(w, r, fmt.Errorf("read form: %w", err))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func parseForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mediaType, _, err := mime.ParseMediaType(ct); err != nil || mediaType != "application/x-www-form-urlencoded" {
			return fmt.Errorf("%w: %q", errFormType, ct)
		}
	} else if r.ContentLength != 0 {
		return fmt.Errorf("%w: a body without a Content-Type", errFormType)
	}
	if r.ContentLength > limit {
		return fmt.Errorf("%w: Content-Length %d, limit %d", errFormTooLarge, r.ContentLength, limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("%w: over %d bytes", errFormTooLarge, limit)
		}
		return fmt.Errorf("%w: %w", errFormBroken, err)
	}
	return nil
}
