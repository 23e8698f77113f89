package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"latchkey/auth"
)

// unreachableStore is a store whose backend cannot be reached.
type unreachableStore struct{ auth.SessionStore }

func (unreachableStore) Ping(context.Context) error {
	return errors.Join(auth.ErrStoreUnavailable, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"))
}

// TestReadyReportsTheStore: /readyz is not ready while the session store
// cannot be reached, and says so, without the store's error text.
func TestReadyReportsTheStore(t *testing.T) {
	h := newLimitsApp(t, unreachableStore{auth.NewMemoryStore(nil)}, 0, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "session store: cannot be reached") {
		t.Errorf("/readyz = %d %q, want 503 naming the session store", rec.Code, body)
	}
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "refused") {
		t.Errorf("/readyz shows the store's error text: %q", body)
	}
}
