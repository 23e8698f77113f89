package auth_test

import (
	"testing"

	"latchkey/auth"
	"latchkey/auth/storetest"
)

func BenchmarkSessionsLoad(b *testing.B) {
	storetest.BenchmarkLoad(b, auth.NewMemoryStore(nil))
}
