package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/tests/loadgen"
)

// sidecarRow is one operation at one concurrency.
type sidecarRow struct {
	Op       string
	Callers  int
	OpsPerS  float64
	P50, P99 time.Duration
	RedisRTT float64 // Redis round trips per operation (-1 for the raw Redis rows)
	Failed   int64   // errors and non-200 answers
}

var sidecarCallers = []int{1, 8, 64}

// sidecarScenario measures the Filter API the filter calls (session lookup,
// quota reservation) over HTTP on the real sidecar and Redis, then the raw
// Redis ceiling with redis-benchmark in the same run.
func sidecarScenario(ctx context.Context, e *env, duration time.Duration) ([]sidecarRow, error) {
	const n = 1000
	ks, err := e.createKeys(ctx, "sc", n, keySession(`"rate":100,"per":1`))
	if err != nil {
		return nil, err
	}
	auth := [][2]string{{"X-Turnpike-Filter-Token", filterToken}}
	lookups := make([]loadgen.Request, n)
	reserves := make([]loadgen.Request, n)
	for i, k := range ks {
		h := keys.Hash(k)
		lookups[i] = loadgen.Request{Path: "/turnpike/v1/sessions/" + h, Header: auth}
		reserves[i] = loadgen.Request{Method: "POST", Path: "/turnpike/v1/quota",
			Header: append([][2]string{{"Content-Type", "application/json"}}, auth...),
			Body:   []byte(`{"key_hash":"` + h + `","quota_max":1000000000000,"quota_renewal_rate":3600,"units":1}`)}
	}
	addr := strings.TrimPrefix(e.sidecarURL, "http://")
	var rows []sidecarRow
	for _, op := range []struct {
		name string
		reqs []loadgen.Request
	}{{"session lookup (GET /turnpike/v1/sessions/{hash})", lookups}, {"quota reservation (POST /turnpike/v1/quota)", reserves}} {
		for _, c := range sidecarCallers {
			before, err := e.redisRoundTrips(ctx)
			if err != nil {
				return nil, err
			}
			res, err := loadgen.Run(ctx, loadgen.Options{Addr: addr, Requests: op.reqs, Connections: c,
				Warmup: time.Second, Duration: duration})
			if err != nil {
				return nil, err
			}
			after, err := e.redisRoundTrips(ctx)
			if err != nil {
				return nil, err
			}
			all := float64(res.Requests) * float64(time.Second+duration) / float64(duration)
			row := sidecarRow{Op: op.name, Callers: c, OpsPerS: res.RPS(), P50: res.Latency.Quantile(0.5),
				P99: res.Latency.Quantile(0.99), RedisRTT: float64(after-before) / all,
				Failed: res.Errors + res.Requests - res.Status[200]}
			rows = append(rows, row)
			logf("sidecar: %-50s callers %2d  %8.0f ops/s  p50 %v  p99 %v  failed %d", op.name, c, row.OpsPerS, row.P50, row.P99, row.Failed)
		}
	}
	raw, err := redisCeiling(ctx, e, duration)
	if err != nil {
		return nil, err
	}
	return append(rows, raw...), nil
}

// redisCeiling runs redis-benchmark (Debian's redis-tools) for INCR and for
// EVALSHA of a one-INCR script, unpipelined, with 1, 8 and 64 clients,
// each for about duration.
func redisCeiling(ctx context.Context, e *env, duration time.Duration) ([]sidecarRow, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark not found (Debian: apt-get install redis-tools): %w", err)
	}
	sha, err := e.rdb.ScriptLoad(ctx, "return redis.call('INCR', KEYS[1])").Result()
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(e.redisAddr, ":")
	var rows []sidecarRow
	for _, op := range []struct {
		name string
		cmd  []string
	}{
		{"raw Redis: INCR", []string{"INCR", "bench:__rand_int__"}},
		{"raw Redis: EVALSHA (one INCR)", []string{"EVALSHA", sha, "1", "bench:__rand_int__"}},
	} {
		for _, c := range sidecarCallers {
			// Size the run from a short probe so each takes about duration.
			probe, err := redisBenchmark(ctx, bin, host, port, c, 2000, op.cmd)
			if err != nil {
				return nil, err
			}
			total := max(int(probe.OpsPerS*duration.Seconds()), 2000)
			row, err := redisBenchmark(ctx, bin, host, port, c, total, op.cmd)
			if err != nil {
				return nil, err
			}
			row.Op = op.name
			rows = append(rows, row)
			logf("redis:   %-50s clients %2d  %8.0f ops/s  p50 %v  p99 %v", op.name, c, row.OpsPerS, row.P50, row.P99)
		}
	}
	return rows, nil
}

// redisBenchmark runs one redis-benchmark and parses its --csv line:
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
func redisBenchmark(ctx context.Context, bin, host, port string, clients, requests int, cmd []string) (sidecarRow, error) {
	args := append([]string{"-h", host, "-p", port, "-c", strconv.Itoa(clients), "-n", strconv.Itoa(requests),
		"-r", "1000", "--csv"}, cmd...)
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return sidecarRow{}, fmt.Errorf("redis-benchmark %v: %w", args, err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 7 {
		return sidecarRow{}, fmt.Errorf("redis-benchmark output %q: %v", out, err)
	}
	f := func(i int) float64 { v, _ := strconv.ParseFloat(recs[1][i], 64); return v }
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return sidecarRow{Callers: clients, OpsPerS: f(1), P50: ms(f(4)), P99: ms(f(6)), RedisRTT: -1}, nil
}
