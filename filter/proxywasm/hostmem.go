package proxywasm

import (
	"math"
	"unsafe"
)

// bytesView lets a byte slice be passed where a host function takes
// (pointer, size) as a Go string. It does not copy: the host only reads the
// bytes during the call, and nothing mutates them meanwhile.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// hostBytes resolves an (address, size) result the host wrote through
// out-parameters. The address must lie in memory proxy_on_memory_allocate
// handed out during this callback; anything else is reported as
// ErrInvalidMemoryAccess instead of being dereferenced.
func hostBytes(addr, size uint32) ([]byte, error) {
	if size == 0 {
		return nil, nil // hosts may skip the allocation for empty results
	}
	b, ok := vm.mem.slice(uintptr(addr), size)
	if !ok {
		return nil, ErrInvalidMemoryAccess
	}
	return b, nil
}

// scratch returns n bytes of arena memory for serializing an argument, or
// ErrBadArgument if the argument is too large to pass to the host.
func scratch(n int) ([]byte, error) {
	if n > math.MaxInt32 {
		return nil, ErrBadArgument
	}
	b := vm.mem.alloc(n)
	if b == nil {
		return nil, ErrBadArgument
	}
	return b, nil
}

// encodeHeaders serializes h into arena memory.
func encodeHeaders(h [][2]string) (string, error) {
	b, err := scratch(headerMapSize(h))
	if err != nil {
		return "", err
	}
	encodeHeaderMap(b, h)
	return bytesView(b), nil
}

// int32Arg converts a caller's int to an ABI i32, rejecting what does not fit.
func int32Arg(v int) (int32, error) {
	if v < 0 || v > math.MaxInt32 {
		return 0, ErrBadArgument
	}
	return int32(v), nil
}
