package devidp

// capped is a map that holds at most limit entries: adding one more drops
// the oldest, by insertion order. Anyone can make the provider store
// things (an authorization request needs no sign-in), so everything it
// stores is counted. Entries are read, ranged over and deleted through m
// directly; order may still name deleted keys, which add skips.
type capped[K comparable, V any] struct {
	m     map[K]V
	order []K // insertion order, oldest first
	limit int
}

func newCapped[K comparable, V any](limit int) *capped[K, V] {
	return &capped[K, V]{m: make(map[K]V), limit: limit}
}

// add stores v under k, first dropping the oldest entries beyond the
// limit; dropped is told about each.
func (c *capped[K, V]) add(k K, v V, dropped func(K, V)) {
	if _, ok := c.m[k]; ok {
		c.m[k] = v
		return
	}
	for len(c.m) >= c.limit && len(c.order) > 0 {
		oldest := c.order[0]
		c.order = c.order[1:]
		if old, ok := c.m[oldest]; ok {
			delete(c.m, oldest)
			if dropped != nil {
				dropped(oldest, old)
			}
		}
	}
	if len(c.order) >= 2*c.limit {
		// Most of order names deleted entries: keep only the live ones.
		live := make([]K, 0, len(c.m)+1)
		for _, key := range c.order {
			if _, ok := c.m[key]; ok {
				live = append(live, key)
			}
		}
		c.order = live
	}
	c.order = append(c.order, k)
	c.m[k] = v
}
