package plugin

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

func TestMemProbe(t *testing.T) {
	if os.Getenv("MEMPROBE") == "" {
		t.Skip()
	}
	fx := newFixture(t, "", testSnapshot)
	s, _ := model.DecodeSession([]byte(testSession(`"rate":1000,"per":1,"quota_max":-1`)))
	classic := string(s.AppendJSON(nil))
	n := 10000
	runtime.MemProfileRate = 64
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range n {
		st := fx.do("/api1/x", "mem-"+strconv.Itoa(i), classic)
		if status(st) != 200 {
			t.Fatalf("status %d", status(st))
		}
		fx.f.Calls = fx.f.Calls[:0]
		if h := fx.r.streams[st.ID]; h != nil {
			h.OnHttpStreamDone()
		}
		delete(fx.f.Streams, st.ID)
	}
	runtime.MemProfileRate = 1
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("live per key: %d B", (m1.HeapAlloc-m0.HeapAlloc)/uint64(n))
	f, _ := os.Create("/tmp/memprobe.heap")
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	runtime.KeepAlive(fx)
}

func TestMissGarbage(t *testing.T) {
	if os.Getenv("MEMPROBE") == "" {
		t.Skip()
	}
	fx := newFixture(t, `,"session_cache":{"size":10}`, testSnapshot)
	s, _ := model.DecodeSession([]byte(testSession(`"rate":1000,"per":1,"quota_max":-1`)))
	classic := string(s.AppendJSON(nil))
	n := 1000
	for i := range n {
		st := fx.do("/api1/x", "mem-"+strconv.Itoa(i), classic)
		fx.f.Calls = fx.f.Calls[:0]
		if h := fx.r.streams[st.ID]; h != nil {
			h.OnHttpStreamDone()
		}
		delete(fx.f.Streams, st.ID)
	}
	runtime.MemProfileRate = 1
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range n {
		st := fx.do("/api1/x", "mem-"+strconv.Itoa(i), classic)
		fx.f.Calls = fx.f.Calls[:0]
		if h := fx.r.streams[st.ID]; h != nil {
			h.OnHttpStreamDone()
		}
		delete(fx.f.Streams, st.ID)
	}
	runtime.ReadMemStats(&m1)
	t.Logf("per shared hit: %d B, %d allocs", (m1.TotalAlloc-m0.TotalAlloc)/uint64(n), (m1.Mallocs-m0.Mallocs)/uint64(n))
	f, _ := os.Create("/tmp/miss.heap")
	pprof.Lookup("allocs").WriteTo(f, 0)
	f.Close()
}
