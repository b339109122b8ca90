package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/tests/loadgen"
)

// gatewayRow is one proxy under load.
type gatewayRow struct {
	Name     string
	RPS      float64
	P50, P99 time.Duration
	Requests int64
	Non200   int64 // answers other than 200 (must be 0: every key is valid and under its limits)
	Errors   int64
	// CPUPerReq is the proxy process's CPU time per request in the window.
	CPUPerReq time.Duration
	// RedisRTT is the sidecar's Redis round trips per request (-1: no sidecar involved).
	RedisRTT float64
}

// analyticsRow is the warm-key row with analytics.enabled.
const analyticsRow = "turnpike-gateway + filter.wasm + analytics, warm keys (rate limit)"

type gatewayOpts struct {
	connections      int
	warmup, duration time.Duration
	workers          int
	keys             int
}

// gatewayScenario loads, in turn, a plain Go reverse proxy, turnpike-gateway
// with the no-op filter, and turnpike-gateway with filter.wasm (warm keys
// with a rate limit, then keys with an exact quota), all in front of the
// same upstream.
func gatewayScenario(ctx context.Context, e *env, o gatewayOpts, filterWasm, noopWasm string) ([]gatewayRow, error) {
	warm, err := e.createKeys(ctx, "gw-warm", o.keys, keySession(`"rate":1000000000,"per":1,"quota_max":-1`))
	if err != nil {
		return nil, err
	}
	quota, err := e.createKeys(ctx, "gw-quota", o.keys, keySession(
		`"rate":1000000000,"per":1,"quota_max":1000000000000,"quota_renewal_rate":3600`))
	if err != nil {
		return nil, err
	}
	cfgFile := e.dir + "/gateway-filter.json"
	if err := os.WriteFile(cfgFile, []byte(filterConfig("")), 0o644); err != nil {
		return nil, err
	}
	// The same configuration with analytics on: every request recorded and
	// shipped to the sidecar, which aggregates it in Redis.
	analyticsFile := e.dir + "/gateway-filter-analytics.json"
	if err := os.WriteFile(analyticsFile, []byte(filterConfig(`,"analytics":{"enabled":true}`)), 0o644); err != nil {
		return nil, err
	}
	gatewayArgsWith := func(addr, wasm, cfg string) []string {
		return []string{"--listen", addr, "--wasm", wasm, "--upstream", e.upstreamURL,
			"--workers", strconv.Itoa(o.workers), "--log-level", "warn",
			"--plugin-config", cfg, "--cluster", "turnpike-sidecar=" + e.sidecarURL}
	}
	gatewayArgs := func(addr, wasm string) []string { return gatewayArgsWith(addr, wasm, cfgFile) }
	type target struct {
		name  string
		start func(addr string) (*proc, error)
		keys  []string
		redis bool
	}
	targets := []target{
		{"plain Go reverse proxy (no wasm)", func(addr string) (*proc, error) {
			return startProc(ctx, e.dir, "plain-proxy", addr, e.self, "-role", "proxy", "-addr", addr, "-upstream", e.upstreamURL)
		}, warm, false},
		{"turnpike-gateway + no-op filter", func(addr string) (*proc, error) {
			return startProc(ctx, e.dir, "gateway-noop", addr, e.binDir+"/turnpike-gateway", gatewayArgs(addr, noopWasm)...)
		}, warm, false},
		{"turnpike-gateway + filter.wasm, warm keys (rate limit)", func(addr string) (*proc, error) {
			return startProc(ctx, e.dir, "gateway-filter", addr, e.binDir+"/turnpike-gateway", gatewayArgs(addr, filterWasm)...)
		}, warm, true},
		{analyticsRow, func(addr string) (*proc, error) {
			return startProc(ctx, e.dir, "gateway-filter-analytics", addr, e.binDir+"/turnpike-gateway",
				gatewayArgsWith(addr, filterWasm, analyticsFile)...)
		}, warm, true},
		{"turnpike-gateway + filter.wasm, quota keys (exact, Redis)", func(addr string) (*proc, error) {
			return startProc(ctx, e.dir, "gateway-filter-quota", addr, e.binDir+"/turnpike-gateway", gatewayArgs(addr, filterWasm)...)
		}, quota, true},
	}
	var rows []gatewayRow
	for _, t := range targets {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p, err := t.start(addr)
		if err != nil {
			return nil, err
		}
		row, err := loadOne(ctx, e, addr, p.pid(), t.keys, o, t.redis)
		p.stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		row.Name = t.name
		rows = append(rows, row)
		logf("gateway: %-58s %8.0f req/s  p50 %v  p99 %v  CPU/req %v  non-200 %d  errors %d",
			t.name, row.RPS, row.P50, row.P99, row.CPUPerReq, row.Non200, row.Errors)
	}
	return rows, nil
}

// loadOne waits until every key answers 200 through the proxy (the filter
// has synced and cached the sessions), then measures.
func loadOne(ctx context.Context, e *env, addr string, pid int, keys []string, o gatewayOpts, redis bool) (gatewayRow, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range keys {
		for {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/bench/items", nil)
			req.Header.Set("Authorization", k)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				return gatewayRow{}, fmt.Errorf("key %s never answered 200 (last: %v)", k, statusOrErr(resp, err))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	reqs := make([]loadgen.Request, len(keys))
	for i, k := range keys {
		reqs[i] = loadgen.Request{Path: "/bench/items", Header: [][2]string{{"Authorization", k}}}
	}
	before, err := e.redisRoundTrips(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	cpuBefore, err := cpuTime(pid)
	if err != nil {
		return gatewayRow{}, err
	}
	res, err := loadgen.Run(ctx, loadgen.Options{Addr: addr, Requests: reqs, Connections: o.connections,
		Warmup: o.warmup, Duration: o.duration})
	if err != nil {
		return gatewayRow{}, err
	}
	cpuAfter, err := cpuTime(pid)
	if err != nil {
		return gatewayRow{}, err
	}
	after, err := e.redisRoundTrips(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	all := float64(res.Requests) * float64(o.warmup+o.duration) / float64(o.duration)
	row := gatewayRow{CPUPerReq: time.Duration(float64(cpuAfter-cpuBefore) / all), RPS: res.RPS(), P50: res.Latency.Quantile(0.5), P99: res.Latency.Quantile(0.99),
		Requests: res.Requests, Non200: res.Requests - res.Status[200], Errors: res.Errors, RedisRTT: -1}
	if redis {
		row.RedisRTT = float64(after-before) / all
	}
	// CPU and round trips are counted over warm-up and measurement, so
	// they are divided by the requests of both (the warm-up runs at about
	// the measured rate).
	if res.FirstError != nil {
		logf("  first error: %v", res.FirstError)
	}
	return row, nil
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}
