package proxywasm

import (
	"testing"
	"unsafe"
)

func TestArenaAllocAlignedAndDisjoint(t *testing.T) {
	var a arena
	sizes := []int{0, 1, 7, 8, 9, 100, 0, 3000, 5000, arenaMinChunk * 3}
	var got [][]byte
	for _, n := range sizes {
		b := a.alloc(n)
		if b == nil || len(b) != n {
			t.Fatalf("alloc(%d) = len %d, nil=%v", n, len(b), b == nil)
		}
		if addrOf(b)%arenaAlign != 0 {
			t.Fatalf("alloc(%d) at %#x, not %d-aligned", n, addrOf(b), arenaAlign)
		}
		for i := range b {
			b[i] = byte(len(got) + 1)
		}
		got = append(got, b)
	}
	// Every block still holds its own fill: no two blocks overlap, even
	// across chunk growth.
	for i, b := range got {
		for _, c := range b {
			if c != byte(i+1) {
				t.Fatalf("block %d (size %d) was overwritten", i, sizes[i])
			}
		}
	}
	// Zero-size blocks get distinct, non-zero addresses: 0 means failure to
	// the host.
	if addrOf(got[0]) == 0 || addrOf(got[0]) == addrOf(got[6]) {
		t.Fatalf("zero-size blocks share address %#x", addrOf(got[0]))
	}
}

func TestArenaAllocCapacityIsBounded(t *testing.T) {
	var a arena
	first := a.alloc(3)
	second := a.alloc(8)
	second[0] = 'S'
	_ = append(first, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x')
	if second[0] != 'S' {
		t.Fatal("append on one block overwrote the next")
	}
}

func TestArenaRefusesInvalidSizes(t *testing.T) {
	var a arena
	for _, n := range []int{-1, arenaMaxAlloc + 1} {
		if b := a.alloc(n); b != nil {
			t.Errorf("alloc(%d) returned %d bytes", n, len(b))
		}
	}
}

func TestArenaResetConsolidatesAndBounds(t *testing.T) {
	var a arena
	a.alloc(arenaMinChunk)
	a.alloc(arenaMinChunk)
	a.alloc(arenaMinChunk * 4)
	if len(a.chunks) < 2 {
		t.Fatalf("expected growth to several chunks, have %d", len(a.chunks))
	}
	total := 0
	for _, c := range a.chunks {
		total += len(c)
	}
	a.reset()
	if len(a.chunks) != 1 || len(a.chunks[0]) != total {
		t.Fatalf("after reset: %d chunks, first %d bytes; want one chunk of %d", len(a.chunks), len(a.chunks[0]), total)
	}

	a.alloc(arenaRetainMax * 2)
	a.reset()
	for _, c := range a.chunks {
		if len(c) > arenaRetainMax {
			t.Fatalf("reset kept a %d-byte chunk, limit %d", len(c), arenaRetainMax)
		}
	}
	a.reset()
	if b := a.alloc(10); b == nil {
		t.Fatal("alloc after repeated resets failed")
	}
}

// In steady state the per-callback cycle (reset, then serve the host's
// allocations) must not touch the Go heap; avoiding that is the arena's
// reason to exist.
func TestArenaSteadyStateDoesNotAllocate(t *testing.T) {
	var a arena
	cycle := func() {
		a.reset()
		for _, n := range []int{24, 300, 1500, 16} {
			a.alloc(n)
		}
	}
	cycle()
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("steady-state callback cycle allocates %.1f times", allocs)
	}
}

func TestArenaSliceValidatesHostAddresses(t *testing.T) {
	var a arena
	b := a.alloc(16)
	copy(b, "0123456789abcdef")
	base := addrOf(b)
	chunk := a.chunks[0]
	end := uintptr(unsafe.Pointer(unsafe.SliceData(chunk))) + uintptr(len(chunk))
	var outside [16]byte

	tests := []struct {
		name string
		addr uintptr
		size uint32
		want string
		ok   bool
	}{
		{"whole block", base, 16, "0123456789abcdef", true},
		{"inner range", base + 4, 3, "456", true},
		{"empty at chunk end", end, 0, "", true},
		{"runs past chunk", end - 2, 3, "", false},
		{"size overflow", base, 0xffffffff, "", false},
		{"before chunk", base - 1, 1, "", false},
		{"unrelated memory", uintptr(unsafe.Pointer(&outside[0])), 4, "", false},
		{"null", 0, 4, "", false},
	}
	for _, tc := range tests {
		got, ok := a.slice(tc.addr, tc.size)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("%s: slice = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
