package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// memoryPoint is the state after a number of requests.
type memoryPoint struct {
	Requests      int64
	VMMemory      []uint32 // linear memory per VM, bytes
	SharedKeys    int      // names in shared data
	SharedBytes   int64    // bytes of all shared-data values
	SidecarRSS    int64    // bytes
	Elapsed       time.Duration
	NonOK, Errors int64
}

type memoryOpts struct {
	requests, keys, workers, concurrency int
}

// memoryScenario sends requests over keys distinct keys (key i%keys, so each
// pass touches every key) through filter.wasm with the default
// configuration, and samples VM linear memory, shared data and the
// sidecar's RSS along the way.
func memoryScenario(ctx context.Context, e *env, wasm string, o memoryOpts) ([]memoryPoint, error) {
	logf("memory: creating %d keys", o.keys)
	ks, err := e.createKeys(ctx, "mem", o.keys, keySession(`"rate":1000,"per":1,"quota_max":-1`))
	if err != nil {
		return nil, err
	}
	h, err := loadFilter(ctx, e, wasm, o.workers, "")
	if err != nil {
		return nil, err
	}
	defer h.Close(context.Background())

	checkpoints := []int64{int64(o.keys), int64(o.requests) / 4, int64(o.requests) / 2, int64(o.requests)}
	start := time.Now()
	var next, nonOK, errs atomic.Int64
	var points []memoryPoint
	var waited time.Duration // in samples, not sending
	sample := func(done int64) error {
		p := memoryPoint{Requests: done, Elapsed: time.Since(start) - waited, NonOK: nonOK.Load(), Errors: errs.Load()}
		for i := range h.NumVMs() {
			p.VMMemory = append(p.VMMemory, h.VM(i).MemorySize())
		}
		names := h.SharedDataKeys()
		p.SharedKeys = len(names)
		for _, k := range names {
			v, _, _ := h.SharedData(k)
			p.SharedBytes += int64(len(v))
		}
		rss, err := rssBytes(e.sidecar.pid())
		if err != nil {
			return err
		}
		p.SidecarRSS = rss
		points = append(points, p)
		// A filter built with -tags turnpike_bench also publishes its live
		// heap (all VMs) as its last collection marked it, and collects at
		// the first tick without requests (filter/main_bench.go): the value
		// read now is the one under load, which counts what the requests
		// allocated while that collection marked; after the idle tick (the
		// default interval is 250 ms; the second tick after the load is the
		// idle one) it is what the VMs keep. Also the bytes the SDK's arena
		// keeps.
		if loaded, ok := h.Metric("turnpike.bench.heap_live_bytes"); ok {
			time.Sleep(idleWait)
			waited += idleWait
			m, _ := h.Metric("turnpike.bench.heap_live_bytes")
			a, _ := h.Metric("turnpike.bench.arena_bytes")
			logf("memory: live guest heap %.2f MiB after an idle collection (%.2f MiB as marked under load), arena %.2f MiB (all VMs)",
				float64(m.Value)/(1<<20), float64(loaded.Value)/(1<<20), float64(a.Value)/(1<<20))
		}
		logf("memory: %8d requests  VM memory %v MiB  shared data %d keys / %.1f MiB  sidecar RSS %.1f MiB  non-200 %d  (%v)",
			done, mib32(p.VMMemory), p.SharedKeys, float64(p.SharedBytes)/(1<<20), float64(p.SidecarRSS)/(1<<20), p.NonOK, p.Elapsed.Round(time.Second))
		return nil
	}
	from := int64(0)
	for _, upto := range checkpoints {
		if upto <= from {
			continue
		}
		// Run requests [from, upto) with o.concurrency streams in flight.
		next.Store(from)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range o.concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= upto {
						return
					}
					status, err := decide(ctx, h, ks[i%int64(len(ks))])
					switch {
					case err != nil:
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err)
					case status != 200:
						nonOK.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			logf("memory: first error: %v", err)
		}
		if err := sample(upto); err != nil {
			return nil, err
		}
		from = upto
	}
	if n := errs.Load(); n > 0 {
		return points, fmt.Errorf("memory: %d requests failed", n)
	}
	return points, nil
}

// idleWait is how long a sample waits for the idle tick of a benchmark
// build: eight default tick intervals, for a loaded machine.
const idleWait = 2 * time.Second

func mib32(v []uint32) []string {
	out := make([]string, len(v))
	for i, b := range v {
		out[i] = fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	return out
}
