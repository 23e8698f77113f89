package boltstore

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer runs the store's single-record writes. Each write transaction
// costs two fsyncs, so the writes that arrive while one transaction is
// being committed share the next one: under load, many requests share each
// fsync, and a write on its own waits for nothing. (bbolt's own Batch
// makes every write wait a fixed delay for company.)
type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*write
	running bool
}

// write is one caller's change, and where its outcome goes.
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// update runs fn in a write transaction, possibly shared with other
// writes. fn may run more than once, when another write in its
// transaction fails, so it must set its results afresh on each run.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	if !c.running {
		c.running = true
		go c.commitQueued()
	}
	c.mu.Unlock()
	return <-w.done
}

// commitQueued commits the queued writes, a transaction at a time, until
// none are left.
func (c *committer) commitQueued() {
	for {
		c.mu.Lock()
		writes := c.queue
		c.queue = nil
		if len(writes) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.commit(writes)
	}
}

// commit runs writes in one transaction. When one of them fails, that
// transaction is rolled back: the failing write gets its error and each of
// the others runs again in a transaction of its own.
func (c *committer) commit(writes []*write) {
	failed := -1
	err := c.db.Update(func(tx *bolt.Tx) error {
		for i, w := range writes {
			if err := w.fn(tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if err == nil || failed < 0 || len(writes) == 1 {
		for _, w := range writes {
			w.done <- err
		}
		return
	}
	for i, w := range writes {
		if i == failed {
			w.done <- err
			continue
		}
		w.done <- c.db.Update(w.fn)
	}
}
