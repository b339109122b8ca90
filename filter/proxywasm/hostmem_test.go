package proxywasm

import (
	"errors"
	"strings"
	"testing"
)

// A host reports every result as a bare (address, size) pair. hostBytes must
// turn an address the module never handed out into ErrInvalidMemoryAccess —
// the error the plugin's getter returns — rather than dereference it. A real
// host never does this, so it is tested here, natively; that addresses
// inside the arena resolve to the right bytes is arena.slice's test
// (TestArenaSliceValidatesHostAddresses), since on a 64-bit test machine no
// Go address fits the ABI's 32 bits.
func TestHostBytesRejectsAddressesTheModuleNeverAllocated(t *testing.T) {
	saved := vm
	vm = newVMState()
	t.Cleanup(func() { vm = saved })
	// The host has been given a block this callback: the check must look at
	// the address, not merely at whether anything was allocated.
	block := vm.mem.alloc(16)
	copy(block, "0123456789abcdef")

	type hostResult struct {
		name       string
		addr, size uint32
	}
	bad := []hostResult{
		{"low address the module never allocated", 8, 5},
		{"null address", 0, 4},
	}
	if a := addrOf(block); uintptr(uint32(a)) != a {
		// A host that truncates a 64-bit address (wasm64 confusion) lands
		// somewhere the arena does not own.
		bad = append(bad, hostResult{"truncated arena address", uint32(a), 16})
	}
	for _, r := range bad {
		got, err := hostBytes(r.addr, r.size)
		if !errors.Is(err, ErrInvalidMemoryAccess) || got != nil {
			t.Errorf("%s: hostBytes(%#x, %d) = %q, %v; want ErrInvalidMemoryAccess", r.name, r.addr, r.size, got, err)
		}
	}
	if msg := ErrInvalidMemoryAccess.Error(); !strings.Contains(msg, "invalid memory access") {
		t.Errorf("the plugin would log %q", msg)
	}

	// An empty result needs no allocation, so its address is not checked.
	if got, err := hostBytes(8, 0); got != nil || err != nil {
		t.Errorf("empty result: %q, %v", got, err)
	}
}
