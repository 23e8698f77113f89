package auth_test

import (
	"testing"

	"latchkey/auth"
	"latchkey/auth/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, clock *storetest.Clock) auth.SessionStore {
		return auth.NewMemoryStore(clock.Now)
	}, storetest.Options{})
}
