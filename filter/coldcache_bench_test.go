//go:build !wasip1

package main

import (
	"context"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/loadgen"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// BenchmarkColdCache is BenchmarkDecision's floor and warm key with the
// CPU caches cold: before each request (outside its timing) the benchmark
// writes a buffer larger than this machine's per-core L2 cache, as the
// gateway's HTTP handling, the load generator, the upstream and the other VM
// do between two requests of one VM under load. In the gateway the guest
// code of both the no-op filter and the filter costs 3.5-4x what
// BenchmarkDecision measures (BENCHMARKS.md, Gaps); this benchmark shows how
// much of that is the caches rather than what load changes in the filter.
//
//	go test -run '^$' -bench BenchmarkColdCache ./filter/
func BenchmarkColdCache(b *testing.B) {
	sc := newFakeSidecar(b)
	sc.putAPI(apiJSON)
	sc.putKey("warm-key", session(`"rate":1000000000,"per":1`))
	noop, err := wasmhost.New(context.Background(), wasmhost.Config{WasmFile: benchWasm(b, "testdata/noop")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = noop.Close(context.Background()) })
	filter := startBench(b, sc, "", false)
	thrash := make([]byte, 4<<20)
	for _, tc := range []struct {
		name string
		h    *wasmhost.Host
		cold bool
	}{
		{"noop-floor/warm-caches", noop, false},
		{"noop-floor/cold-caches", noop, true},
		{"warm-rate-limit/warm-caches", filter, false},
		{"warm-rate-limit/cold-caches", filter, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			vm, hdrs := tc.h.VM(0), request("/api1/x", "warm-key")
			for range 100 {
				if got := decide(b, vm, hdrs); got != 200 {
					b.Fatalf("status %d", got)
				}
			}
			var lat loadgen.Histogram
			var spent time.Duration
			for i := range b.N {
				if tc.cold {
					for j := 0; j < len(thrash); j += 64 {
						thrash[j] = byte(i)
					}
				}
				t0 := time.Now()
				decide(b, vm, hdrs)
				d := time.Since(t0)
				lat.Record(d)
				spent += d
			}
			b.ReportMetric(float64(lat.Quantile(0.5).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "decision-ns/op")
		})
	}
}
