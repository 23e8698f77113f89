package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"latchkey/auth/storetest"
)

// TestCommitterGroupsWrites: the writes that arrive while a transaction is
// being committed share the next one, and a write that fails fails alone.
func TestCommitterGroupsWrites(t *testing.T) {
	for _, failing := range []int{-1, 7} {
		t.Run(fmt.Sprintf("failing=%d", failing), func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "sessions.db"), storetest.NewClock())
			c := s.writes
			bucket := []byte(bucketClaims)

			// Hold a transaction open until the others have queued.
			started, release, first := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				first <- c.update(func(tx *bolt.Tx) error {
					close(started)
					<-release
					return tx.Bucket(bucket).Put([]byte("first"), []byte{1})
				})
			}()
			<-started
			const queued = 20
			var mu sync.Mutex
			txIDs := map[int]bool{}
			errs := make([]error, queued)
			var wg sync.WaitGroup
			for i := range queued {
				wg.Go(func() {
					errs[i] = c.update(func(tx *bolt.Tx) error {
						mu.Lock()
						txIDs[tx.ID()] = true
						mu.Unlock()
						if i == failing {
							return errors.New("this write fails")
						}
						return tx.Bucket(bucket).Put(fmt.Appendf(nil, "key-%d", i), []byte{1})
					})
				})
			}
			waitFor(t, func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return len(c.queue) == queued
			})
			close(release)
			wg.Wait()
			if err := <-first; err != nil {
				t.Fatalf("first write: %v", err)
			}

			for i, err := range errs {
				if (err != nil) != (i == failing) {
					t.Errorf("write %d: %v", i, err)
				}
			}
			err := s.db.View(func(tx *bolt.Tx) error {
				for i := range queued {
					if got := tx.Bucket(bucket).Get(fmt.Appendf(nil, "key-%d", i)); (got != nil) != (i != failing) {
						t.Errorf("key-%d stored = %v", i, got != nil)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if failing < 0 && len(txIDs) != 1 {
				t.Errorf("%d writes queued together ran in %d transactions, want 1", queued, len(txIDs))
			}
		})
	}
}

// waitFor polls until ready reports true.
func waitFor(t *testing.T, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
}
