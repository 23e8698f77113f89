package auth

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheRemembers(t *testing.T) {
	c := NewCache[string, int](8)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an empty cache has a value")
	}
	c.Put("a", 1)
	c.Put("a", 2)
	if v, ok := c.Get("a"); !ok || v != 2 {
		t.Fatalf("Get(a) = %d, %v; want 2, the value put last", v, ok)
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len = %d after putting one key twice, want 1", n)
	}
	c.Remove("a")
	if _, ok := c.Get("a"); ok {
		t.Error("a removed key still has a value")
	}
}

func TestCacheStaysBounded(t *testing.T) {
	for _, capacity := range []int{2, 3, 8, 1024} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			c := NewCache[int, int](capacity)
			for i := range 10 * capacity {
				c.Put(i, i)
				if n := c.Len(); n > capacity {
					t.Fatalf("%d entries after %d puts, want at most %d", n, i+1, capacity)
				}
			}
			// The newest entries are the ones kept.
			last := 10*capacity - 1
			if v, ok := c.Get(last); !ok || v != last {
				t.Errorf("the newest entry is gone: %d, %v", v, ok)
			}
			if _, ok := c.Get(0); ok {
				t.Error("the oldest entry is still there")
			}
		})
	}
}

func TestCacheKeepsWhatIsUsed(t *testing.T) {
	c := NewCache[int, string](8)
	c.Put(-1, "hot")
	// A stream of other entries, with the hot one used every few of them.
	for i := range 100 {
		c.Put(i, "cold")
		if i%3 == 0 {
			if v, ok := c.Get(-1); !ok || v != "hot" {
				t.Fatalf("after %d other entries the entry used every third one is gone", i+1)
			}
		}
	}
	if n := c.Len(); n > 8 {
		t.Errorf("%d entries, want at most 8", n)
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	c := NewCache[int, int](64)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := (w*1000 + i) % 200
				c.Put(k, k)
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
				if i%7 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Errorf("%d entries, want at most 64", n)
	}
}
