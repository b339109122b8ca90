package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The Gaps text for the warm path and the gateway reads this run's
// measurements: host calls, the profiled split of the gateway's CPU and the
// cold-cache benchmark.
func TestGapsWarmPathAndGateway(t *testing.T) {
	bench := func(name string, m map[string]float64) goBench { return goBench{Name: name, N: 1, Metrics: m} }
	r := &report{
		opts:    &options{},
		machine: machine{CPUs: 2},
		vm: []goBench{
			bench("Decision/noop-floor", map[string]float64{"p50-ns": 2600, "ns/op": 3200, "guest-allocs/op": 0}),
			bench("Decision/warm-rate-limit", map[string]float64{"p50-ns": 14000, "ns/op": 17000, "p99-ns": 50000,
				"host-calls/op": 8, "host-allocs/op": 2}),
		},
		cold: []goBench{
			bench("ColdCache/noop-floor/warm-caches", map[string]float64{"decision-ns/op": 3800}),
			bench("ColdCache/noop-floor/cold-caches", map[string]float64{"decision-ns/op": 6900}),
			bench("ColdCache/warm-rate-limit/warm-caches", map[string]float64{"decision-ns/op": 22600}),
			bench("ColdCache/warm-rate-limit/cold-caches", map[string]float64{"decision-ns/op": 51100}),
		},
		gateway: []gatewayRow{
			{Name: rowNoop, RPS: 10000, CPUPerReq: 90 * time.Microsecond, ProfiledCPU: 100 * time.Microsecond, GuestCPU: 11 * time.Microsecond, SyscallCPU: 21 * time.Microsecond},
			{Name: rowWarm, RPS: 7000, CPUPerReq: 150 * time.Microsecond, ProfiledCPU: 170 * time.Microsecond, GuestCPU: 59 * time.Microsecond, SyscallCPU: 30 * time.Microsecond},
		},
	}
	var out strings.Builder
	r.gaps(func(f string, a ...any) { fmt.Fprintf(&out, f, a...) })
	for _, want := range []string{
		"8 host calls per warm request", "2 of which the host answers",
		"70% of the no-op filter's", "59 µs per request in `runtime._ExternalCode`", "against 11 µs",
		"48 µs of the 70 µs", "System calls took 9 µs more (30 µs against\n21 µs per request", "3.5x section 1's mean with filter.wasm, 3.4x with the\nno-op filter", "6.9 µs instead of 3.8 µs", "51.1 µs instead of 22.6 µs",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Gaps lack %q:\n%s", want, out.String())
		}
	}
}
