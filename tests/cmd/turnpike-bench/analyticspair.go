package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// analyticsPair (-analytics-pair) measures the cost of analytics on the
// gateway with both sides loaded at the same time: each round starts two
// gateways with the same filter (-wasm), one with analytics off and one
// with it on, and loads both at once, half of -connections each. On a
// machine shared with other work, load that comes and goes then changes
// both alike, which a comparison of runs one after the other (-compare)
// cannot ensure. Per round and as medians it prints each side's req/s and
// the proxy's CPU per request, and the ratios on / off; make bench runs one
// round for BENCHMARKS.md's analytics target.
func analyticsPair(ctx context.Context, e *env, o gatewayOpts, wasm string, rounds int) (pairResult, error) {
	keys, err := e.createKeys(ctx, "pair-warm", o.keys, keySession(`"rate":1000000000,"per":1,"quota_max":-1`))
	if err != nil {
		return pairResult{}, err
	}
	sides := []struct{ name, extra string }{{"off", ""}, {"on", `,"analytics":{"enabled":true}`}}
	var files [2]string
	for i, s := range sides {
		files[i] = e.dir + "/pair-" + s.name + ".json"
		if err := os.WriteFile(files[i], []byte(filterConfig(s.extra)), 0o644); err != nil {
			return pairResult{}, err
		}
	}
	half := o
	half.connections = max(o.connections/2, 1)
	var rps, cpu [2][]float64
	for r := range rounds {
		var rows [2]gatewayRow
		var errs [2]error
		var procs [2]*proc
		var addrs [2]string
		for i, s := range sides {
			if addrs[i], err = freeAddr(); err != nil {
				return pairResult{}, err
			}
			procs[i], err = startProc(ctx, e.dir, "pair-"+s.name, addrs[i], e.binDir+"/turnpike-gateway",
				"--listen", addrs[i], "--wasm", wasm, "--upstream", e.upstreamURL, "--workers", strconv.Itoa(o.workers),
				"--log-level", "warn", "--plugin-config", files[i], "--cluster", "turnpike-sidecar="+e.sidecarURL)
			if err != nil {
				if i == 1 {
					procs[0].stop()
				}
				return pairResult{}, err
			}
		}
		var wg sync.WaitGroup
		for i := range sides {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows[i], errs[i] = loadOne(ctx, e, addrs[i], []int{procs[i].pid()}, "/bench/items", keys, half, true)
			}()
		}
		wg.Wait()
		for i, s := range sides {
			procs[i].stop()
			if errs[i] != nil {
				return pairResult{}, fmt.Errorf("analytics %s: %w", s.name, errs[i])
			}
			if rows[i].Non200 > 0 || rows[i].Errors > 0 {
				return pairResult{}, fmt.Errorf("analytics %s: %d non-200, %d errors", s.name, rows[i].Non200, rows[i].Errors)
			}
			rps[i] = append(rps[i], rows[i].RPS)
			cpu[i] = append(cpu[i], float64(rows[i].CPUPerReq)/float64(time.Microsecond))
		}
		logf("analytics pair round %d: off %6.0f req/s CPU/req %v | on %6.0f req/s CPU/req %v | on/off %.0f%%, CPU off/on %.0f%%",
			r+1, rows[0].RPS, rows[0].CPUPerReq, rows[1].RPS, rows[1].CPUPerReq,
			100*rows[1].RPS/rows[0].RPS, 100*float64(rows[0].CPUPerReq)/float64(rows[1].CPUPerReq))
	}
	med := func(v []float64) float64 {
		v = append([]float64(nil), v...)
		sort.Float64s(v)
		return v[len(v)/2]
	}
	var ratio, cpuRatio []float64
	for r := range rounds {
		ratio = append(ratio, rps[1][r]/rps[0][r])
		cpuRatio = append(cpuRatio, cpu[0][r]/cpu[1][r])
	}
	return pairResult{Rounds: rounds, OffRPS: med(rps[0]), OnRPS: med(rps[1]), OffCPU: med(cpu[0]), OnCPU: med(cpu[1]),
		Throughput: med(ratio), CPU: med(cpuRatio)}, nil
}

// pairResult is what analyticsPair measured: medians over the rounds (CPU
// per request in µs; Throughput is on / off, CPU off / on).
type pairResult struct {
	Rounds                       int
	OffRPS, OnRPS, OffCPU, OnCPU float64
	Throughput, CPU              float64
}

func (p pairResult) print() {
	fmt.Printf("| analytics, both gateways loaded at once (median of %d rounds) | req/s | CPU/request |\n|---|---|---|\n", p.Rounds)
	fmt.Printf("| off | %.0f | %.0f µs |\n| on | %.0f | %.0f µs |\n", p.OffRPS, p.OffCPU, p.OnRPS, p.OnCPU)
	fmt.Printf("analytics on / off: throughput %.0f%% (median of the rounds' ratios), CPU per request off / on %.0f%%\n",
		100*p.Throughput, 100*p.CPU)
}
