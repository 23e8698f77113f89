package boltstore

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"latchkey/auth"
	"latchkey/auth/storetest"
)

func BenchmarkSessionsLoad(b *testing.B) {
	storetest.BenchmarkLoad(b, openStore(b, filepath.Join(b.TempDir(), "sessions.db"), storetest.NewClock()))
}

// BenchmarkLoadMillion is BenchmarkLoad in a store of a million sessions,
// a large deployment's file (some hundreds of megabytes). It is a
// benchmark of its own so that asking for BenchmarkLoad does not build it.
func BenchmarkLoadMillion(b *testing.B) {
	const size = 1_000_000
	clock := storetest.NewClock()
	s := openStore(b, filepath.Join(b.TempDir(), "sessions.db"), clock)
	// Sealing tokens for a million sessions would take longer than the
	// rest together: the sessions share one sealed record, each under its
	// own key, subject and sid. Load does not open the tokens.
	model := storetest.NewSession(clock, "model")
	sessions := make([]*auth.Session, size)
	for i := range sessions {
		sess := *model
		sess.Key = fmt.Sprintf("key-%07d", i)
		sess.ProviderSID = fmt.Sprintf("sid-%07d", i)
		sess.User.Subject = fmt.Sprintf("user-%d", i%1000)
		sessions[i] = &sess
	}
	fillMany(b, s, sessions)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A prime stride visits keys all over the tree.
		i = (i + 7919) % size
		if _, err := s.Load(ctx, sessions[i].Key); err != nil {
			b.Fatalf("Load: %v", err)
		}
	}
}

// fillMany is fill for a million sessions, in key order (so records are
// appended to the end of the tree) and without an fsync per transaction:
// seconds instead of a minute.
func fillMany(tb testing.TB, s *Store, sessions []*auth.Session) {
	tb.Helper()
	if !slices.IsSortedFunc(sessions, func(x, y *auth.Session) int { return cmp.Compare(x.Key, y.Key) }) {
		tb.Fatal("fillMany wants sessions in key order")
	}
	s.db.NoSync = true
	defer func() { s.db.NoSync = false }()
	fill(tb, s, sessions)
	if err := s.db.Sync(); err != nil {
		tb.Fatalf("sync store: %v", err)
	}
}
