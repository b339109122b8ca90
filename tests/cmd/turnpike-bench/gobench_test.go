package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkDecision/noop-floor-2         	  278584	      3606 ns/op	         0 guest-allocs/op	      2036 p50-ns	     752 B/op	       4 allocs/op
BenchmarkSessionLookup/callers=64-2    	    2000	     16192 ns/op	     61758 ops/s	         1.056 redis-rtt/op
--- FAIL: BenchmarkBroken
BenchmarkNoProcs 10 5 ns/op
PASS
ok  	github.com/turnpike-dev/turnpike/filter	3.920s
`
	got := parseGoBench(out)
	if len(got) != 3 {
		t.Fatalf("parsed %d results: %+v", len(got), got)
	}
	for _, tc := range []struct {
		name, unit string
		want       float64
	}{
		{"Decision/noop-floor", "ns/op", 3606},
		{"Decision/noop-floor", "p50-ns", 2036},
		{"Decision/noop-floor", "allocs/op", 4},
		{"SessionLookup/callers=64", "redis-rtt/op", 1.056},
		{"NoProcs", "ns/op", 5},
	} {
		b, ok := findBench(got, tc.name)
		if !ok {
			t.Fatalf("%s missing", tc.name)
		}
		if b.Metrics[tc.unit] != tc.want {
			t.Errorf("%s %s = %v, want %v", tc.name, tc.unit, b.Metrics[tc.unit], tc.want)
		}
	}
	if b, _ := findBench(got, "Decision/noop-floor"); b.N != 278584 {
		t.Errorf("N = %d", b.N)
	}
}

func TestParsePprofTop(t *testing.T) {
	out := `Showing nodes accounting for 3.71s, 94.16% of 3.94s total
      flat  flat%   sum%        cum   cum%
     2.99s 75.89% 75.89%      2.99s 75.89%  runtime._ExternalCode
     0.01s  0.25% 91.12%      0.26s  6.60%  github.com/turnpike-dev/turnpike/tests/wasmhost.(*Host).buildEnv.func1
`
	p, err := parsePprofTop(out)
	if err != nil || p.GuestPct != 75.89 || p.HostImportsPct != 6.60 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := parsePprofTop("nothing"); err == nil {
		t.Fatal("a profile without guest code was accepted")
	}
}

// TestAuthTargetsPreferAlternated: an auth target row takes its ratio from
// the alternated case when it ran, else from the sequential rows.
func TestAuthTargetsPreferAlternated(t *testing.T) {
	bench := func(name string, m map[string]float64) goBench { return goBench{Name: "Decision/" + name, Metrics: m} }
	r := &report{opts: &options{}, vm: []goBench{
		bench("warm-rate-limit", map[string]float64{"p50-ns": 2000}),
		bench("basic-auth-cached", map[string]float64{"p50-ns": 5000}),
		bench("basic-auth-cached-vs-warm", map[string]float64{"warm-p50-ns": 2000, "auth-p50-ns": 2400}),
		bench("warm-jwt-es256", map[string]float64{"p50-ns": 4000}),
	}}
	var b strings.Builder
	r.targets(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	for _, want := range []string{
		"| remembered basic auth <= 1.5x the warm key (p50, alternated in one loop) | 1.20x (2.4 µs vs 2.0 µs) | **met** |",
		"| warm JWT (ES256) <= 1.5x the warm key (p50) | 2.00x (4.0 µs vs 2.0 µs) | **missed** |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "HMAC") {
		t.Errorf("a target row for a case that did not run:\n%s", b.String())
	}
}

func TestRoundOrder(t *testing.T) {
	targets := []string{"no-op", "base", "candidate"}
	for r, want := range [][]string{{"no-op", "base", "candidate"}, {"candidate", "base", "no-op"}, {"no-op", "base", "candidate"}} {
		if got := roundOrder(targets, r); !slices.Equal(got, want) {
			t.Errorf("round %d: %v, want %v", r, got, want)
		}
	}
	if targets[0] != "no-op" {
		t.Error("roundOrder changed its argument")
	}
}

func TestParsePprofSeconds(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      pprofSplit
		err       bool
	}{
		{"seconds", "Duration: 8s, Total samples = 5.83s (72.86%)\n     2.01s 34.48% 34.48%      2.01s 34.48%  runtime._ExternalCode\n" +
			"     1.03s 17.67% 52.14%      1.03s 17.67%  internal/runtime/syscall/linux.Syscall6\n", pprofSplit{5.83, 2.01, 1.03}, false},
		{"milliseconds", "Duration: 8s, Total samples = 5260ms (65.74%)\n     550ms 10.46% 34.79%      550ms 10.46%  runtime._ExternalCode\n",
			pprofSplit{5.26, 0.55, 0}, false},
		{"no guest code", "Duration: 8s, Total samples = 1.5s (20%)\n", pprofSplit{1.5, 0, 0}, false},
		{"no samples", "nothing", pprofSplit{}, true},
	} {
		got, err := parsePprofSeconds(tc.out)
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
		if (err != nil) != tc.err || !near(got.total, tc.want.total) || !near(got.guest, tc.want.guest) || !near(got.sys, tc.want.sys) {
			t.Errorf("%s: %+v %v", tc.name, got, err)
		}
	}
}
