//go:build wasip1 && turnpike_bench

package main

import (
	"runtime"
	"runtime/metrics"

	"github.com/turnpike-dev/turnpike/filter/internal/plugin"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// This file is compiled only into the benchmark build of the filter
// (-tags turnpike_bench, see bench_test.go); filter.wasm never contains it.
// At the start of every tick it publishes, as gauges, the guest's malloc
// count (turnpike.bench.guest_mallocs), so a benchmark can count the
// allocations the filter makes per request inside the VM, which the host's
// allocs/op cannot see; and the heap marked live by the last collection
// (turnpike.bench.heap_live_bytes), so a benchmark can tell the bytes the
// filter keeps (its caches) from the garbage that only raises the
// high-water mark of linear memory; and the bytes the SDK's host-memory
// arena keeps (turnpike.bench.arena_bytes), live heap no plugin structure
// accounts for.
//
// Under load it forces no collection, so it does not change the memory it
// measures; but a collection the runtime finished by allocation assists
// counts as live everything allocated while it marked, so the live heap
// read under load varies with when that collection ran. At the first tick
// with no stream since the previous one (the load paused, as the memory
// scenario does at each sample) it runs one collection first, and the live
// heap it publishes then is what the VM keeps.
//
// Its init must run after main.go's so that it replaces the registration:
// Go runs the init functions of a package's files in the order the files
// are given to the compiler, which the go command sorts by name (main.go
// before main_bench.go). The benchmarks fail when the gauge is missing, so a
// rename cannot silently turn it off.
func init() { proxywasm.SetVMContext(benchVM{plugin.VM{}}) }

type benchVM struct{ proxywasm.VMContext }

func (v benchVM) NewPluginContext(id uint32) proxywasm.PluginContext {
	return &benchRoot{PluginContext: v.VMContext.NewPluginContext(id)}
}

type benchRoot struct {
	proxywasm.PluginContext
	mallocs, live, arena                  proxywasm.MetricGauge
	reported, reportedLive, reportedArena int64
	// streams counts the streams created, streamsAtTick their number at
	// the last tick; idleCollected: the idle collection ran since the
	// last stream.
	streams, streamsAtTick uint64
	idleCollected          bool
}

func (r *benchRoot) NewHttpContext(id uint32) proxywasm.HttpContext {
	r.streams++
	return r.PluginContext.NewHttpContext(id)
}

func (r *benchRoot) OnPluginStart(size int) bool {
	r.mallocs = proxywasm.DefineGaugeMetric("turnpike.bench.guest_mallocs")
	r.live = proxywasm.DefineGaugeMetric("turnpike.bench.heap_live_bytes")
	r.arena = proxywasm.DefineGaugeMetric("turnpike.bench.arena_bytes")
	return r.PluginContext.OnPluginStart(size)
}

func (r *benchRoot) OnTick() {
	idle := r.streams == r.streamsAtTick
	if idle && !r.idleCollected {
		runtime.GC()
	}
	r.idleCollected = idle
	r.streamsAtTick = r.streams
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r.mallocs.Add(int64(m.Mallocs) - r.reported)
	r.reported = int64(m.Mallocs)
	metrics.Read(liveSample[:])
	live := int64(liveSample[0].Value.Uint64())
	r.live.Add(live - r.reportedLive)
	r.reportedLive = live
	arena := int64(proxywasm.ArenaBytes())
	r.arena.Add(arena - r.reportedArena)
	r.reportedArena = arena
	r.PluginContext.OnTick()
}

var liveSample = [...]metrics.Sample{{Name: "/gc/heap/live:bytes"}}
