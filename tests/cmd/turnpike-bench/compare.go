package main

import (
	"context"
	"fmt"
	"os"
	"slices"
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
// The report file is not written. With a profile directory each gateway
// runs with --pprof and a CPU profile of a second window of the same load, after the measured one, is written
// there as <target>-r<round>.pprof (e.g. go tool pprof -top -diff_base
// DIR/no-op-filter-r1.pprof DIR/candidate-default-r1.pprof).
func gatewayCompare(ctx context.Context, e *env, o gatewayOpts, c compareOpts) error {
	base, cand, noop, rounds := c.base, c.cand, c.noop, c.rounds
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
	compared := []string{"default"}
	if c.analytics {
		compared = append(compared, "analytics")
	}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return err
		}
	}
	for _, cfg := range compared {
		targets = append(targets, target{"base " + cfg, base, cfg}, target{"candidate " + cfg, cand, cfg})
	}
	results := map[string][]gatewayRow{}
	for r := range rounds {
		for _, t := range roundOrder(targets, r) {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			args := []string{"--listen", addr, "--wasm", t.wasm, "--upstream", e.upstreamURL, "--workers", strconv.Itoa(o.workers),
				"--log-level", "warn", "--plugin-config", files[t.cfg], "--cluster", "turnpike-sidecar=" + e.sidecarURL}
			lo := o
			if c.profileDir != "" {
				if lo.pprofAddr, err = freeAddr(); err != nil {
					return err
				}
				lo.cpuProfile = fmt.Sprintf("%s/%s-r%d.pprof", c.profileDir, strings.ReplaceAll(t.name, " ", "-"), r+1)
				args = append(args, "--admin-listen", lo.pprofAddr, "--pprof")
				if c.guestProfile {
					args = append(args, "--guest-profile", strings.TrimSuffix(lo.cpuProfile, ".pprof")+".guest.pb.gz")
				}
			}
			p, err := startProc(ctx, e.dir, "compare-"+strings.ReplaceAll(t.name, " ", "-"), addr, e.binDir+"/turnpike-gateway", args...)
			if err != nil {
				return err
			}
			row, err := loadOne(ctx, e, addr, []int{p.pid()}, "/bench/items", warm, lo, true)
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
		if !c.analytics {
			break
		}
		fmt.Printf("%s: analytics on / off = %.0f%%\n", who, 100*med(who+" analytics", rps)/med(who+" default", rps))
	}
	return nil
}

// roundOrder is the order of round r: every other round runs the targets
// backwards (no-op, base, candidate, then candidate, base, no-op), so that
// neither build always runs after the other; on a shared machine the load
// drifts within a round.
func roundOrder[T any](targets []T, r int) []T {
	out := append([]T(nil), targets...)
	if r%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// compareOpts are -compare's: the two builds, the no-op filter, rounds, and
// where to write CPU profiles ("" = none).
type compareOpts struct {
	base, cand, noop string
	rounds           int
	profileDir       string
	guestProfile     bool
	analytics        bool
}
