//go:build turnpike_bench

package proxywasm

// ArenaBytes reports the bytes the arena (arena.go) holds: what it keeps
// between callbacks is live heap that no plugin structure accounts for. Only
// in the filter's benchmark build (-tags turnpike_bench), which publishes it
// as a gauge.
func ArenaBytes() int {
	n := 0
	for _, c := range vm.mem.chunks {
		n += len(c)
	}
	return n
}
