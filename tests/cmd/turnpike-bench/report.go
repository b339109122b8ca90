package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

type machine struct {
	CPUs             int
	CPUModel, Kernel string
	GoVersion, Redis string
}

func describeMachine() (machine, error) {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		m.Redis = strings.TrimSpace(string(out))
	}
	if m.CPUModel == "" {
		m.CPUModel = runtime.GOARCH
	}
	return m, nil
}

// report collects every measurement of one run and renders BENCHMARKS.md.
type report struct {
	opts    *options
	started time.Time
	elapsed time.Duration
	machine machine
	vm      []goBench
	cold    []goBench // BenchmarkColdCache
	store   []goBench
	gateway []gatewayRow
	sidecar []sidecarRow
	memory  []memoryPoint
	rate    rateAccuracy
	quota   quotaAccuracy
	profile warmProfile
	peer    []peerRow // Tyk, then Turnpike (-tyk)
	// analyticsPair is analytics off and on measured at once (the target).
	analyticsPair pairResult
}

func us(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1e3) }

func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func yes(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// vmCases are the decision benchmarks in the order of the table.
var vmCases = []struct{ name, what string }{
	{"noop-floor", "no-op filter (the floor)"},
	{"warm-rate-limit", "warm key, rate limit only"},
	{"warm-oauth-token", "warm OAuth access token (Bearer), rate limit only"},
	{"warm-jwt-hs256", "warm JWT, HS256 (verified once per VM; session cached)"},
	{"warm-jwt-es256", "warm JWT, ES256"},
	{"first-jwt-es256", "first-seen JWT, ES256 (verification, lookup, session created by the sidecar)"},
	{"quota-lease", "key with quota far from exhaustion (leases)"},
	{"quota-per-request", "key with quota, one sidecar call per request (`quota_lease.cover_ms: 0`; the cost of a quota near exhaustion)"},
	{"cache-hit", "warm key, response cache hit (reply from shared data)"},
	{"warm-analytics", "warm key, rate limit, analytics on (recorded, shipped every 5000 requests)"},
	{"missing-key", "missing key (401)"},
	{"unknown-key", "unknown key (negative cache, 403)"},
	{"allowed-urls", "policy with allowed_urls (10 patterns)"},
	{"basic-auth-cached", "basic auth, password remembered (no bcrypt)"},
	{"hmac-sha256", "HMAC-SHA256 signed request (signed string repeated: signature remembered)"},
	{"hmac-sha256-unseen", "HMAC-SHA256 signed request, a new signed string each request (MAC computed)"},
	{"basic-auth-bcrypt", "basic auth with caching disabled: bcrypt (cost 10) on every request"},
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.opts
	w("# Turnpike benchmarks\n\n")
	w("Written by `make bench` (`tests/cmd/turnpike-bench`) on %s; the run took %v. Every number in this file\n",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.elapsed.Round(time.Second))
	w("was measured in that run, baselines included: compare rows within a table, not with other machines.\n\n")
	w("## Machine\n\n| | |\n|---|---|\n")
	w("| CPUs (nproc) | %d |\n| CPU | %s |\n| OS | %s |\n| Go | %s |\n| Redis | %s |\n", r.machine.CPUs, r.machine.CPUModel,
		r.machine.Kernel, r.machine.GoVersion, r.machine.Redis)
	w("| wasm runtime | wazero (compiler), the tests/wasmhost proxy-wasm host |\n\n")
	w("Everything (load generator, proxies, upstream, sidecar, Redis) shares these CPUs over loopback, so absolute\n")
	w("numbers are lower bounds; the ratios are the result.\n\n")

	r.targets(w)
	r.vmTable(w)
	r.gatewayTable(w)
	r.sidecarTables(w)
	r.memoryTable(w)
	r.accuracyTable(w)
	r.gaps(w)
	r.method(w)
	w("## Reproduce\n\n```sh\nmake bench            # build, then: go run ./tests/cmd/turnpike-bench -out BENCHMARKS.md\n")
	w("go run ./tests/cmd/turnpike-bench -duration %v -benchtime %s -memory-requests %d   # this run's settings\n",
		o.duration, o.benchtime, o.memRequests)
	w("go run ./tests/cmd/turnpike-bench -duration 60s -benchtime 5s   # longer, steadier\n")
	w("go test -run '^$' -bench BenchmarkDecision ./filter/   # the VM table alone\n```\n\n")
	w("Requirements: Go, `redis-server` and `redis-benchmark` (Debian: `apt-get install redis-server`, which pulls in\n")
	w("redis-tools). `make bench-smoke` runs every Go benchmark once (`-benchtime=1x`), as CI does, so they cannot rot.\n")
	return b.String()
}

func (r *report) decision(name string) (goBench, bool) { return findBench(r.vm, "Decision/"+name) }

func (r *report) gatewayRow(prefix string) (gatewayRow, bool) {
	for _, g := range r.gateway {
		if strings.HasPrefix(g.Name, prefix) {
			return g, true
		}
	}
	return gatewayRow{}, false
}

func (r *report) targets(w func(string, ...any)) {
	w("## Targets\n\n| target | measured | |\n|---|---|---|\n")
	floor, okF := r.decision("noop-floor")
	warm, okW := r.decision("warm-rate-limit")
	if okF && okW {
		p50 := warm.Metrics["p50-ns"]
		w("| warm-path decision p50 <= 10 µs | %s | %s |\n", us(p50), yes(p50 <= 10e3))
		ratio := p50 / floor.Metrics["p50-ns"]
		w("| warm-path decision <= 2x the no-op floor (p50) | %.1fx (%s vs %s) | %s |\n", ratio, us(p50), us(floor.Metrics["p50-ns"]), yes(ratio <= 2))
	}
	if okW {
		// Each authenticated request is compared with the warm key's
		// alternated request by request in one loop (the same moment of a
		// noisy machine for both) when that case ran, else with the
		// sequential warm row.
		for _, t := range []struct{ name, what string }{
			{"basic-auth-cached", "remembered basic auth"},
			{"hmac-sha256", "HMAC-SHA256"},
			{"warm-jwt-hs256", "warm JWT (HS256)"},
			{"warm-jwt-es256", "warm JWT (ES256)"},
		} {
			if m, ok := r.decision(t.name + "-vs-warm"); ok && m.Metrics["warm-p50-ns"] > 0 {
				a, wp := m.Metrics["auth-p50-ns"], m.Metrics["warm-p50-ns"]
				w("| %s <= 1.5x the warm key (p50, alternated in one loop) | %.2fx (%s vs %s) | %s |\n", t.what, a/wp, us(a), us(wp), yes(a/wp <= 1.5))
			} else if m, ok := r.decision(t.name); ok {
				a, wp := m.Metrics["p50-ns"], warm.Metrics["p50-ns"]
				w("| %s <= 1.5x the warm key (p50) | %.2fx (%s vs %s) | %s |\n", t.what, a/wp, us(a), us(wp), yes(a/wp <= 1.5))
			}
		}
	}
	noop, ok1 := r.gatewayRow("turnpike-gateway + no-op")
	tp, ok2 := r.gatewayRow(rowWarm)
	if ok1 && ok2 && noop.RPS > 0 {
		pct := 100 * tp.RPS / noop.RPS
		w("| gateway throughput >= 85%% of the no-op filter's (warm keys) | %.0f%% (%.0f vs %.0f req/s) | %s |\n", pct, tp.RPS, noop.RPS, yes(pct >= 85))
	}
	if tok, ok := r.gatewayRow(rowOAuth); ok2 && ok && tp.RPS > 0 {
		pct := 100 * tok.RPS / tp.RPS
		w("| warm OAuth access tokens as fast as warm keys (within 10%%) | %.0f%% (%.0f vs %.0f req/s) | %s |\n",
			pct, tok.RPS, tp.RPS, yes(pct >= 90 && pct <= 110))
	}
	if ok2 {
		w("| new upstream connections per request < 0.01 under load (warm keys) | %.4f | %s |\n", tp.UpstreamConns, yes(tp.UpstreamConns < 0.01))
	}
	rate, okR := r.gatewayRow(rowWarm)
	lease, okL := r.gatewayRow(rowQuotaLease)
	if okR && okL && rate.RPS > 0 {
		pct := 100 * lease.RPS / rate.RPS
		w("| quota keys far from exhaustion >= 85%% of the rate-only keys' throughput | %.0f%% (%.0f vs %.0f req/s) | %s |\n",
			pct, lease.RPS, rate.RPS, yes(pct >= 85))
		w("| sidecar calls per request, quota keys far from exhaustion <= 0.05 | %.4f | %s |\n", lease.SidecarCalls, yes(lease.SidecarCalls <= 0.05))
		w("| Redis round trips per request, quota keys far from exhaustion <= 0.05 | %.4f | %s |\n", lease.RedisRTT, yes(lease.RedisRTT <= 0.05))
	}
	if an, ok3 := r.gatewayRow(analyticsRow); ok2 && ok3 && tp.RPS > 0 {
		// Judged on the two gateways loaded at once (analyticsPair): the
		// rows above ran one after the other, and a shared machine's load
		// changes between them by more than the difference measured.
		p := r.analyticsPair
		pct := 100 * p.Throughput
		w("| warm-key throughput with analytics on >= 95%% of off (same run: both loaded at once; CPU per request off / on %.0f%%; rows above one after the other: %.0f%%) | %.0f%% (%.0f vs %.0f req/s) | %s |\n",
			100*p.CPU, 100*an.RPS/tp.RPS, pct, p.OnRPS, p.OffRPS, yes(pct >= 95))
	}
	if len(r.peer) == 2 && r.peer[0].RPS > 0 {
		ratio := r.peer[1].RPS / r.peer[0].RPS
		w("| key + rate + quota >= 2x Tyk's throughput (same run) | %.2fx (%.0f vs %.0f req/s) | %s |\n", ratio,
			r.peer[1].RPS, r.peer[0].RPS, yes(ratio >= 2))
	}
	w("| quota overshoot with %d concurrent clients = 0 | %d | %s |\n", r.quota.Clients, r.quota.Overshoot, yes(r.quota.Overshoot == 0))
	w("| rate-limit admissions vs configured rate, %d VMs | %+.2f%% | (reported) |\n", r.rate.Workers, r.rate.ErrorPct)
	if n := len(r.memory); n >= 2 {
		first, last := r.memory[1], r.memory[n-1]
		flat := true
		for i := range first.VMMemory {
			flat = flat && last.VMMemory[i] == first.VMMemory[i]
		}
		w("| VM linear memory flat from %d to %d requests | %s -> %s MiB | %s |\n", first.Requests, last.Requests,
			strings.Join(mib32(first.VMMemory), "/"), strings.Join(mib32(last.VMMemory), "/"), yes(flat))
	}
	if peak, ok := r.memoryPeak(); ok {
		w("| VM linear memory <= %d MiB per VM (%d keys, default session cache) | %.1f MiB | %s |\n", memoryTargetMiB,
			r.opts.memKeys, float64(peak)/(1<<20), yes(peak <= memoryTargetMiB<<20))
	}
	w("\nMissed targets are explained, with the measured reason and a plan, in [Gaps](#gaps).\n\n")
}

func (r *report) vmTable(w func(string, ...any)) {
	w("## 1. Decision in the VM\n\n")
	w("`go test -bench BenchmarkDecision ./filter/` (filter/bench_test.go): the real filter (built with `-tags turnpike_bench`,\n")
	w("which only adds a guest malloc gauge) in one VM of the wazero host, one request at a time: create stream, request\n")
	w("headers, response headers, done/log/delete. The sidecar is an in-process fake (filter/fakesidecar_test.go), so the\n")
	w("quota row is VM + one loopback HTTP call, without Redis. p50/p99 time single requests; the mean (ns/op) includes\n")
	w("the guest's garbage collections. Host allocs are the Go host's per request; guest allocs are counted inside the VM.\n\n")
	if len(r.vm) == 0 {
		w("(skipped: -skip-go-bench)\n\n")
		return
	}
	floor, _ := r.decision("noop-floor")
	w("| case | mean | p50 | p99 | p50 vs floor | host allocs/op | host B/op | guest allocs/op | sidecar calls/op |\n")
	w("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range vmCases {
		b, ok := r.decision(c.name)
		if !ok {
			w("| %s | (missing) |||||||| \n", c.what)
			continue
		}
		m := b.Metrics
		calls := "—"
		if _, ok := m["lookups/op"]; ok {
			calls = fmt.Sprintf("%.2f", m["lookups/op"]+m["quota-calls/op"]+m["jwt-writes/op"])
		}
		w("| %s | %s | %s | %s | %.1fx | %.0f | %.0f | %.0f | %s |\n", c.what, us(m["ns/op"]), us(m["p50-ns"]), us(m["p99-ns"]),
			m["p50-ns"]/floor.Metrics["p50-ns"], m["allocs/op"], m["B/op"], m["guest-allocs/op"], calls)
	}
	w("\n")
}

func (r *report) gatewayTable(w func(string, ...any)) {
	o := r.opts
	w("## 2. Gateway throughput and latency\n\n")
	w("`tests/loadgen` (closed loop, HTTP/1.1 keep-alive) with %d connections, %v warm-up then %v measured per row, %d API\n",
		o.connections, o.warmup, o.duration, o.keys)
	w("keys in turn, all rows against the same upstream (a Go server answering 200 with 11 bytes) in the same run. The\n")
	w("gateways run %d VMs. Redis round trips per request come from the sidecar's own Redis metrics and include its\n", o.workers)
	w("background polls (config version, sync feed); sidecar calls per request count session lookups, quota\n")
	w("reservations, leases and lease releases (not the sync polls, which are per tick). \"vs rate-only\" compares with\n")
	w("the warm keys that have a rate limit and no quota: that ratio carries over to other machines. New upstream\n")
	w("connections per request: TCP connections the upstream accepted, divided by the requests (the proxy's upstream\n")
	w("pool; turnpike-gateway keeps 1024 idle per host by default). The no-op and warm-key gateways run with\n")
	w("`--pprof` and are CPU-profiled (Go's 100 Hz sampling) over a second window of the same load after the measured one,\n")
	w("so profiling does not slow the measured rows; the profiles give the split in [Gaps](#gaps).\n\n")
	noop, _ := r.gatewayRow("turnpike-gateway + no-op")
	plain, _ := r.gatewayRow("plain")
	rate, _ := r.gatewayRow(rowWarm)
	w("| proxy | req/s | vs no-op filter | vs plain proxy | vs rate-only | p50 | p99 | proxy CPU/request | non-200 | errors | sidecar calls/request | Redis round trips/request | new upstream connections/request |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range r.gateway {
		rtt, calls, vsRate := "—", "—", "—"
		if g.RedisRTT >= 0 {
			rtt = fmt.Sprintf("%.3f", g.RedisRTT)
			calls = fmt.Sprintf("%.4f", g.SidecarCalls)
		}
		if rate.RPS > 0 {
			vsRate = fmt.Sprintf("%.2fx", g.RPS/rate.RPS)
		}
		w("| %s | %.0f | %.0f%% | %.0f%% | %s | %s | %s | %s | %d | %d | %s | %s | %.4f |\n", g.Name, g.RPS, 100*g.RPS/noop.RPS, 100*g.RPS/plain.RPS,
			vsRate, dur(g.P50), dur(g.P99), dur(g.CPUPerReq), g.Non200, g.Errors, calls, rtt, g.UpstreamConns)
	}
	w("\n")
	r.peerTable(w)
}

// Tyk's figure from issue 15, measured elsewhere (never run by this tool).
const (
	tykRPS         = 3454
	tykCPUPerReqUS = 414
	// Turnpike with one quota reservation per request, in the same
	// measurement: 2,096 req/s at 727 µs.
	issueCallRPS = 2096
)

// peerTable compares Turnpike with Tyk: measured in this run when -tyk
// gave a Tyk binary, else the issue's figure as a reference line and what
// this run's ratios say about it.
func (r *report) peerTable(w func(string, ...any)) {
	if len(r.peer) == 2 {
		tyk, tp := r.peer[0], r.peer[1]
		w("### Peer: Tyk, measured in this run\n\n")
		w("The same %d keys with rate limit and quota (never reached), the same upstream, load generator and connections,\n", r.opts.keys)
		w("one gateway after the other. CPU per request is the sum over every process on the request path. Tyk's upstream\n")
		w("pool is set to 1024 idle connections per host like turnpike-gateway's (Tyk's default is Go's 2). Tyk is built by\n")
		w("the operator from its repository and passed with `-tyk` (the repository does not build or ship it).\n\n")
		w("| gateway | req/s | vs Tyk | CPU/request | processes counted | p50 | p99 | non-200 | errors |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, p := range r.peer {
			w("| %s | %.0f | %.2fx | %s | %s | %s | %s | %d | %d |\n", p.Name, p.RPS, p.RPS/tyk.RPS, dur(p.CPUPerReq), p.Procs,
				dur(p.P50), dur(p.P99), p.Non200, p.Errors)
		}
		w("\nTurnpike serves %.2fx Tyk's requests per second at %.2fx its CPU per request.\n\n", tp.RPS/tyk.RPS,
			float64(tp.CPUPerReq)/float64(tyk.CPUPerReq))
		return
	}
	w("### Peer reference (measured elsewhere, not in this run)\n\n")
	w("Issue 15 measured, side by side on one machine (wrk, 16 connections, 100 keys, same upstream), Tyk 5.8.0 with\n")
	w("key + rate + quota at %d req/s and %d µs of CPU per request (Tyk + Redis, 4 Redis commands per request), and\n", tykRPS, tykCPUPerReqUS)
	w("Turnpike with one sidecar call and one Lua script per quota request at %d req/s (0.61x Tyk). This run had no\n", issueCallRPS)
	w("`-tyk` binary, so the line below is that figure, for reference. The ratio of this run's leased quota keys to its\n")
	w("per-request quota keys, applied to the issue's Turnpike figure, estimates where leases put Turnpike on that\n")
	w("machine; it is a projection, not a measurement.\n\n")
	w("| proxy | req/s | CPU/request | Redis round trips/request | source |\n|---|---|---|---|---|\n")
	w("| Tyk 5.8.0, key + rate + quota | %d | %d µs (Tyk + Redis) | 4 | issue 15, measured elsewhere |\n", tykRPS, tykCPUPerReqUS)
	w("| Turnpike, quota with one sidecar call per request | %d | 727 µs | 1 | issue 15, measured elsewhere |\n", issueCallRPS)
	lease, okL := r.gatewayRow(rowQuotaLease)
	call, okC := r.gatewayRow(rowQuotaCall)
	if okL && okC && call.RPS > 0 {
		ratio := lease.RPS / call.RPS
		proj := float64(issueCallRPS) * ratio
		w("| Turnpike, quota with leases (projected) | ~%.0f | — | %.3f (this run) | %d x %.2f (this run's leased / per-request ratio): %.2fx Tyk |\n",
			proj, lease.RedisRTT, issueCallRPS, ratio, proj/tykRPS)
	}
	w("\n")
}

func (r *report) sidecarTables(w func(string, ...any)) {
	w("## 3. Sidecar and Redis\n\n")
	w("Over HTTP on the running turnpike-sidecar and redis-server (what the filter calls), %v per row, then the raw Redis\n", r.opts.sidecarDur)
	w("ceiling with `redis-benchmark` (no pipelining) on the same server in the same run. Callers are concurrent\n")
	w("connections. Sessions: 1,000 stored keys, looked up in turn; quotas: 1,000 counters.\n\n")
	w("| operation | callers | ops/s | p50 | p99 | Redis round trips/op | failed |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.sidecar {
		rtt := "—"
		if s.RedisRTT >= 0 {
			rtt = fmt.Sprintf("%.2f", s.RedisRTT)
		}
		failed := "—"
		if s.RedisRTT >= 0 {
			failed = fmt.Sprint(s.Failed)
		}
		w("| %s | %d | %.0f | %s | %s | %s | %s |\n", s.Op, s.Callers, s.OpsPerS, dur(s.P50), dur(s.P99), rtt, failed)
	}
	w("\nRound trips per decision: a warm-path decision makes none (table 2, warm keys); a session-cache miss makes one\n")
	w("lookup (one MULTI/EXEC); a request with an exact quota makes one reservation (one EVALSHA).\n\n")
	if len(r.store) > 0 {
		w("The same two operations called directly on the store package, without HTTP (`go test -bench . ./sidecar/internal/store`):\n\n")
		w("| benchmark | ops/s | Redis round trips/op |\n|---|---|---|\n")
		for _, s := range r.store {
			w("| %s | %.0f | %.2f |\n", s.Name, s.Metrics["ops/s"], s.Metrics["redis-rtt/op"])
		}
		w("\n")
	}
}

func (r *report) memoryTable(w func(string, ...any)) {
	o := r.opts
	w("## 4. Memory\n\n")
	w("%d requests over %d distinct keys (key i mod %d, so every pass touches every key) through filter.wasm with its\n",
		o.memRequests, o.memKeys, o.memKeys)
	w("default configuration (per-VM session cache 10,000 entries or 4 MiB), %d VMs, 8 requests in flight, against the real\n", o.workers)
	w("sidecar and Redis. Wasm linear memory never shrinks, so it is the guest heap's high-water mark.\n\n")
	w("| requests | VM linear memory (per VM) | shared data keys | shared data bytes | sidecar RSS | non-200 | elapsed |\n")
	w("|---|---|---|---|---|---|---|\n")
	for _, p := range r.memory {
		w("| %d | %s MiB | %d | %s | %s | %d | %v |\n", p.Requests, strings.Join(mib32(p.VMMemory), " / "), p.SharedKeys,
			mib(p.SharedBytes), mib(p.SidecarRSS), p.NonOK, p.Elapsed.Round(time.Second))
	}
	w("\n")
}

func (r *report) accuracyTable(w func(string, ...any)) {
	ra, q := r.rate, r.quota
	w("## 5. Accuracy under load\n\n")
	w("filter.wasm in %d VMs sharing one shared-data store, real sidecar and Redis.\n\n", ra.Workers)
	w("| test | sent | admitted | expected | error |\n|---|---|---|---|---|\n")
	w("| rate limit %d/s, 16 clients for %v (token bucket: burst %d, then %d/s) | %d | %d | %.0f | %+.2f%% |\n",
		ra.Rate, ra.Duration, ra.Rate, ra.Rate, ra.Sent, ra.Admitted, ra.Expected, ra.ErrorPct)
	w("| quota %d, %d concurrent clients | %d | %d | %d | overshoot %d |\n\n", q.QuotaMax, q.Clients, q.Sent, q.Admitted, q.QuotaMax, q.Overshoot)
}

func (r *report) method(w func(string, ...any)) {
	w("## Method\n\n")
	w("- One process per role: load generator (this command), upstream and plain proxy (this command re-executed\n")
	w("  with `-role`), turnpike-gateway, turnpike-sidecar, redis-server (no persistence). Ports are loopback.\n")
	w("- Proxy rows run one after another against the same upstream; each starts fresh, every key is sent once and\n")
	w("  answered 200 before the warm-up (sessions cached), then the warm-up, then the measured window.\n")
	w("- Latency is measured by the load generator from writing the request to reading the whole response, into an\n")
	w("  HDR-style histogram (<1%% error). Throughput counts responses completed inside the measured window.\n")
	w("- Go benchmarks run with `-benchtime %s -count 1 -benchmem`; the VM table's p50/p99 time each iteration.\n", r.opts.benchtime)
	w("\n")
}

// memoryTargetMiB bounds one VM's linear memory in the memory scenario
// (issue 17).
const memoryTargetMiB = 24

// memoryPeak is the largest linear memory of any VM at the last sample.
func (r *report) memoryPeak() (uint32, bool) {
	if len(r.memory) == 0 {
		return 0, false
	}
	var peak uint32
	for _, m := range r.memory[len(r.memory)-1].VMMemory {
		peak = max(peak, m)
	}
	return peak, true
}

// gaps explains every missed target from this run's measurements.
func (r *report) gaps(w func(string, ...any)) {
	w("## Gaps\n\n")
	floor, okF := r.decision("noop-floor")
	warm, okW := r.decision("warm-rate-limit")
	missed := false
	if okF && okW && (warm.Metrics["p50-ns"] > 10e3 || warm.Metrics["p50-ns"] > 2*floor.Metrics["p50-ns"]) {
		missed = true
		m := warm.Metrics
		met := ""
		if m["p50-ns"] <= 10e3 {
			met = " (the 10 µs target is met)"
		}
		w("**Warm-path decision: %s at p50%s, %.1fx the no-op floor against 2x.** ", us(m["p50-ns"]), met,
			m["p50-ns"]/floor.Metrics["p50-ns"])
		w("A CPU profile of the warm-path benchmark in this run (`go test -cpuprofile`, host side) puts %.0f%% of the\n", r.profile.GuestPct)
		w("time in the guest's own compiled code (`runtime._ExternalCode`) and %.0f%% in the host functions it calls: the\n", r.profile.HostImportsPct)
		w("cost is the filter's Go code running as wasm, not the host interface. The guest allocates %.0f times per request\n", m["guest-allocs/op"])
		w("(the no-op floor: %.0f), and the gap between p50 (%s) and mean (%s) and the p99 (%s) is the guest's garbage\n",
			floor.Metrics["guest-allocs/op"], us(m["p50-ns"]), us(m["ns/op"]), us(m["p99-ns"]))
		w("collector, which runs inside the request that triggers it. The key's hash (per-VM raw key -> hash cache),\n")
		w("header copies (views of the host's memory), the bucket key and state and the response header values no\n")
		w("longer allocate, and counters reach the host once per tick instead of once per request. What remains is\n")
		w("%.0f host calls per warm request (the request headers in one snapshot, `x-turnpike-api-id`, the clock, the\n", m["host-calls/op"])
		w("bucket's shared-data get and set, 3 response headers), %.0f of which the host answers by calling back into\n", m["host-allocs/op"])
		w("the guest to allocate the result, and the filter's own code: the guest profiler\n")
		w("(`TURNPIKE_WASM_PROFILE=DIR go test -bench BenchmarkDecision ./filter/`) counts three to four times the floor's\n")
		w("guest function calls per warm request, spread over the pipeline's steps (header reads, path normalization,\n")
		w("API match, key extraction and hash cache, the bucket's shared-data update, the response headers) with no\n")
		w("single hot spot. Each is a few map lookups or host calls; what is left to cut is layers (a header read is\n")
		w("seven guest calls deep) rather than one step.\n\n")
	}
	noop, ok1 := r.gatewayRow("turnpike-gateway + no-op")
	tp, ok2 := r.gatewayRow(rowWarm)
	if ok1 && ok2 && tp.RPS < 0.85*noop.RPS {
		missed = true
		w("**Gateway throughput: %.0f%% of the no-op filter's, against 85%%.** On this machine the load generator, upstream,\n", 100*tp.RPS/noop.RPS)
		w("gateway, sidecar and Redis share %d CPUs, so throughput is set by CPU per request: the gateway process used %s of\n", r.machine.CPUs, dur(tp.CPUPerReq))
		w("CPU per request with filter.wasm against %s with the no-op filter (plain proxy: %s). The difference, %s, is\n",
			dur(noop.CPUPerReq), r.plainCPU(), dur(tp.CPUPerReq-noop.CPUPerReq))
		if tp.ProfiledCPU > 0 && noop.ProfiledCPU > 0 {
			w("mostly the guest's compiled code: a CPU profile of each of the two gateways over a second, profiled window (turnpike-gateway\n")
			w("`--pprof`) puts %s per request in `runtime._ExternalCode` (the guest's wasm) with filter.wasm against %s with\n",
				dur(tp.GuestCPU), dur(noop.GuestCPU))
			w("the no-op filter, %s of the %s the profiles sampled more per request. System calls took %s more (%s against\n",
				dur(tp.GuestCPU-noop.GuestCPU), dur(tp.ProfiledCPU-noop.ProfiledCPU), dur(tp.SyscallCPU-noop.SyscallCPU), dur(tp.SyscallCPU))
			w("%s per request: the same reads and writes per request, each dearer at the lower request rate; not attributed\n", dur(noop.SyscallCPU))
			w("further); the rest is the host functions, wazero's calls into the guest, allocation and scheduling\n")
			w("(`go run ./tests/cmd/turnpike-bench -compare BASE.wasm -cpuprofile DIR` profiles two builds side by side for\n")
			w("`go tool pprof -top -diff_base`). ")
		} else {
			w("mostly the guest's compiled code (profile the gateways with `go run ./tests/cmd/turnpike-bench -compare\n")
			w("BASE.wasm -cpuprofile DIR` and read `runtime._ExternalCode` in `go tool pprof -top`). ")
		}
		w("The guest runs the same code as in section 1 (the same guest calls per request,\n")
		w("`turnpike-gateway --guest-profile`), but each request costs it more")
		if tp.GuestCPU > 0 && noop.GuestCPU > 0 && okW && okF && warm.Metrics["ns/op"] > 0 && floor.Metrics["ns/op"] > 0 {
			w(" (%.1fx section 1's mean with filter.wasm, %.1fx with the\nno-op filter)",
				float64(tp.GuestCPU.Nanoseconds())/warm.Metrics["ns/op"], float64(noop.GuestCPU.Nanoseconds())/floor.Metrics["ns/op"])
		}
		w(", the no-op filter as much as filter.wasm: between two requests of one VM the gateway's HTTP handling, the other VM, the load generator\n")
		w("and the upstream evict the guest's code and data from the CPU caches.")
		if cf, ok := findBench(r.cold, "ColdCache/noop-floor/cold-caches"); ok {
			wf, _ := findBench(r.cold, "ColdCache/noop-floor/warm-caches")
			ww, _ := findBench(r.cold, "ColdCache/warm-rate-limit/warm-caches")
			cw, _ := findBench(r.cold, "ColdCache/warm-rate-limit/cold-caches")
			w(" `go test -bench BenchmarkColdCache ./filter/` writes\n")
			w("4 MiB (more than a core's L2 cache) before each request, outside its timing: the floor's decision then takes\n")
			w("%s instead of %s on average, the warm key's %s instead of %s.",
				us(cf.Metrics["decision-ns/op"]), us(wf.Metrics["decision-ns/op"]), us(cw.Metrics["decision-ns/op"]), us(ww.Metrics["decision-ns/op"]))
		}
		w(" The lever is therefore\n")
		w("the guest code and memory a request touches, the same as section 1's. Under Envoy the filter's share of a request is\n")
		w("smaller, because Envoy's own per-request cost is larger than this Go gateway's and V8/wasmtime run the guest\n")
		w("code at least as fast as wazero.\n\n")
	}
	if peak, ok := r.memoryPeak(); ok && peak > memoryTargetMiB<<20 {
		missed = true
		w("**VM memory: %.1f MiB of linear memory per VM after %d requests over %d keys, against %d MiB.** ",
			float64(peak)/(1<<20), r.memory[len(r.memory)-1].Requests, r.opts.memKeys, memoryTargetMiB)
		w("The guest heap is the per-VM session cache (bounded by `session_cache.max_bytes`), the raw key -> hash\n")
		w("cache, the evicted-keys memory and the idle-bucket sweep's map, times 1.5 to 2 for the GOGC the filter sets\n")
		w("from the live heap (50 to 100), plus about 7 MiB of runtime and filter. `go test -run '^$' -bench BenchmarkSessionCacheMemory ./filter/` reports the live heap next\n")
		w("to linear memory, and `go run ./tests/cmd/turnpike-bench -memory-only -wasm <a -tags turnpike_bench build>` logs it.\n\n")
	}
	if n := len(r.memory); n >= 2 {
		first, last := r.memory[1], r.memory[n-1]
		grew := false
		for i := range first.VMMemory {
			grew = grew || last.VMMemory[i] != first.VMMemory[i]
		}
		if grew {
			missed = true
			w("**VM memory not flat: %s -> %s MiB per VM from %d to %d requests.** Linear memory is the guest heap's\n",
				strings.Join(mib32(first.VMMemory), "/"), strings.Join(mib32(last.VMMemory), "/"), first.Requests, last.Requests)
			w("high-water mark, so one late peak of the heap raises it for good. What the VMs keep no longer grows: the\n")
			w("structure that did, the map of buckets tracked for the idle sweep, followed the highest request rate seen (a Go\n")
			w("map never shrinks), and once the rate filled it, shedding in Go's map order emptied a few of its tables while\n")
			w("new keys split the others (426 KB to 1.9 MB natively after 2,000,000 new keys); it is now made at its bound and\n")
			w("sheds by age. With a benchmark build, `go run ./tests/cmd/turnpike-bench -memory-only -wasm <a -tags\n")
			w("turnpike_bench build>` logs the live heap after a collection at an idle tick (both VMs, 100,000 / 250,000 /\n")
			w("500,000 / 1,000,000 requests): 10.37 / 10.44 / 10.61 / 10.85 MiB before, 10.93 / 10.98 / 10.99 / 10.92 MiB\n")
			w("after, in one run of each side by side. The live heap as the last collection under load marked it is larger\n")
			w("and varies (11.9 to 12.7 MiB in those runs; 12.9 -> 13.4 -> 13.6 MiB logged before): a VM's background mark\n")
			w("workers run only when the plugin yields, so a collection that the requests' allocation assists finish counts as\n")
			w("live all they allocated while it marked. That floating garbage, and the heap that grows past the goal until the\n")
			w("next tick's overdue collection, set the peak, which varies with the request rate and from run to run: what is\n")
			w("left to flatten is the collector's pacing, not a structure. `go test -run '^$' -bench BenchmarkPluginHeap\n")
			w("-benchtime 1000000x ./filter/internal/plugin/` runs the scenario natively, with heap profiles.\n\n")
		}
	}
	rate, okR := r.gatewayRow(rowWarm)
	lease, okL := r.gatewayRow(rowQuotaLease)
	if okR && okL && (lease.RPS < 0.85*rate.RPS || lease.SidecarCalls > 0.05 || lease.RedisRTT > 0.05) {
		missed = true
		w("**Quota keys far from exhaustion: %.0f%% of the rate-only keys' throughput, %.4f sidecar calls and %.4f Redis\n",
			100*lease.RPS/rate.RPS, lease.SidecarCalls, lease.RedisRTT)
		w("round trips per request.** A leased request spends a unit from shared data (one compare-and-swap) where a\n")
		w("rate-only request does not; the rest is noise between two runs on shared CPUs. Rerun with `-duration 60s`.\n\n")
	}
	if r.quota.Overshoot != 0 {
		missed = true
		w("**Quota overshoot: %d, must be 0.** This is a correctness bug, not a performance gap.\n\n", r.quota.Overshoot)
	}
	if !missed {
		w("None: every target was met in this run.\n\n")
	}
}

func (r *report) plainCPU() string {
	if p, ok := r.gatewayRow("plain"); ok {
		return dur(p.CPUPerReq)
	}
	return "—"
}
