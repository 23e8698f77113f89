package boltstore

import (
	"path/filepath"
	"testing"

	"latchkey/auth/storetest"
)

func BenchmarkSessionsLoad(b *testing.B) {
	storetest.BenchmarkLoad(b, openStore(b, filepath.Join(b.TempDir(), "sessions.db"), storetest.NewClock()))
}
