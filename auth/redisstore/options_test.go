package redisstore

import (
	"runtime"
	"testing"
)

// TestPoolSize: the URL's pool_size wins; without it the pool has at least
// 100 connections, and go-redis's 10 per CPU where that is more.
func TestPoolSize(t *testing.T) {
	opts, err := clientOptions("redis://localhost:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.PoolSize < 100 || opts.PoolSize < 10*runtime.GOMAXPROCS(0) {
		t.Errorf("PoolSize = %d by default, want at least 100 and at least 10 per CPU", opts.PoolSize)
	}
	opts, err = clientOptions("redis://localhost:6379/0?pool_size=7")
	if err != nil {
		t.Fatal(err)
	}
	if opts.PoolSize != 7 {
		t.Errorf("PoolSize = %d with pool_size=7", opts.PoolSize)
	}
}
