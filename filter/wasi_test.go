//go:build !wasip1

package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestFilterNeverCallsPollOneoff guards the filter's reach on Envoys without
// proxy-wasm-cpp-host PR #533 (Envoy 1.33 and later releases with cpp-host
// PR #427 only), where WASI poll_oneoff answers ENOSYS and Go's runtime dies
// on it ("fatal error: poll_oneoff failed"). It runs in both WASI modes of
// the host and fails on the first poll_oneoff call, blocking or not.
//
// Go's runtime calls poll_oneoff in two cases: its scheduler goes idle (a
// sleep, a timer, a goroutine blocked on a channel or lock), and, once any
// Go timer has ever been armed, at every garbage collection
// (runtime.(*timers).addHeap starts the network poller for good, and
// runtime.startTheWorldWithSema then calls netpoll(0), a non-blocking
// poll_oneoff). So the filter must never arm a timer, not even one it stops
// at once: crypto/rand's first read does (crypto/internal/sysrand.Read arms
// a one-minute warning with time.AfterFunc), which is why newVMID does not
// use it. Before that fix (crypto/rand read at proxy_on_configure) this
// workload made 10 poll_oneoff calls in the cpp-host mode with the default
// GOGC, and with GOGC=25 this test fails at its first request in both modes
// (in envoy-1.33 the VM is dead by then).
//
// The workload covers what the filter does at run time: syncs and ticks
// (with their overdue collections), session lookups with cache churn and
// expiry, unknown keys, quota reservations, rate limiting, keyless APIs,
// local replies, and collections on every VM (GOGC=25 makes them frequent),
// which the test counts (GODEBUG=gctrace=1 prints one stderr line per
// collection): a check without collections would prove nothing.
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
	h := startEnv(t, sc.srv.URL, 2, `,"session_cache":{"size":50,"ttl_ms":200},"negative_cache_ttl_ms":100`,
		map[string]string{"GODEBUG": "gctrace=1", "GOGC": "25"})

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
		if n := h.PollOneoffCalls(); n != 0 || o.status == 503 {
			t.Fatalf("request %d (status %d %s): filter.wasm made %d poll_oneoff calls (%d blocking) in WASI mode %s; "+
				"on Envoy without proxy-wasm-cpp-host PR #533 the first one kills the VM (VM 0: %v, VM 1: %v)",
				i, o.status, o.body, n, h.BlockingPollOneoffCalls(), wasiMode, h.VM(0).Err(), h.VM(1).Err())
		}
		if i%500 == 0 {
			syncNow(t, h) // ticks: sync polls, metric flushes, sweeps, overdue collections
		}
	}
	syncNow(t, h)
	if n := h.PollOneoffCalls(); n != 0 {
		t.Fatalf("filter.wasm made %d poll_oneoff calls during the last tick (WASI mode %s)", n, wasiMode)
	}
	gcs := make([]int, h.NumVMs())
	for _, e := range h.Logs() {
		if e.Source == "stderr" && strings.HasPrefix(e.Message, "gc ") {
			gcs[e.VM]++
		}
	}
	for i, n := range gcs {
		if err := h.VM(i).Err(); err != nil {
			t.Fatalf("VM %d died: %v", i, err)
		}
		// A timer armed at any time makes every later collection poll; a
		// few collections per VM spread over the run exercise that.
		if n < 3 {
			t.Fatalf("VM %d ran %d garbage collections; the workload must run at least 3 per VM to test anything (collections per VM: %v)", i, n, gcs)
		}
	}
	t.Logf("WASI mode %s: no poll_oneoff in 6,000 requests; collections per VM: %v", wasiMode, gcs)
}
