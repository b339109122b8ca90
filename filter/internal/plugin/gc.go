package plugin

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
)

// Go's collector paces a cycle with background mark workers, goroutines
// that in a wasip1 reactor only run when the plugin's goroutine yields,
// which it never does between host callbacks. Under steady load a VM's
// cycles then advance on allocation assists alone and the heap overshoots
// its GOGC goal many times over; since linear memory never shrinks, the
// overshoot is paid for the VM's lifetime. Before this collection was
// added, the memory run of `make bench` (BENCHMARKS.md §4: 100,000 keys
// through the default 10,000-entry session cache) measured about 345 MiB of
// linear memory per VM for a live heap of about 30 MiB.
//
// collectIfBehind, run on every tick, finishes the job between requests:
// when the heap has reached the goal the runtime set for it, a collection
// is overdue, and it runs one. While the runtime keeps up, it costs one
// runtime/metrics read per tick.
func collectIfBehind() bool {
	rtmetrics.Read(gcSamples[:])
	goal, heap := gcSamples[0].Value, gcSamples[1].Value
	if goal.Kind() != rtmetrics.KindUint64 || heap.Kind() != rtmetrics.KindUint64 || heap.Uint64() < goal.Uint64() {
		return false
	}
	runtime.GC()
	return true
}

var gcSamples = [...]rtmetrics.Sample{
	{Name: "/gc/heap/goal:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept dead objects
}

// tuneGC sets the VM's GOGC from the live heap, on every tick: a cycle
// lets the heap grow by half its live size, or by minHeadroom (2 MiB) when
// that is more, up to GOGC=100, the default. Linear memory is the heap's
// high-water mark, about live + headroom, paid for the VM's lifetime; with
// a live heap of several MiB (a full session cache) GOGC=100 would double
// it, while collecting more often costs little CPU (the live heap is
// small). Measured with BenchmarkSessionCacheMemory (1,000,000 requests
// over 1,000 keys): 13.5 MiB of linear memory with a minimum headroom of 4
// MiB, 11.5 with 2 MiB or 1 MiB. A heap under 2 MiB keeps the default: a
// lower GOGC there would also lower the runtime's minimum heap goal (4 MiB
// at GOGC=100) below what the heap has used and start its scavenger, whose
// timer is fatal on Envoys without proxy-wasm-cpp-host PR #533
// (envoy/README.md); a fixed GOGC=50 did that in the filter's envoy-1.33
// test mode.
func tuneGC() {
	rtmetrics.Read(liveSamples[:])
	v := liveSamples[0].Value
	if v.Kind() != rtmetrics.KindUint64 || v.Uint64() == 0 {
		return
	}
	if p := gcPercentFor(v.Uint64()); p != gcPercent {
		debug.SetGCPercent(p)
		gcPercent = p
	}
}

// gcPercentFor is the GOGC for a live heap of live bytes (> 0).
func gcPercentFor(live uint64) int {
	p := int(100 * max(live/2, minHeadroom) / live)
	return min(max(p, 50), 100)
}

// minHeadroom is the heap growth tuneGC always allows.
const minHeadroom = 2 << 20

// gcPercent is the GOGC tuneGC last set (100: the runtime's default).
var gcPercent = 100

var liveSamples = [...]rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
