package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	Name    string             // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	N       int64              // iterations
	Metrics map[string]float64 // unit -> value: ns/op, allocs/op, B/op and custom ones
}

// runGoBench runs the benchmarks matching pattern in pkg (relative to the
// module root, the working directory) and parses their results.
func runGoBench(ctx context.Context, pkg, pattern, benchtime string) ([]goBench, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime, "-count", "1", pkg}
	logf("go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test %s: %w\n%s", pkg, err, out)
	}
	res := parseGoBench(string(out))
	if len(res) == 0 {
		return nil, fmt.Errorf("go test %s -bench %s: no results in\n%s", pkg, pattern, out)
	}
	return res, nil
}

// parseGoBench reads the standard benchmark result lines:
//
//	BenchmarkName/sub-2   1000   1234 ns/op   5.0 p50-ns   12 allocs/op
func parseGoBench(out string) []goBench {
	var res []goBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := goBench{Name: name, N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.Metrics[f[i+1]] = v
		}
		res = append(res, b)
	}
	return res
}

func findBench(all []goBench, name string) (goBench, bool) {
	for _, b := range all {
		if b.Name == name {
			return b, true
		}
	}
	return goBench{}, false
}
