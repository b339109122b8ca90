package plugin

import "runtime/debug"

// finishMarking ends a garbage collection that is marking, at the end of
// every tick (gc.go explains why its background workers otherwise never
// run in this reactor). A cycle started by an allocation advances only
// through the assists of later allocations; the warm path allocates
// nothing, so such a cycle stayed open until enough garbage came along,
// and while it is open every pointer write in the VM goes through the
// write barrier. Measured in the decision benchmark with analytics on
// (wasmhost's profiler): about 100 barrier calls per request, reusing a
// stream's context (clearing its pointers) the largest.
//
// Turning the collector off waits for a cycle in progress to finish its
// marking (runtime/debug.SetGCPercent with a negative value returns with
// no collection running; the VM's goroutine blocks, so the runtime's idle
// mark worker does the work), and the old setting is put back at once. It
// starts no new cycle, and with none open it returns at once.
func finishMarking() {
	debug.SetGCPercent(debug.SetGCPercent(-1))
}
