package lru

import "testing"

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](2)
	c.Add("a", 1)
	c.Add("b", 2)
	if v, ok := c.Get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("Get(a) = %d, %v", v, ok)
	}
	c.Add("c", 3) // evicts b
	if _, ok := c.Get("b"); ok {
		t.Fatal("b survived eviction")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := c.Get(k); !ok || v != want {
			t.Fatalf("Get(%s) = %d, %v; want %d", k, v, ok, want)
		}
	}
	c.Add("c", 30) // update in place, no eviction
	if v, _ := c.Get("c"); v != 30 || c.Len() != 2 {
		t.Fatalf("after update: c=%d len=%d", v, c.Len())
	}
}

func TestCapacityAtLeastOne(t *testing.T) {
	c := New[int, int](0)
	for i := range 10 {
		c.Add(i, i)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
	if v, ok := c.Get(9); !ok || v != 9 {
		t.Fatalf("Get(9) = %d, %v", v, ok)
	}
}
