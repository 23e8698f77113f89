package auth

import (
	"sync"
	"time"
)

// What Sessions remembers from one request to the next, so that the many
// requests of one signed-in browser cost little: the cookies it opened,
// and the sessions it recorded as used.

// openedCookies remembers the session cookies opened lately and the key of
// the session each names, so that the requests of a session do not verify
// and decrypt the same cookie again and again. An entry is trusted for
// openedFor: a cookie that passes its max age meanwhile names a session
// that has passed its own, which the store refuses.
type openedCookies struct {
	mu   sync.Mutex
	keys map[string]openedCookie // by sealed cookie value
}

type openedCookie struct {
	key   string
	until time.Time
}

const (
	openedFor         = time.Minute
	openedCookiesKept = 1024
)

// key returns the session key of a cookie value opened lately.
func (o *openedCookies) key(value string, now time.Time) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.keys[value]
	if !ok || !now.Before(c.until) {
		return "", false
	}
	return c.key, true
}

// remember notes that value, just opened, names the session under key.
func (o *openedCookies) remember(value, key string, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		o.keys = make(map[string]openedCookie)
	}
	if len(o.keys) >= openedCookiesKept {
		for v := range o.keys { // one, at random
			delete(o.keys, v)
			break
		}
	}
	o.keys[value] = openedCookie{key: key, until: now.Add(openedFor)}
}

// touches remembers which sessions this process has touched within the
// last touchInterval.
type touches struct {
	mu    sync.Mutex
	at    map[string]time.Time
	limit int // prune when the map grows to this size
}

// claim reports whether the caller should touch the session under key: no
// other request of this process has within touchInterval of now.
func (t *touches) claim(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.at[key]; ok && now.Sub(at) < touchInterval && !now.Before(at) {
		return false
	}
	if t.at == nil {
		t.at = make(map[string]time.Time)
	}
	if len(t.at) >= t.limit {
		for k, at := range t.at {
			if now.Sub(at) >= touchInterval || now.Before(at) {
				delete(t.at, k)
			}
		}
		// Pruning again only once the map has doubled keeps it cheap.
		t.limit = max(1024, 2*len(t.at))
	}
	t.at[key] = now
	return true
}

// release forgets a claim whose touch failed, so the next request tries.
func (t *touches) release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.at, key)
}
