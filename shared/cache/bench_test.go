package cache

import (
	"strconv"
	"testing"
)

// The filter's steady state: a full cache, hits on warm keys, and misses that
// replace the least recently used entry. Both must report 0 allocs/op.

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
}

func BenchmarkGetHit(b *testing.B) {
	keys := benchKeys(1024)
	c := New[int](len(keys))
	for i, k := range keys {
		c.Put(k, i, 1<<62)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := c.Get(keys[i%len(keys)], 0); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkPutEvict(b *testing.B) {
	keys := benchKeys(4096)
	c := New[int](1024)
	for i, k := range keys {
		c.Put(k, i, 1<<62)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Put(keys[i%len(keys)], i, 1<<62)
	}
}
