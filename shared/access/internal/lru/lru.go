// Package lru is a small least-recently-used cache. It is not safe for
// concurrent use; callers hold their own lock.
package lru

import "container/list"

// Cache maps keys to values and holds at most its capacity, evicting the
// least recently used entry first.
type Cache[K comparable, V any] struct {
	capacity int
	order    *list.List // front = most recently used; elements hold *entry[K, V]
	items    map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
}

// New returns a cache holding at most capacity entries (at least 1).
func New[K comparable, V any](capacity int) *Cache[K, V] {
	capacity = max(capacity, 1)
	return &Cache[K, V]{capacity: capacity, order: list.New(), items: make(map[K]*list.Element, capacity)}
}

// Get returns the value for key and marks it recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry[K, V]).value, true
}

// Add stores value under key, evicting the least recently used entry when
// the cache is full.
func (c *Cache[K, V]) Add(key K, value V) {
	if el, ok := c.items[key]; ok {
		el.Value.(*entry[K, V]).value = value
		c.order.MoveToFront(el)
		return
	}
	if c.order.Len() >= c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*entry[K, V]).key)
	}
	c.items[key] = c.order.PushFront(&entry[K, V]{key: key, value: value})
}

// Len returns the number of cached entries.
func (c *Cache[K, V]) Len() int { return c.order.Len() }
