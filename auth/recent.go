package auth

import (
	"sync"
	"time"
)

// What Sessions remembers from one request to the next, so that the many
// requests of one signed-in browser cost little: the cookies it opened,
// and the sessions it recorded as used.

// openedCookie is what a session cookie, opened lately, gives: the key of
// the session it names, and the keys derived from its id. An entry is
// trusted for openedFor, so that the requests of a session do not verify
// and decrypt the same cookie again and again: a cookie that passes its
// max age meanwhile names a session that has passed its own, which the
// store refuses.
type openedCookie struct {
	key   string
	keys  *cookieKeys
	until time.Time
}

const (
	openedFor         = time.Minute
	openedCookiesKept = 1024
)

// touches remembers which sessions this process has touched within the
// last touchInterval.
type touches struct {
	mu    sync.Mutex
	at    map[string]time.Time
	limit int // prune when the map grows to this size
}

// claim reports whether the caller should touch the session under key: no
// other request of this process has within touchInterval of now, before
// or after it. A request that began a moment before the one that claimed,
// and found the session due later, is within it too.
func (t *touches) claim(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.at[key]; ok && near(now, at) {
		return false
	}
	if t.at == nil {
		t.at = make(map[string]time.Time)
	}
	if len(t.at) >= t.limit {
		for k, at := range t.at {
			if !near(now, at) {
				delete(t.at, k)
			}
		}
		// Pruning again only once the map has doubled keeps it cheap.
		t.limit = max(1024, 2*len(t.at))
	}
	t.at[key] = now
	return true
}

// near reports whether a and b are less than touchInterval apart.
func near(a, b time.Time) bool {
	return a.Sub(b) < touchInterval && b.Sub(a) < touchInterval
}

// release forgets a claim whose touch failed, so the next request tries.
func (t *touches) release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.at, key)
}
