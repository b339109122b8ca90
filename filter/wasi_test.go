//go:build !wasip1

package main

import (
	"fmt"
	"testing"
)

// TestFilterNeverCallsPollOneoff guards the filter's reach: Go's runtime
// calls WASI poll_oneoff only when its scheduler goes idle (a sleep, a
// timer, a goroutine blocked on a channel or lock), and Envoy before
// proxy-wasm-cpp-host PR #533 (Envoy 1.33 and the releases after it that
// lack #533) answers ENOSYS, after which the runtime aborts and the VM dies.
// The filter never idles its scheduler, so it runs there; a change that
// makes it idle (time.Sleep, a background goroutine, a blocking channel)
// fails here rather than in production on those Envoys. The workload covers
// what the filter does at run time: syncs and ticks, session lookups with
// cache churn and expiry, quota reservations, rate limiting, local replies,
// and enough garbage for many collections.
func TestFilterNeverCallsPollOneoff(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putAPI(keylessAPIJSON)
	const keys = 300
	for i := range keys {
		sc.putKey(fmt.Sprintf("key-%d", i), session(`"rate":1000000,"per":1,"quota_max":-1`))
	}
	sc.putKey("quota-key", session(`"quota_max":1000000,"quota_renewal_rate":3600`))
	// A cache of 50 sessions for 300 keys: lookups, evictions and refills all
	// the time, with a short TTL so cached sessions are fetched again.
	h := start(t, sc.srv.URL, 2, `,"session_cache":{"size":50,"ttl_ms":200},"negative_cache_ttl_ms":100`)

	for i := range 6000 {
		var o outcome
		switch i % 6 {
		case 0, 1, 2:
			o = do(t, h, request("/api1/x", fmt.Sprintf("key-%d", i%keys)))
		case 3:
			o = do(t, h, request("/api1/x", "quota-key"))
		case 4:
			o = do(t, h, request("/api1/x", fmt.Sprintf("unknown-%d", i)))
		case 5:
			o = do(t, h, request("/open/x", ""))
		}
		if o.status == 503 {
			t.Fatalf("request %d: 503 %s after %d poll_oneoff calls (WASI mode %s; VM 0: %v, VM 1: %v)",
				i, o.body, h.PollOneoffCalls(), wasiMode, h.VM(0).Err(), h.VM(1).Err())
		}
		if i%500 == 0 {
			syncNow(t, h) // ticks: sync polls, metric flushes, sweeps
		}
	}
	syncNow(t, h)
	if n := h.PollOneoffCalls(); n != 0 {
		t.Fatalf("filter.wasm called poll_oneoff %d times (WASI mode %s); on Envoy without proxy-wasm-cpp-host PR #533 the first call kills the VM", n, wasiMode)
	}
	for i := range h.NumVMs() {
		if err := h.VM(i).Err(); err != nil {
			t.Fatalf("VM %d died: %v", i, err)
		}
	}
}
