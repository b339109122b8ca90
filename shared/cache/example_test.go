package cache_test

import (
	"fmt"

	"github.com/turnpike-dev/turnpike/shared/cache"
)

func ExampleLRU() {
	c := cache.New[string](2)
	c.Put("a", "alpha", 100) // valid until t=100
	c.Put("b", "beta", 100)
	c.Get("a", 10)           // a is now the most recently used
	c.Put("c", "gamma", 100) // evicts b
	_, okB := c.Get("b", 10)
	v, okA := c.Get("a", 10)
	_, late := c.Get("a", 100) // expired
	fmt.Println(okB, v, okA, late)
	// Output: false alpha true false
}
