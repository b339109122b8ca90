package plugin

import "runtime"

// finishMarking lets a garbage collection that is marking run to its end,
// on every tick (gc.go explains why its background workers otherwise never
// run in this reactor). A cycle started by an allocation advances only
// through the assists of later allocations; the warm path allocates
// nothing, so such a cycle stayed open indefinitely, and while it is open
// every pointer write in the VM goes through the write barrier: measured
// in the decision benchmark (wasmhost's profiler), 40 barrier-buffer
// flushes and 48 bulk barriers per request with analytics on, about a
// third more guest calls per request. Yielding once lets the runtime
// schedule its mark worker, which drains the work and terminates the
// cycle; with no cycle open it returns at once.
func finishMarking() {
	runtime.Gosched()
}
