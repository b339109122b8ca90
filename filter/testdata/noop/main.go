// Command noop is the benchmarks' floor: a proxy-wasm filter built with the
// same toolchain and bindings as filter.wasm whose HTTP callbacks all
// continue. Whatever a request costs through it is the host's and the
// bindings' share, not Turnpike's. Like the benchmark build of the filter it
// publishes the guest's malloc count as the gauge
// turnpike.bench.guest_mallocs on every tick (period one hour; hosts tick it
// on demand).
package main

import (
	"runtime"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vm{}) }

type vm struct{ proxywasm.DefaultVMContext }

func (vm) NewPluginContext(uint32) proxywasm.PluginContext { return &root{} }

type root struct {
	proxywasm.DefaultPluginContext
	mallocs  proxywasm.MetricGauge
	reported int64
}

func (r *root) OnPluginStart(int) bool {
	r.mallocs = proxywasm.DefineGaugeMetric("turnpike.bench.guest_mallocs")
	return proxywasm.SetTickPeriodMilliSeconds(3600_000) == nil
}

func (r *root) OnTick() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r.mallocs.Add(int64(m.Mallocs) - r.reported)
	r.reported = int64(m.Mallocs)
}

func (*root) NewHttpContext(uint32) proxywasm.HttpContext { return &proxywasm.DefaultHttpContext{} }
