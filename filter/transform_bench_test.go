//go:build !wasip1

package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// BenchmarkBodyTransformMemory is what a body transform costs a VM: one VM
// answers b.N requests whose upstream response is a JSON array of the
// given size, transformed by a template (transform) or passed untouched (a
// path without one), and reports the VM's linear memory (what a proxy
// pays per VM; it never shrinks) and the time per response.
//
//	go test -run '^$' -bench BenchmarkBodyTransformMemory -benchtime=200x ./filter/
func BenchmarkBodyTransformMemory(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		var body strings.Builder
		body.WriteString("[")
		for i := 0; body.Len() < size-64; i++ {
			if i > 0 {
				body.WriteString(",")
			}
			body.WriteString(`{"id":` + strconv.Itoa(i) + `,"name":"item-` + strconv.Itoa(i) + `","tags":["a","b"]}`)
		}
		body.WriteString("]")
		chunks := []string{}
		for s := body.String(); len(s) > 0; {
			n := min(len(s), 16<<10) // the host delivers 16 KiB chunks
			chunks, s = append(chunks, s[:n]), s[n:]
		}
		for _, path := range []string{"/api1/plain", "/api1/items"} {
			name := "none"
			if path == "/api1/items" {
				name = "transform"
			}
			b.Run(strconv.Itoa(size>>10)+"KiB/"+name, func(b *testing.B) {
				sc := newFakeSidecar(b)
				sc.putAPI(transformAPI())
				sc.putKey("tx-key", session(""))
				h := startBench(b, sc, `,"body_transform":{"max_body_bytes":2097152}`, true)
				vm := h.VM(0)
				b.ResetTimer()
				for range b.N {
					s := vm.NewStream()
					res := s.RequestHeaders(request(path, "tx-key"), true)
					if res.Action == wasmhost.ActionPause {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						res, _ = s.Wait(ctx)
						cancel()
					}
					if res.Action != wasmhost.ActionContinue {
						b.Fatalf("not forwarded: %v", res.Action)
					}
					s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, false)
					for i, c := range chunks {
						s.ResponseBody([]byte(c), i == len(chunks)-1)
					}
					if out := s.Response().Body; name == "transform" && !strings.HasPrefix(string(out), `{"count":`) {
						b.Fatalf("not transformed: %.40q", out)
					}
					s.Close()
				}
				b.StopTimer()
				b.ReportMetric(float64(vm.MemorySize())/(1<<20), "linear-MiB")
			})
		}
	}
}
