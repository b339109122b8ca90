package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// gatewayCompare (-compare BASE.wasm) measures two builds of the filter
// against each other on the gateway: each round loads, one after the
// other, the no-op filter, then for each configuration (warm keys, and
// warm keys with analytics) the base build and the candidate (-wasm).
// Interleaving makes both see the same machine, which on a shared one
// matters more than anything else; medians over the rounds are printed.
// The report file is not written.
func gatewayCompare(ctx context.Context, e *env, o gatewayOpts, base, cand, noop string, rounds int) error {
	warm, err := e.createKeys(ctx, "cmp-warm", o.keys, keySession(`"rate":1000000000,"per":1,"quota_max":-1`))
	if err != nil {
		return err
	}
	cfgs := map[string]string{"default": "", "analytics": `,"analytics":{"enabled":true}`}
	files := map[string]string{}
	for name, extra := range cfgs {
		f := e.dir + "/compare-" + name + ".json"
		if err := os.WriteFile(f, []byte(filterConfig(extra)), 0o644); err != nil {
			return err
		}
		files[name] = f
	}
	type target struct{ name, wasm, cfg string }
	targets := []target{{"no-op filter", noop, "default"}}
	for _, cfg := range []string{"default", "analytics"} {
		targets = append(targets, target{"base " + cfg, base, cfg}, target{"candidate " + cfg, cand, cfg})
	}
	results := map[string][]gatewayRow{}
	for r := range rounds {
		for _, t := range targets {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			p, err := startProc(ctx, e.dir, "compare-"+strings.ReplaceAll(t.name, " ", "-"), addr, e.binDir+"/turnpike-gateway",
				"--listen", addr, "--wasm", t.wasm, "--upstream", e.upstreamURL, "--workers", strconv.Itoa(o.workers),
				"--log-level", "warn", "--plugin-config", files[t.cfg], "--cluster", "turnpike-sidecar="+e.sidecarURL)
			if err != nil {
				return err
			}
			row, err := loadOne(ctx, e, addr, []int{p.pid()}, "/bench/items", warm, o, true)
			p.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if row.Non200 > 0 || row.Errors > 0 {
				return fmt.Errorf("%s: %d non-200, %d errors", t.name, row.Non200, row.Errors)
			}
			results[t.name] = append(results[t.name], row)
			logf("compare round %d: %-22s %8.0f req/s  CPU/req %v", r+1, t.name, row.RPS, row.CPUPerReq)
		}
	}
	med := func(name string, f func(gatewayRow) float64) float64 {
		var v []float64
		for _, row := range results[name] {
			v = append(v, f(row))
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	rps := func(r gatewayRow) float64 { return r.RPS }
	cpu := func(r gatewayRow) float64 { return float64(r.CPUPerReq) / float64(time.Microsecond) }
	noopRPS, noopCPU := med("no-op filter", rps), med("no-op filter", cpu)
	fmt.Printf("| gateway (median of %d interleaved rounds) | req/s | vs no-op | CPU/request | above no-op |\n|---|---|---|---|---|\n", rounds)
	for _, t := range targets {
		r, c := med(t.name, rps), med(t.name, cpu)
		fmt.Printf("| %s | %.0f | %.0f%% | %.0f µs | %+.0f µs |\n", t.name, r, 100*r/noopRPS, c, c-noopCPU)
	}
	for _, who := range []string{"base", "candidate"} {
		fmt.Printf("%s: analytics on / off = %.0f%%\n", who, 100*med(who+" analytics", rps)/med(who+" default", rps))
	}
	return nil
}
