package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	// SidecarCalls is the filter's calls to the sidecar per request
	// (lookups, quota leases and releases; not the sync polls).
	SidecarCalls float64
	// UpstreamConns is the TCP connections the upstream accepted per request.
	UpstreamConns float64
	// Profiled rows only (the no-op and warm-key gateways): from a CPU profile
	// of a second window of the same load after the measured one (profiling
	// costs CPU), the gateway's CPU per request as sampled, and its part in
	// the guest's compiled code (runtime._ExternalCode).
	ProfiledCPU, GuestCPU time.Duration
	// ProfiledRequests is the requests served in the profiled window.
	ProfiledRequests int64
	// SyscallCPU is the part in system calls (the kernel's socket work).
	SyscallCPU time.Duration
}

// analyticsRow is the warm-key row with analytics.enabled.
const analyticsRow = "turnpike-gateway + filter.wasm + analytics, warm keys (rate limit)"

type gatewayOpts struct {
	connections      int
	warmup, duration time.Duration
	workers          int
	keys             int
	// cpuProfile, when set, is where loadOne writes a CPU profile of the
	// gateway over the measured window, fetched from pprofAddr (its admin
	// listener with --pprof).
	cpuProfile, pprofAddr string
}

// Names of the gateway rows the report refers to.
const (
	rowNoop       = "turnpike-gateway + no-op filter"
	rowWarm       = "turnpike-gateway + filter.wasm, warm keys (rate limit only)"
	rowQuotaLease = "turnpike-gateway + filter.wasm, quota keys far from exhaustion (leases)"
	rowQuotaNear  = "turnpike-gateway + filter.wasm, quota keys near exhaustion (one-unit leases)"
	rowQuotaCall  = "turnpike-gateway + filter.wasm, quota keys, one sidecar call per request (no leases)"
	rowOrg        = "turnpike-gateway + filter.wasm, org-limited keys (org rate + org quota, leases)"
	rowPool2      = "turnpike-gateway + filter.wasm, warm keys, Go's default upstream pool (2 idle per host)"
	rowOAuth      = "turnpike-gateway + filter.wasm, OAuth access tokens, warm (rate limit)"
)

// gatewayScenario loads, in turn, a plain Go reverse proxy, turnpike-gateway
// with the no-op filter, and turnpike-gateway with filter.wasm (warm keys
// with a rate limit only; keys with a quota far from exhaustion, served
// from leases; the same near exhaustion, where every lease is one unit;
// the same without leases; keys of a rate- and quota-limited organisation),
// all in front of the same upstream.
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
	// Keys of an organisation whose limits are never reached.
	if err := e.admin(ctx, "POST", "/tyk/org/keys/orgbench", `{"org_id":"orgbench","rate":1000000000,"per":1,
		"quota_max":1000000000000,"quota_renewal_rate":3600}`); err != nil {
		return nil, err
	}
	org, err := e.createKeys(ctx, "gw-org", o.keys, strings.Replace(
		keySession(`"rate":1000000000,"per":1,"quota_max":-1`), `"org_id":"org1"`, `"org_id":"orgbench"`, 1))
	if err != nil {
		return nil, err
	}
	tokens, err := e.oauthTokens(ctx, o.keys)
	if err != nil {
		return nil, err
	}
	configs := map[string]string{
		"default": "",
		// Every lease is one unit: what a quota near exhaustion costs
		// (shared/quota.LeaseUnits cuts leases to one unit when fewer than
		// 16 units remain), without running the quota out mid-run.
		"near": `,"quota_lease":{"max_units":1}`,
		"call": `,"quota_lease":{"cover_ms":0}`,
		"org":  `,"enforce_org_quotas":true`,
		// Every request recorded and shipped to the sidecar, which
		// aggregates it in Redis.
		"analytics": `,"analytics":{"enabled":true}`,
	}
	cfgFiles := map[string]string{}
	for name, extra := range configs {
		f := e.dir + "/gateway-filter-" + name + ".json"
		if err := os.WriteFile(f, []byte(filterConfig(extra)), 0o644); err != nil {
			return nil, err
		}
		cfgFiles[name] = f
	}
	gatewayArgs := func(addr, wasm, cfg string, extra ...string) []string {
		return append([]string{"--listen", addr, "--wasm", wasm, "--upstream", e.upstreamURL,
			"--workers", strconv.Itoa(o.workers), "--log-level", "warn",
			"--plugin-config", cfgFiles[cfg], "--cluster", "turnpike-sidecar=" + e.sidecarURL}, extra...)
	}
	filter := func(name, cfg string, extra ...string) func(addr string, more ...string) (*proc, error) {
		return func(addr string, more ...string) (*proc, error) {
			return startProc(ctx, e.dir, name, addr, e.binDir+"/turnpike-gateway",
				gatewayArgs(addr, filterWasm, cfg, append(extra, more...)...)...)
		}
	}
	type target struct {
		name  string
		start func(addr string, extra ...string) (*proc, error)
		keys  []string // Authorization header values
		redis bool
		path  string // "" = /bench/items
		// profile: take a CPU profile of a second, unmeasured window (--pprof)
		// and split the gateway's CPU into guest code and the rest.
		profile bool
	}
	targets := []target{
		{"plain Go reverse proxy (no wasm)", func(addr string, _ ...string) (*proc, error) {
			return startProc(ctx, e.dir, "plain-proxy", addr, e.self, "-role", "proxy", "-addr", addr, "-upstream", e.upstreamURL)
		}, warm, false, "", false},
		{rowNoop, func(addr string, more ...string) (*proc, error) {
			return startProc(ctx, e.dir, "gateway-noop", addr, e.binDir+"/turnpike-gateway", gatewayArgs(addr, noopWasm, "default", more...)...)
		}, warm, false, "", true},
		{rowWarm, filter("gateway-filter", "default"), warm, true, "", true},
		{analyticsRow, filter("gateway-filter-analytics", "analytics"), warm, true, "", false},
		{rowPool2, filter("gateway-filter-pool2", "default", "--max-idle-conns-per-host", "2"), warm, true, "", false},
		// The same decision for OAuth access tokens: they are keys.
		{rowOAuth, filter("gateway-filter-oauth", "default"), tokens, true, "/" + oauthAPIID + "/items", false},
		{rowQuotaLease, filter("gateway-filter-quota", "default"), quota, true, "", false},
		{rowQuotaNear, filter("gateway-filter-near", "near"), quota, true, "", false},
		{rowQuotaCall, filter("gateway-filter-call", "call"), quota, true, "", false},
		{rowOrg, filter("gateway-filter-org", "org"), org, true, "", false},
	}
	var rows []gatewayRow
	for _, t := range targets {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		lo := o
		var extra []string
		if t.profile {
			if lo.pprofAddr, err = freeAddr(); err != nil {
				return nil, err
			}
			lo.cpuProfile = fmt.Sprintf("%s/gateway-%d.pprof", e.dir, len(rows))
			extra = []string{"--admin-listen", lo.pprofAddr, "--pprof"}
		}
		p, err := t.start(addr, extra...)
		if err != nil {
			return nil, err
		}
		path := t.path
		if path == "" {
			path = "/bench/items"
		}
		row, err := loadOne(ctx, e, addr, []int{p.pid()}, path, t.keys, lo, t.redis)
		p.stop()
		if err == nil && t.profile {
			err = row.splitProfile(ctx, e.binDir+"/turnpike-gateway", lo.cpuProfile)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		row.Name = t.name
		rows = append(rows, row)
		logf("gateway: %-58s %8.0f req/s  p50 %v  p99 %v  CPU/req %v  non-200 %d  errors %d  sidecar calls/req %.4f",
			t.name, row.RPS, row.P50, row.P99, row.CPUPerReq, row.Non200, row.Errors, row.SidecarCalls)
	}
	return rows, nil
}

// loadOne waits until every key answers 200 through the proxy (the filter
// has synced and cached the sessions), then measures; CPU per request is
// the sum over pids.
func loadOne(ctx context.Context, e *env, addr string, pids []int, path string, keys []string, o gatewayOpts, redis bool) (gatewayRow, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range keys {
		for {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
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
		reqs[i] = loadgen.Request{Path: path, Header: [][2]string{{"Authorization", k}}}
	}
	before, err := e.redisRoundTrips(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	callsBefore, err := e.filterCalls(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	connsBefore, err := e.upstreamConns(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	cpuBefore, err := cpuTimes(pids)
	if err != nil {
		return gatewayRow{}, err
	}
	res, err := loadgen.Run(ctx, loadgen.Options{Addr: addr, Requests: reqs, Connections: o.connections,
		Warmup: o.warmup, Duration: o.duration})
	if err != nil {
		return gatewayRow{}, err
	}
	cpuAfter, err := cpuTimes(pids)
	if err != nil {
		return gatewayRow{}, err
	}
	after, err := e.redisRoundTrips(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	callsAfter, err := e.filterCalls(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	connsAfter, err := e.upstreamConns(ctx)
	if err != nil {
		return gatewayRow{}, err
	}
	all := float64(res.Requests) * float64(o.warmup+o.duration) / float64(o.duration)
	row := gatewayRow{CPUPerReq: time.Duration(float64(cpuAfter-cpuBefore) / all), RPS: res.RPS(), P50: res.Latency.Quantile(0.5), P99: res.Latency.Quantile(0.99),
		Requests: res.Requests, Non200: res.Requests - res.Status[200], Errors: res.Errors, RedisRTT: -1,
		UpstreamConns: float64(connsAfter-connsBefore) / all}
	if redis {
		row.RedisRTT = float64(after-before) / all
		row.SidecarCalls = float64(callsAfter-callsBefore) / all
	}
	// CPU and round trips are counted over warm-up and measurement, so
	// they are divided by the requests of both (the warm-up runs at about
	// the measured rate).
	if res.FirstError != nil {
		logf("  first error: %v", res.FirstError)
	}
	if o.cpuProfile != "" {
		// A second window of the same load, profiled: the profiler's
		// signals and stack walks cost the gateway CPU, so the measured
		// window above runs without it.
		if row.ProfiledRequests, err = profileWindow(ctx, addr, reqs, o); err != nil {
			return gatewayRow{}, fmt.Errorf("cpu profile: %w", err)
		}
	}
	return row, nil
}

// profileWindow loads the gateway for o.duration again while its CPU
// profile is taken into o.cpuProfile, and returns the requests served.
func profileWindow(ctx context.Context, addr string, reqs []loadgen.Request, o gatewayOpts) (int64, error) {
	profiled := make(chan error, 1)
	go func() { profiled <- fetchCPUProfile(ctx, o.pprofAddr, o.cpuProfile, 0, o.duration) }()
	res, err := loadgen.Run(ctx, loadgen.Options{Addr: addr, Requests: reqs, Connections: o.connections, Duration: o.duration})
	if perr := <-profiled; err == nil {
		err = perr
	}
	if err != nil {
		return 0, err
	}
	return res.Requests, nil
}

// splitProfile reads a CPU profile of the row's profiled window: the CPU
// sampled per request, and the part in the guest's compiled code.
func (row *gatewayRow) splitProfile(ctx context.Context, bin, file string) error {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=1000", bin, file).Output()
	if err != nil {
		return fmt.Errorf("pprof %s: %w", file, err)
	}
	p, err := parsePprofSeconds(string(out))
	if err != nil {
		return err
	}
	if row.ProfiledRequests > 0 {
		per := func(s float64) time.Duration { return time.Duration(s * 1e9 / float64(row.ProfiledRequests)) }
		row.ProfiledCPU, row.GuestCPU, row.SyscallCPU = per(p.total), per(p.guest), per(p.sys)
	}
	return nil
}

// fetchCPUProfile waits warmup, then writes a CPU profile of the next
// duration from a gateway's /debug/pprof/profile to file.
func fetchCPUProfile(ctx context.Context, addr, file string, warmup, duration time.Duration) error {
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	secs := max(1, int(duration/time.Second))
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: duration + time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return os.WriteFile(file, body, 0o644)
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// upstreamConns asks the upstream how many TCP connections it has accepted.
func (e *env) upstreamConns(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.upstreamURL+upstreamConnsPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}
