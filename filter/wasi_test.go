//go:build !wasip1

package main

import (
	"fmt"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// TestFilterNeverIdlesItsScheduler guards the filter's reach on Envoys
// without proxy-wasm-cpp-host PR #533, where WASI poll_oneoff answers ENOSYS
// and Go's runtime dies on it. The filter's own code must never make the
// scheduler idle (a sleep, a timer, a goroutine blocked on a channel or lock):
// such a change fails here, as a blocking poll_oneoff, rather than in
// production. The workload covers what the filter does at run time: syncs and
// ticks, session lookups with cache churn and expiry, quota reservations, rate
// limiting, local replies, and enough garbage for many collections.
//
// It also measures what the filter cannot avoid: once a runtime timer (Go's
// background scavenger) has started the network poller, every collection's
// start-the-world polls it without waiting (runtime.startTheWorldWithSema ->
// netpoll(0) -> poll_oneoff). That happens under this workload after about
// 2,500 requests and is fatal without #533 — why envoy/README.md asks for it —
// so in the envoy-1.33 WASI mode, where it kills the VM, the workload is not
// run.
func TestFilterNeverIdlesItsScheduler(t *testing.T) {
	if wasiMode == wasmhost.WASIEnvoy133 {
		t.Skip("envoy-1.33 mode: the Go runtime's own non-blocking poll_oneoff at GC kills the VM under this workload (envoy/README.md, Minimum Envoy version)")
	}
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
	if n := h.BlockingPollOneoffCalls(); n != 0 {
		t.Fatalf("filter.wasm's scheduler went idle %d times (blocking poll_oneoff); on Envoy without proxy-wasm-cpp-host PR #533 the first one kills the VM", n)
	}
	t.Logf("non-blocking poll_oneoff (the runtime's netpoll(0) at GC): %d", h.PollOneoffCalls())
	for i := range h.NumVMs() {
		if err := h.VM(i).Err(); err != nil {
			t.Fatalf("VM %d died: %v", i, err)
		}
	}
}
