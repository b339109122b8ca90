package wasmhost_test

import (
	"os"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// Linear memory never shrinks, so its size is the guest heap's high-water mark: after a warm-up
// it must stay flat while a filter that allocates on every request keeps running. The normal
// suite runs 100,000 requests; TURNPIKE_LONG=1 runs 1,000,000.
func TestMemoryStaysFlat(t *testing.T) {
	requests := 100_000
	if os.Getenv("TURNPIKE_LONG") == "1" {
		requests = 1_000_000
	}
	const warmup = 20_000
	h := newHost(t, "bench", wasmhost.Config{PluginConfig: []byte("alloc")})
	vm := h.VM(0)
	headers := get("/memory", [2]string{"user-agent", "wasmhost-test"}, [2]string{"x-api-key", "0123456789abcdef"})
	var afterWarmup uint32
	for i := range requests {
		s := vm.NewStream()
		if r := s.RequestHeaders(headers, true); r.Action != wasmhost.ActionContinue {
			t.Fatalf("request %d: %+v (VM err %v)", i, r, vm.Err())
		}
		s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, true)
		s.Close()
		if i == warmup-1 {
			afterWarmup = vm.MemorySize()
		}
	}
	end := vm.MemorySize()
	t.Logf("%d requests: linear memory %d bytes (%d pages) after %d, %d bytes (%d pages) at the end",
		requests, afterWarmup, afterWarmup/65536, warmup, end, end/65536)
	if end != afterWarmup {
		t.Fatalf("linear memory grew from %d to %d bytes", afterWarmup, end)
	}
}
