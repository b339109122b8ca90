package proxywasm

import "unsafe"

// arena hands out the memory the host writes call results into
// (proxy_on_memory_allocate) and the scratch space used to serialize
// arguments. It is grow-only within one exported callback and reset when the
// outermost callback starts, so steady-state traffic allocates nothing: a
// make([]byte) per host result would cost ~0.3–0.6 µs each and feed the GC.
//
// Keeping every block reachable from the arena also closes a hazard of the
// naive allocator: a block the host has been given but whose address Go has
// not yet seen could otherwise be collected by a GC triggered by a second
// allocation within the same host call.
//
// Slices handed out are only valid until the next reset.
type arena struct {
	// chunks holds every block allocated since the last reset; the last one
	// is the one being filled. Earlier chunks stay referenced because slices
	// into them may still be in use.
	chunks [][]byte
	off    int // first free byte of the last chunk
}

const (
	arenaAlign = 8
	// arenaMinChunk is the first chunk's size: typical request headers and
	// small callout bodies fit without growing.
	arenaMinChunk = 4 << 10
	// arenaRetainMax bounds what reset keeps: one large body must not pin
	// memory for the lifetime of the VM (wasm memory never shrinks, but Go can
	// reuse freed spans for other objects).
	arenaRetainMax = 1 << 20
	// arenaMaxAlloc refuses absurd requests: in Go's wasm port an allocation
	// the heap cannot satisfy is a fatal "out of memory" throw, which recover
	// cannot catch, whereas returning 0 from proxy_on_memory_allocate just
	// fails the one host call.
	arenaMaxAlloc = 256 << 20
)

// alloc returns n bytes (not zeroed: every caller overwrites them) aligned to
// arenaAlign, or nil if n is negative or above arenaMaxAlloc. A zero-size
// request still gets a distinct non-nil address, because the host treats
// address 0 as allocation failure.
func (a *arena) alloc(n int) []byte {
	if n < 0 || n > arenaMaxAlloc {
		return nil
	}
	need := n
	if need == 0 {
		need = 1
	}
	if len(a.chunks) == 0 || a.off+need > len(a.chunks[len(a.chunks)-1]) {
		a.grow(need)
	}
	c := a.chunks[len(a.chunks)-1]
	start := a.off
	a.off = alignUp(start + need)
	if a.off > len(c) {
		a.off = len(c)
	}
	// The capacity limit keeps an append on the result from overwriting the
	// next allocation; it is need, not n, so a zero-size result still has a
	// byte of capacity and therefore a well-defined address.
	return c[start : start+n : start+need]
}

func (a *arena) grow(need int) {
	size := arenaMinChunk
	if len(a.chunks) > 0 {
		size = 2 * len(a.chunks[len(a.chunks)-1])
	}
	for size < need {
		size *= 2
	}
	a.chunks = append(a.chunks, make([]byte, size))
	a.off = 0
}

// reset makes all memory reusable. If the last callback needed several
// chunks, they are replaced by one chunk as large as all of them together
// (bounded by arenaRetainMax), so the same workload fits in one chunk next
// time.
func (a *arena) reset() {
	a.off = 0
	if len(a.chunks) <= 1 {
		if len(a.chunks) == 1 && len(a.chunks[0]) > arenaRetainMax {
			a.chunks[0] = nil
			a.chunks = a.chunks[:0]
		}
		return
	}
	total := 0
	for i, c := range a.chunks {
		total += len(c)
		a.chunks[i] = nil
	}
	a.chunks = a.chunks[:0]
	if total > arenaRetainMax {
		total = arenaRetainMax
	}
	a.chunks = append(a.chunks, make([]byte, total))
}

// slice returns the size bytes at address addr if they lie inside memory this
// arena handed out, and false otherwise. The host reports results as bare
// addresses; checking them here instead of converting them to pointers means
// a confused host yields an error, not a read of arbitrary memory or a
// "found bad pointer in Go heap" crash in the garbage collector.
func (a *arena) slice(addr uintptr, size uint32) ([]byte, bool) {
	for _, c := range a.chunks {
		if len(c) == 0 {
			continue
		}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(c)))
		if addr < base || addr-base > uintptr(len(c)) {
			continue
		}
		off := int(addr - base)
		if uint64(size) > uint64(len(c)-off) {
			return nil, false
		}
		return c[off : off+int(size) : off+int(size)], true
	}
	return nil, false
}

// addr is the address the host must be given for b (b from alloc).
func addrOf(b []byte) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
}

func alignUp(n int) int {
	return (n + arenaAlign - 1) &^ (arenaAlign - 1)
}
