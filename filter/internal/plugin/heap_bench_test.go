package plugin

import (
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

// BenchmarkPluginHeap runs the memory scenario of turnpike-bench
// (BENCHMARKS.md §4: key i mod 100,000, the default configuration, 2 VMs
// sharing shared data, 8 lookups in flight) natively, in one to three
// minutes instead of the wasm run's seven to twenty, to find what in the
// plugin grows:
//
//	go test -run '^$' -bench BenchmarkPluginHeap -benchtime 1000000x ./filter/internal/plugin/
//
// It reports the process's live heap after a collection at N/4, N/2 and N
// requests (the plugin's two roots, the keys, and the fake host's shared
// data, which grows with the keys seen during the first pass: from 250,000
// requests on, all of it is flat unless the plugin grows), and the entries
// of the plugin's bounded structures. With TURNPIKE_HEAP_PROFILE=DIR it also
// writes heap profiles there (heap-<requests>.pprof); what the plugin keeps
// is what remains without the host's shared data:
//
//	go tool pprof -sample_index=inuse_space -ignore cloningHost -top -diff_base DIR/heap-250000.pprof DIR/heap-1000000.pprof
//
// Native pointers are 8 bytes (4 in the VM), so sizes differ from the
// VM's; growth shows all the same. The clock advances 400 µs per request
// (2,500 requests/s over the two VMs, as `make bench` measured) and each
// root ticks every 250 ms of it (the default sync interval).
func BenchmarkPluginHeap(b *testing.B) {
	dir := os.Getenv("TURNPIKE_HEAP_PROFILE")
	if dir != "" {
		runtime.MemProfileRate = 512
	}
	const nkeys, inflight, vms = 100_000, 8, 2
	const perRequest, tickEvery = int64(400_000), int64(250_000_000) // ns
	session := testSession(`"rate":1000,"per":1,"quota_max":-1`)
	names := make([]string, nkeys)
	for i := range names {
		names[i] = "mem-" + strconv.Itoa(i)
	}
	f := hosttest.New(testStart)
	f.Config = []byte(`{"sidecar":{"cluster":"sidecar","token":"tok"}}`)
	fx := &fixture{t: b, f: f}
	var roots []*Root
	for i := range vms {
		r := NewRoot(cloningHost{f}, uint32(i+1))
		if !r.OnPluginStart(0) {
			b.Fatalf("root %d did not start: %v", i, f.Logs)
		}
		fx.sync(`{"version":"v1","cursor":"1-0","keys":[],"snapshot":` + testSnapshot + `}`)
		roots = append(roots, r)
	}

	type waiting struct {
		id  uint32
		key string
		h   *httpContext
	}
	var queue []waiting
	finish := func(w waiting) {
		if s := f.Streams[w.id]; s.Reply != nil {
			b.Fatalf("key %s: status %d", w.key, s.Reply.Status)
		}
		_ = f.SetContext(w.id)
		w.h.OnHttpResponseHeaders(0, true)
		w.h.OnHttpStreamDone()
		delete(f.Streams, w.id)
	}
	answerOldest := func() {
		w := queue[0]
		queue = queue[1:]
		if c := f.Pending("/turnpike/v1/sessions/" + keys.Hash(w.key)); c != nil {
			f.Answer(c, 200, map[string]string{"x-turnpike-cursor": "1-0"}, session)
		}
		finish(w)
	}
	report := func(done int, suffix string) {
		for len(queue) > 0 {
			answerOldest()
		}
		runtime.GC()
		var s = [...]rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		rtmetrics.Read(s[:])
		b.ReportMetric(float64(s[0].Value.Uint64())/(1<<20), "live-MiB"+suffix)
		if suffix == "" {
			r := roots[0]
			b.ReportMetric(float64(r.sessions.Len()), "sessions")
			b.ReportMetric(float64(r.hashes.Len()), "hashes")
			b.ReportMetric(float64(len(r.buckets)), "buckets")
			b.ReportMetric(float64(r.recent.Len()), "recent")
		}
		if dir == "" || b.N < nkeys {
			return
		}
		out, err := os.Create(filepath.Join(dir, "heap-"+strconv.Itoa(done)+".pprof"))
		if err == nil {
			err = pprof.WriteHeapProfile(out)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}

	hdrs := map[string]string{":method": "GET", ":path": "/api1/items", ":authority": "bench"}
	id, rng := uint32(100), uint32(1)
	nextTick := f.Clock + tickEvery
	b.ResetTimer()
	for n := range b.N {
		switch n {
		case b.N / 4:
			report(n, "@N/4")
		case b.N / 2:
			report(n, "@N/2")
		}
		f.Clock += perRequest
		id++
		rng = rng*1664525 + 1013904223 // which VM: the host's choice
		r := roots[int(rng>>16)%vms]
		key := names[n%nkeys]
		hdrs["authorization"] = key
		s := f.Stream(id, hdrs)
		h := r.NewHttpContext(id).(*httpContext)
		if h.OnHttpRequestHeaders(len(hdrs), true) == proxywasm.ActionPause && s.Reply == nil {
			queue = append(queue, waiting{id, key, h})
			if len(queue) >= inflight {
				answerOldest()
			}
		} else {
			finish(waiting{id, key, h})
		}
		if f.Clock >= nextTick {
			nextTick += tickEvery
			for _, r := range roots {
				_ = f.SetContext(r.id)
				r.OnTick()
			}
			for c := f.Pending("/turnpike/v1/sync"); c != nil; c = f.Pending("/turnpike/v1/sync") {
				f.Answer(c, 200, nil, `{"version":"v1","cursor":"1-0","keys":[]}`)
			}
			f.Logs = f.Logs[:0]
		}
	}
	b.StopTimer()
	report(b.N, "")
	runtime.KeepAlive(names) // counted in every sample alike
}

// cloningHost keeps its own copy of shared-data keys, so that a heap
// profile does not count the host's map among the memory the plugin keeps.
type cloningHost struct{ *hosttest.Fake }

func (h cloningHost) Set(key string, value []byte, cas uint32) error {
	return h.Fake.Set(strings.Clone(key), value, cas)
}
