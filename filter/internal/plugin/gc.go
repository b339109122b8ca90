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

// gcPercent is the VM's GOGC. Linear memory is the heap's high-water mark,
// about (1 + GOGC/100) times the live heap, paid for the VM's lifetime;
// the live heap is small (the session cache is bounded by
// session_cache.max_bytes), so collecting more often costs little CPU and
// saves memory in every worker.
const gcPercent = 50

// configureGC sets the VM's collector; OnPluginStart calls it.
func configureGC() { debug.SetGCPercent(gcPercent) }
