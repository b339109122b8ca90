package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// warmProfile is where the host process spends its CPU on the warm path.
type warmProfile struct {
	GuestPct       float64 // runtime._ExternalCode: the guest's compiled wasm (wazero emits it outside Go)
	HostImportsPct float64 // the host functions the guest calls (headers, shared data, metrics, ...)
}

// profileWarmPath CPU-profiles the warm-path decision benchmark and reads
// pprof's top listing.
func profileWarmPath(ctx context.Context, dir, benchtime string) (warmProfile, error) {
	prof, bin := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "filter.test")
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkDecision$/^warm-rate-limit$", "-benchtime", benchtime,
		"-cpuprofile", prof, "-o", bin, "./filter"}
	logf("go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return warmProfile{}, fmt.Errorf("profiling: %w\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=200", bin, prof).Output()
	if err != nil {
		return warmProfile{}, fmt.Errorf("pprof: %w", err)
	}
	return parsePprofTop(string(out))
}

// pprofSplit is a CPU profile's total and two of its parts, in seconds.
type pprofSplit struct {
	total float64
	guest float64 // flat in runtime._ExternalCode: the guest's compiled wasm
	sys   float64 // flat in the raw system call (time in the kernel's socket reads and writes, mostly)
}

// parsePprofSeconds reads, from `pprof -top`, the samples' total
// ("Total samples = 5.83s") and the flat time of runtime._ExternalCode and
// of the raw system call.
func parsePprofSeconds(out string) (pprofSplit, error) {
	var p pprofSplit
	found := false
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, "Total samples = "); ok {
			v, _, _ := strings.Cut(rest, " ")
			var err error
			if p.total, err = pprofSeconds(v); err != nil {
				return p, err
			}
			found = true
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		var dst *float64
		switch name := strings.Join(f[5:], " "); {
		case name == "runtime._ExternalCode":
			dst = &p.guest
		case strings.HasSuffix(name, "syscall.Syscall6") || strings.HasSuffix(name, "linux.Syscall6"):
			dst = &p.sys
		default:
			continue
		}
		v, err := pprofSeconds(f[0])
		if err != nil {
			return p, err
		}
		*dst += v
	}
	if !found {
		return p, fmt.Errorf("no samples in the profile:\n%s", out)
	}
	return p, nil
}

// pprofSeconds parses a pprof duration such as 5.83s, 550ms or 0.
func pprofSeconds(v string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"s", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			return f * u.scale, err
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err
}

// parsePprofTop reads `pprof -top` rows: flat flat% sum% cum cum% name.
func parsePprofTop(out string) (warmProfile, error) {
	var p warmProfile
	found := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		name := strings.Join(f[5:], " ")
		pct := func(s string) float64 { v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64); return v }
		switch {
		case name == "runtime._ExternalCode":
			p.GuestPct, found = pct(f[1]), true
		case strings.HasSuffix(name, "wasmhost.(*Host).buildEnv.func1"):
			p.HostImportsPct = pct(f[4])
		}
	}
	if !found {
		return p, fmt.Errorf("no guest code in the profile:\n%s", out)
	}
	return p, nil
}
