package boltstore

import (
	"sync"
	"sync/atomic"

	"latchkey/auth"
)

// memo remembers decoded sessions and the users' lists of them, so that
// the requests of a signed-in browser neither open a read transaction nor
// decode a record: a page view reads its session, and the dashboard the
// user's list too. Only one process can have the file open (bbolt locks
// it), so every write to it goes through this Store, which forgets what
// each write touched once it is committed: an ended session is never
// answered from memory.
//
// A read that misses fills the memo with what its transaction saw, unless
// a write was committed since the read began: that transaction may have
// seen the record as it was before the write. gen counts the writes
// forgotten; a reader takes it before beginning its transaction, and its
// fill is dropped when it has moved on.
type memo struct {
	gen atomic.Uint64
	// mu orders fills and forgets, so that no fill of an old generation
	// lands after a forget.
	mu       sync.Mutex
	sessions *auth.Cache[string, *auth.Session]
	lists    *auth.Cache[string, []*auth.Session]
}

const (
	// sessionsKept bounds the sessions remembered; each holds its record,
	// about 3 KB with its sealed tokens: some 3 MB in all.
	sessionsKept = 1024
	// listsKept bounds the users whose lists of sessions are remembered:
	// with auth.MaxSessionsPerUser sessions each, at most some 6 MB.
	listsKept = 64
)

func newMemo() *memo {
	return &memo{
		sessions: auth.NewCache[string, *auth.Session](sessionsKept),
		lists:    auth.NewCache[string, []*auth.Session](listsKept),
	}
}

// session returns a copy of the session remembered under key.
func (m *memo) session(key string) (*auth.Session, bool) {
	sess, ok := m.sessions.Get(key)
	if !ok {
		return nil, false
	}
	c := *sess
	return &c, true
}

// list returns copies of the sessions remembered for subject.
func (m *memo) list(subject string) ([]*auth.Session, bool) {
	list, ok := m.lists.Get(subject)
	if !ok {
		return nil, false
	}
	return copies(list), true
}

// copies returns a copy of each session in list: callers own what the
// store returns, and may change it.
func copies(list []*auth.Session) []*auth.Session {
	out := make([]*auth.Session, len(list))
	all := make([]auth.Session, len(list))
	for i, sess := range list {
		all[i] = *sess
		out[i] = &all[i]
	}
	return out
}

// fillSession remembers sess, read under key by a transaction begun at
// generation gen; nil (no record, or a damaged one) is not remembered.
func (m *memo) fillSession(gen uint64, key string, sess *auth.Session) {
	if sess == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen.Load() == gen {
		c := *sess
		m.sessions.Put(key, &c)
	}
}

// fillList remembers list, subject's sessions as a transaction begun at
// generation gen read them.
func (m *memo) fillList(gen uint64, subject string, list []*auth.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen.Load() == gen {
		m.lists.Put(subject, copies(list))
	}
}

// forget drops what a write touched. It runs after the write's
// transaction is over, committed or not.
func (m *memo) forget(c *touched) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen.Add(1)
	for key := range c.keys {
		m.sessions.Remove(key)
	}
	for subject := range c.subjects {
		m.lists.Remove(subject)
	}
}

// touched collects the sessions a write changes or removes, and their
// users. A write that runs more than once collects for each run:
// forgetting more than was changed does no harm.
type touched struct {
	keys, subjects map[string]struct{}
}

func (c *touched) add(sess *auth.Session) {
	if c == nil {
		return
	}
	if c.keys == nil {
		c.keys, c.subjects = make(map[string]struct{}), make(map[string]struct{})
	}
	c.keys[sess.Key] = struct{}{}
	c.subjects[sess.User.Subject] = struct{}{}
}

// addKey collects a session whose record could not be decoded: no list
// holds it, but it is forgotten all the same.
func (c *touched) addKey(key string) {
	if c == nil {
		return
	}
	if c.keys == nil {
		c.keys, c.subjects = make(map[string]struct{}), make(map[string]struct{})
	}
	c.keys[key] = struct{}{}
}
