// Command turnpike-bench runs Turnpike's benchmark suite and writes
// BENCHMARKS.md from what it measured: the Go benchmarks of the filter in the
// VM and of the sidecar's Redis store (run with `go test -bench`), then, with
// a real redis-server, turnpike-sidecar, turnpike-gateway and an upstream on
// loopback, gateway throughput against its baselines, the sidecar's Filter
// API against raw Redis (redis-benchmark), memory over a million requests,
// and rate-limit and quota accuracy under load.
//
// Run it from the module root after `make build` (`make bench` does both):
//
//	go run ./tests/cmd/turnpike-bench -out BENCHMARKS.md
//
// Defaults fit in about five minutes on 2 cores; -duration, -benchtime and
// -memory-requests run longer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

type options struct {
	out, binDir, wasm            string
	duration, warmup, sidecarDur time.Duration
	connections, workers, keys   int
	benchtime                    string
	memRequests, memKeys         int
	rate                         int
	rateDuration                 time.Duration
	quota                        int64
	quotaClients                 int
	role, addr, upstream         string
	skipGoBench, memoryOnly      bool
	tyk                          string
	peerOnly                     bool
	compare                      string // base filter.wasm for -compare
	analyticsPair                bool
	rounds                       int
	cpuProfile                   string // -compare: directory for the gateways' CPU profiles
	compareAnalytics             bool
	guestProfile                 bool
}

func parseFlags() *options {
	o := &options{}
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.binDir, "bin", "build/out/bin", "directory with turnpike-sidecar and turnpike-gateway (make build)")
	flag.StringVar(&o.wasm, "wasm", "build/out/filter.wasm", "the filter (make wasm)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each gateway run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each gateway run")
	flag.IntVar(&o.connections, "connections", 32, "load-generator connections for the gateway runs")
	flag.IntVar(&o.workers, "workers", 2, "gateway VMs (Envoy worker threads)")
	flag.IntVar(&o.keys, "keys", 100, "distinct API keys in the gateway runs")
	flag.DurationVar(&o.sidecarDur, "sidecar-duration", 3*time.Second, "measured time of each sidecar and redis-benchmark run")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime for the Go benchmarks")
	flag.IntVar(&o.memRequests, "memory-requests", 1_000_000, "requests in the memory run")
	flag.IntVar(&o.memKeys, "memory-keys", 100_000, "distinct keys in the memory run")
	flag.IntVar(&o.rate, "rate", 100, "rate limit (requests per second) in the accuracy run")
	flag.DurationVar(&o.rateDuration, "rate-duration", 5*time.Second, "length of the rate accuracy run")
	flag.Int64Var(&o.quota, "quota", 1000, "quota in the accuracy run")
	flag.IntVar(&o.quotaClients, "quota-clients", 50, "concurrent clients in the quota accuracy run")
	flag.BoolVar(&o.skipGoBench, "skip-go-bench", false, "skip the go test benchmarks (for a quick look at the rest)")
	flag.BoolVar(&o.memoryOnly, "memory-only", false, "run only the memory scenario and log its samples; the report is not written")
	flag.StringVar(&o.tyk, "tyk", os.Getenv("TURNPIKE_BENCH_TYK"), "a Tyk gateway binary to compare with, side by side (BENCHMARKS.md § 2, peer rows); default $TURNPIKE_BENCH_TYK")
	flag.BoolVar(&o.peerOnly, "peer-only", false, "run only the Tyk comparison (needs -tyk) and log it; the report is not written")
	flag.StringVar(&o.compare, "compare", "", "BASE.wasm: only compare it with -wasm on the gateway (warm keys, analytics off and on), interleaved; the report is not written")
	flag.BoolVar(&o.analyticsPair, "analytics-pair", false, "only measure -wasm on the gateway with analytics off and on, both loaded at once (half the connections each); the report is not written")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of -compare and -analytics-pair")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "DIR: with -compare, take a CPU profile of each gateway over a second window of the same load after the measured one (turnpike-gateway --pprof) into DIR/<target>-<round>.pprof; compare with go tool pprof -top -diff_base")
	flag.BoolVar(&o.guestProfile, "guest-profile", false, "with -compare and -cpuprofile, also run the gateways' VMs under wasmhost's profiler (guest functions and host calls with call counts; much slower) and write DIR/<target>-<round>.guest.pb.gz")
	flag.BoolVar(&o.compareAnalytics, "compare-analytics", true, "with -compare, also compare the builds with analytics on")
	flag.StringVar(&o.role, "role", "", "internal: run as the benchmark's upstream or plain proxy")
	flag.StringVar(&o.addr, "addr", "", "internal: listen address of -role")
	flag.StringVar(&o.upstream, "upstream", "", "internal: upstream URL of -role proxy")
	flag.Parse()
	return o
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func main() {
	o := parseFlags()
	var err error
	switch o.role {
	case "upstream":
		err = serveUpstream(o.addr)
	case "proxy":
		err = servePlainProxy(o.addr, o.upstream)
	case "":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		err = run(ctx, o)
		stop()
	default:
		err = fmt.Errorf("unknown -role %q", o.role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "turnpike-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	started := time.Now()
	r := &report{opts: o, started: started}
	var err error
	if r.machine, err = describeMachine(); err != nil {
		return err
	}
	for _, f := range []string{o.wasm, filepath.Join(o.binDir, "turnpike-sidecar"), filepath.Join(o.binDir, "turnpike-gateway")} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run make build first)", err)
		}
	}
	dir, err := os.MkdirTemp("", "turnpike-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.memoryOnly {
		return runMemoryOnly(ctx, dir, o)
	}
	if o.peerOnly {
		return runPeerOnly(ctx, dir, o)
	}
	if o.compare != "" {
		return runCompare(ctx, dir, o)
	}
	if o.analyticsPair {
		return withEnv(ctx, dir, o, func(e *env) error {
			p, err := analyticsPair(ctx, e, o.gatewayOpts(), o.wasm, o.rounds)
			if err == nil {
				p.print()
			}
			return err
		})
	}
	if !o.skipGoBench {
		if r.vm, err = runGoBench(ctx, "./filter", "^BenchmarkDecision$", o.benchtime); err != nil {
			return err
		}
		if r.cold, err = runGoBench(ctx, "./filter", "^BenchmarkColdCache$", o.benchtime); err != nil {
			return err
		}
		if r.profile, err = profileWarmPath(ctx, dir, "2s"); err != nil {
			return err
		}
		if r.store, err = runGoBench(ctx, "./sidecar/internal/store", ".", o.benchtime); err != nil {
			return err
		}
	}
	noop, err := wasmbuild.Build(ctx, "filter/testdata/noop", wasmbuild.Options{})
	if err != nil {
		return err
	}
	e, err := startEnv(ctx, dir, o.binDir)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.seedAPI(ctx); err != nil {
		return err
	}
	if r.gateway, err = gatewayScenario(ctx, e, o.gatewayOpts(), o.wasm, noop); err != nil {
		return err
	}
	if r.analyticsPair, err = analyticsPair(ctx, e, o.gatewayOpts(), o.wasm, 1); err != nil {
		return err
	}
	if o.tyk != "" {
		if r.peer, err = peerScenario(ctx, e, o.gatewayOpts(), o.tyk, o.wasm); err != nil {
			return err
		}
	}
	if r.sidecar, err = sidecarScenario(ctx, e, o.sidecarDur); err != nil {
		return err
	}
	if r.rate, err = rateScenario(ctx, e, o.wasm, o.rate, o.rateDuration); err != nil {
		return err
	}
	if r.quota, err = quotaScenario(ctx, e, o.wasm, o.quota, o.quotaClients); err != nil {
		return err
	}
	if r.memory, err = memoryScenario(ctx, e, o.wasm, memoryOpts{requests: o.memRequests, keys: o.memKeys,
		workers: o.workers, concurrency: 8}); err != nil {
		return err
	}
	r.elapsed = time.Since(started)
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %v", o.out, r.elapsed.Round(time.Second))
	return nil
}

// withEnv starts the environment with the benchmark API, runs fn on it and
// stops it: the single-scenario modes (-memory-only, -peer-only, -compare).
func withEnv(ctx context.Context, dir string, o *options, fn func(e *env) error) error {
	e, err := startEnv(ctx, dir, o.binDir)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.seedAPI(ctx); err != nil {
		return err
	}
	return fn(e)
}

// gatewayOpts are the gateway runs' settings from the flags.
func (o *options) gatewayOpts() gatewayOpts {
	return gatewayOpts{connections: o.connections, warmup: o.warmup, duration: o.duration, workers: o.workers, keys: o.keys}
}

// runMemoryOnly runs the memory scenario alone (-memory-only), for working on
// the filter's memory without the rest of the suite; its samples are logged.
func runMemoryOnly(ctx context.Context, dir string, o *options) error {
	return withEnv(ctx, dir, o, func(e *env) error {
		_, err := memoryScenario(ctx, e, o.wasm, memoryOpts{requests: o.memRequests, keys: o.memKeys,
			workers: o.workers, concurrency: 8})
		return err
	})
}

// runPeerOnly runs the Tyk comparison alone (-peer-only); its rows are logged.
func runPeerOnly(ctx context.Context, dir string, o *options) error {
	if o.tyk == "" {
		return fmt.Errorf("-peer-only needs -tyk")
	}
	return withEnv(ctx, dir, o, func(e *env) error {
		_, err := peerScenario(ctx, e, o.gatewayOpts(), o.tyk, o.wasm)
		return err
	})
}

// runCompare runs gatewayCompare alone (-compare).
func runCompare(ctx context.Context, dir string, o *options) error {
	noop, err := wasmbuild.Build(ctx, "filter/testdata/noop", wasmbuild.Options{})
	if err != nil {
		return err
	}
	return withEnv(ctx, dir, o, func(e *env) error {
		return gatewayCompare(ctx, e, o.gatewayOpts(), compareOpts{base: o.compare, cand: o.wasm, noop: noop,
			rounds: o.rounds, profileDir: o.cpuProfile, guestProfile: o.guestProfile, analytics: o.compareAnalytics})
	})
}
