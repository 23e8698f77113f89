package redisstore_test

import (
	"testing"

	"latchkey/auth/redisstore/redistest"
	"latchkey/auth/storetest"
)

func BenchmarkSessionsLoad(b *testing.B) {
	storetest.BenchmarkLoad(b, open(b, redistest.Start(b), nil, "bench:"))
}
