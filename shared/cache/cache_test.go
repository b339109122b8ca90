package cache

import (
	"slices"
	"strconv"
	"testing"
)

func TestLRU(t *testing.T) {
	const forever = int64(1) << 62
	type op struct {
		do   string // put, get, del
		key  string
		val  int
		dl   int64
		now  int64
		want int // for get: value, or -1 for a miss
	}
	for _, tc := range []struct {
		name string
		cap  int
		ops  []op
		keys []string // final order, most recent first
	}{
		{"evicts least recently used", 2, []op{
			{do: "put", key: "a", val: 1, dl: forever},
			{do: "put", key: "b", val: 2, dl: forever},
			{do: "get", key: "a", want: 1},
			{do: "put", key: "c", val: 3, dl: forever},
			{do: "get", key: "b", want: -1},
			{do: "get", key: "c", want: 3},
		}, []string{"c", "a"}},
		{"deadline expires", 4, []op{
			{do: "put", key: "a", val: 1, dl: 100},
			{do: "get", key: "a", now: 99, want: 1},
			{do: "get", key: "a", now: 100, want: -1},
		}, []string{}},
		{"put replaces value and deadline", 2, []op{
			{do: "put", key: "a", val: 1, dl: 10},
			{do: "put", key: "a", val: 2, dl: 20},
			{do: "get", key: "a", now: 15, want: 2},
		}, []string{"a"}},
		{"delete frees a slot", 2, []op{
			{do: "put", key: "a", val: 1, dl: forever},
			{do: "put", key: "b", val: 2, dl: forever},
			{do: "del", key: "a"},
			{do: "put", key: "c", val: 3, dl: forever},
			{do: "get", key: "b", want: 2},
		}, []string{"b", "c"}},
		{"capacity below one is one", 0, []op{
			{do: "put", key: "a", val: 1, dl: forever},
			{do: "put", key: "b", val: 2, dl: forever},
			{do: "get", key: "a", want: -1},
		}, []string{"b"}},
		{"put of a present key updates in place, no eviction", 2, []op{
			{do: "put", key: "a", val: 1, dl: forever},
			{do: "put", key: "b", val: 2, dl: forever},
			{do: "put", key: "a", val: 10, dl: forever},
			{do: "get", key: "b", want: 2},
			{do: "get", key: "a", want: 10},
		}, []string{"a", "b"}},
		{"NoDeadline never expires", 2, []op{
			{do: "put", key: "a", val: 1, dl: NoDeadline},
			{do: "get", key: "a", now: NoDeadline - 1, want: 1},
		}, []string{"a"}},
		{"delete of an absent key changes nothing", 2, []op{
			{do: "put", key: "a", val: 1, dl: forever},
			{do: "del", key: "b"},
			{do: "get", key: "a", want: 1},
		}, []string{"a"}},
	} {
		c := New[int](tc.cap)
		for _, o := range tc.ops {
			switch o.do {
			case "put":
				c.Put(o.key, o.val, o.dl)
			case "del":
				c.Delete(o.key)
			case "get":
				v, ok := c.Get(o.key, o.now)
				if (o.want < 0) == ok || ok && v != o.want {
					t.Errorf("%s: Get(%s) = %d, %v; want %d", tc.name, o.key, v, ok, o.want)
				}
			}
		}
		if got := c.Keys(); !slices.Equal(got, tc.keys) {
			t.Errorf("%s: keys %v, want %v", tc.name, got, tc.keys)
		}
	}
}

func TestLRUBoundedUnderChurn(t *testing.T) {
	c := New[int](100)
	for i := range 10000 {
		c.Put(strconv.Itoa(i), i, 1<<62)
	}
	if c.Len() != 100 || len(c.nodes) != 100 {
		t.Fatalf("len %d, nodes %d; want 100", c.Len(), len(c.nodes))
	}
	for i := 9900; i < 10000; i++ {
		if v, ok := c.Get(strconv.Itoa(i), 0); !ok || v != i {
			t.Fatalf("recent key %d missing", i)
		}
	}
	c.Clear()
	if c.Len() != 0 || len(c.Keys()) != 0 {
		t.Fatal("Clear left entries")
	}
	c.Put("x", 1, 1<<62)
	if v, ok := c.Get("x", 0); !ok || v != 1 {
		t.Fatal("cache unusable after Clear")
	}
}

func TestPutSteadyStateDoesNotAllocate(t *testing.T) {
	c := New[int](16)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		c.Put(keys[i], i, 1<<62)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		c.Put(keys[i%64], i, 1<<62)
		i++
	})
	if allocs > 0 {
		t.Fatalf("Put allocates %.1f times in steady state", allocs)
	}
}

func TestLRUSized(t *testing.T) {
	type put struct {
		key  string
		size int
	}
	for _, tc := range []struct {
		name      string
		cap, max  int
		puts      []put
		keys      []string // most recent first
		wantBytes int
	}{
		{"bytes evict before entries", 10, 100, []put{{"a", 40}, {"b", 40}, {"c", 40}}, []string{"c", "b"}, 80},
		{"one large entry evicts several", 10, 100, []put{{"a", 30}, {"b", 30}, {"c", 30}, {"d", 80}}, []string{"d"}, 80},
		{"entries evict before bytes", 2, 1000, []put{{"a", 1}, {"b", 1}, {"c", 1}}, []string{"c", "b"}, 2},
		{"an entry over the bound is kept alone", 10, 100, []put{{"a", 10}, {"b", 500}}, []string{"b"}, 500},
		{"growing in place evicts the others", 10, 100, []put{{"a", 40}, {"b", 40}, {"a", 90}}, []string{"a"}, 90},
		{"shrinking in place frees bytes", 10, 100, []put{{"a", 90}, {"a", 10}, {"b", 80}}, []string{"b", "a"}, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewSized[int](tc.cap, tc.max)
			for _, p := range tc.puts {
				c.PutSized(p.key, 0, NoDeadline, p.size)
			}
			if got := c.Keys(); !slices.Equal(got, tc.keys) {
				t.Errorf("keys %v, want %v", got, tc.keys)
			}
			if c.Bytes() != tc.wantBytes {
				t.Errorf("bytes %d, want %d", c.Bytes(), tc.wantBytes)
			}
			for _, k := range tc.keys {
				c.Delete(k)
			}
			if c.Bytes() != 0 || c.Len() != 0 {
				t.Errorf("after deleting everything: %d bytes, %d entries", c.Bytes(), c.Len())
			}
		})
	}
}
