// Package cache is a bounded least-recently-used map whose entries also
// expire at a deadline. The filter keeps sessions and "unknown key" entries
// in it; the bound is what keeps a flood of random keys from growing the VM's
// memory, which never shrinks. Package access keeps compiled regexes in it,
// with NoDeadline.
//
// Entries live in one slice linked by indices, so steady-state use (a full
// cache replacing its oldest entries) allocates nothing but map growth: the
// filter's VM pays for every allocation in GC time.
package cache

import "math"

// NoDeadline is a deadline no time reaches: an entry put with it leaves the
// cache only by eviction, Delete or Clear.
const NoDeadline int64 = math.MaxInt64

// LRU is a bounded LRU cache with per-entry deadlines. It is not safe for
// concurrent use: a proxy-wasm VM is single-threaded, other callers hold
// their own lock (Get reorders entries, so even lookups need it).
type LRU[V any] struct {
	index      map[string]int32
	nodes      []node[V]
	head, tail int32 // most and least recently used; -1 when empty
	free       int32 // first free node; -1 when none
	cap        int
	// maxBytes bounds the sum of the sizes given to PutSized (0: no bound);
	// bytes is that sum.
	maxBytes, bytes int
}

type node[V any] struct {
	key        string
	val        V
	deadline   int64 // unix nanoseconds; the entry is gone at or after it
	prev, next int32
	size       int32 // as given to PutSized
}

// New returns a cache holding at most capacity entries (at least 1).
func New[V any](capacity int) *LRU[V] {
	capacity = max(capacity, 1)
	return &LRU[V]{
		index: make(map[string]int32, min(capacity, 1024)),
		head:  -1, tail: -1, free: -1,
		cap: capacity,
	}
}

// NewSized returns a cache holding at most capacity entries whose sizes
// (as given to PutSized) add up to at most maxBytes: whichever bound is
// reached first evicts the least recently used entries. The caller defines
// an entry's size, typically an estimate of the memory it holds.
func NewSized[V any](capacity, maxBytes int) *LRU[V] {
	c := New[V](capacity)
	c.maxBytes = max(maxBytes, 0)
	return c
}

// Bytes reports the sum of the sizes of the entries present.
func (c *LRU[V]) Bytes() int { return c.bytes }

// Len reports the number of entries, expired ones included until they are
// looked up or evicted.
func (c *LRU[V]) Len() int { return len(c.index) }

// Get returns the entry for key if it exists and now is before its
// deadline, and marks it most recently used. An expired entry is removed.
func (c *LRU[V]) Get(key string, now int64) (V, bool) {
	i, ok := c.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	n := &c.nodes[i]
	if now >= n.deadline {
		c.remove(key, i)
		var zero V
		return zero, false
	}
	c.unlink(i)
	c.pushFront(i)
	return n.val, true
}

// Put stores v under key until deadline (unix nanoseconds), evicting the
// least recently used entry when the cache is full. Its size is 0.
func (c *LRU[V]) Put(key string, v V, deadline int64) { c.PutSized(key, v, deadline, 0) }

// PutSized is Put for an entry of size bytes (see NewSized). An entry
// larger than the whole bound is still stored, alone.
func (c *LRU[V]) PutSized(key string, v V, deadline int64, size int) {
	size = max(0, min(size, math.MaxInt32))
	if i, ok := c.index[key]; ok {
		n := &c.nodes[i]
		c.bytes += size - int(n.size)
		n.val, n.deadline, n.size = v, deadline, int32(size)
		c.unlink(i)
		c.pushFront(i)
		c.shrink(i)
		return
	}
	if len(c.index) >= c.cap {
		c.remove(c.nodes[c.tail].key, c.tail)
	}
	c.bytes += size
	c.shrink(-1)
	var i int32
	if c.free >= 0 {
		i = c.free
		c.free = c.nodes[i].next
	} else {
		c.nodes = append(c.nodes, node[V]{})
		i = int32(len(c.nodes) - 1)
	}
	c.nodes[i] = node[V]{key: key, val: v, deadline: deadline, size: int32(size)}
	c.index[key] = i
	c.pushFront(i)
}

// shrink evicts least recently used entries other than keep while the
// sizes exceed maxBytes.
func (c *LRU[V]) shrink(keep int32) {
	for c.maxBytes > 0 && c.bytes > c.maxBytes && c.tail >= 0 && c.tail != keep {
		c.remove(c.nodes[c.tail].key, c.tail)
	}
}

// Delete removes key; it reports whether it was present.
func (c *LRU[V]) Delete(key string) bool {
	i, ok := c.index[key]
	if ok {
		c.remove(key, i)
	}
	return ok
}

// Clear removes every entry.
func (c *LRU[V]) Clear() {
	clear(c.index)
	c.nodes = c.nodes[:0]
	c.bytes = 0
	c.head, c.tail, c.free = -1, -1, -1
}

// Keys returns the keys present (expired ones included), most recently used
// first.
func (c *LRU[V]) Keys() []string {
	out := make([]string, 0, len(c.index))
	for i := c.head; i >= 0; i = c.nodes[i].next {
		out = append(out, c.nodes[i].key)
	}
	return out
}

func (c *LRU[V]) remove(key string, i int32) {
	delete(c.index, key)
	c.bytes -= int(c.nodes[i].size)
	c.unlink(i)
	var zero V
	c.nodes[i] = node[V]{val: zero, next: c.free, prev: -1} // drop references for the GC
	c.free = i
}

func (c *LRU[V]) unlink(i int32) {
	n := &c.nodes[i]
	if n.prev >= 0 {
		c.nodes[n.prev].next = n.next
	} else {
		c.head = n.next
	}
	if n.next >= 0 {
		c.nodes[n.next].prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (c *LRU[V]) pushFront(i int32) {
	n := &c.nodes[i]
	n.prev, n.next = -1, c.head
	if c.head >= 0 {
		c.nodes[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}
