package devidp

import (
	"slices"
	"testing"
)

func TestCappedDropsOldest(t *testing.T) {
	c := newCapped[int, string](3)
	var dropped []int
	drop := func(k int, _ string) { dropped = append(dropped, k) }
	for i := range 5 {
		c.add(i, "v", drop)
	}
	if len(c.m) != 3 {
		t.Fatalf("len = %d, want 3", len(c.m))
	}
	if !slices.Equal(dropped, []int{0, 1}) {
		t.Errorf("dropped %v, want [0 1]", dropped)
	}
	for _, k := range []int{2, 3, 4} {
		if _, ok := c.m[k]; !ok {
			t.Errorf("entry %d missing", k)
		}
	}
}

func TestCappedSkipsDeletedEntries(t *testing.T) {
	c := newCapped[int, string](3)
	var dropped []int
	drop := func(k int, _ string) { dropped = append(dropped, k) }
	c.add(1, "a", drop)
	c.add(2, "b", drop)
	c.add(3, "c", drop)
	delete(c.m, 1) // used up, say
	c.add(4, "d", drop)
	if len(dropped) != 0 {
		t.Fatalf("dropped %v while there was room", dropped)
	}
	c.add(5, "e", drop)
	if !slices.Equal(dropped, []int{2}) {
		t.Errorf("dropped %v, want [2]: the oldest live entry", dropped)
	}
}

func TestCappedOrderStaysBounded(t *testing.T) {
	c := newCapped[int, int](4)
	for i := range 10000 {
		c.add(i, i, nil)
		delete(c.m, i) // every entry is used right away
	}
	if len(c.order) > 2*c.limit+1 {
		t.Errorf("order holds %d keys for a limit of %d", len(c.order), c.limit)
	}
}

func TestCappedReplaceDropsNothing(t *testing.T) {
	c := newCapped[string, int](2)
	c.add("a", 1, nil)
	c.add("b", 2, nil)
	c.add("a", 3, func(k string, _ int) { t.Errorf("replacing a dropped %s", k) })
	if len(c.m) != 2 || c.m["a"] != 3 || len(c.order) != 2 {
		t.Fatalf("map = %v, order %v; want a=3 and b, each once", c.m, c.order)
	}
}
