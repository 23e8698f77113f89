package auth

import "sync"

// Cache remembers values by key, at most a fixed number of them, keeping
// those used most recently. It is safe for concurrent use.
//
// It keeps two generations: new entries go to the current one, and when
// that is full it becomes the previous one and the oldest generation is
// dropped. An entry found in the previous generation moves back to the
// current one, so an entry used again before half the capacity of other
// entries arrive is never dropped.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	half     int
	cur, old map[K]V
}

// NewCache returns an empty Cache holding at most capacity entries; a
// capacity below two counts as two.
func NewCache[K comparable, V any](capacity int) *Cache[K, V] {
	half := max(1, capacity/2)
	return &Cache[K, V]{half: half, cur: make(map[K]V, half)}
}

// Get returns the value remembered for key.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[key]; ok {
		return v, true
	}
	v, ok := c.old[key]
	if ok {
		delete(c.old, key)
		c.put(key, v)
	}
	return v, ok
}

// Put remembers value for key, in place of any value it had.
func (c *Cache[K, V]) Put(key K, value V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.old, key)
	c.put(key, value)
}

// Remove forgets key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, key)
	delete(c.old, key)
}

// Len says how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

func (c *Cache[K, V]) put(key K, value V) {
	if _, ok := c.cur[key]; !ok && len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[K]V, c.half)
	}
	c.cur[key] = value
}
