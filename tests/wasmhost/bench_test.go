package wasmhost_test

import (
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// BenchmarkStreamNoop is the host's per-request overhead: create context, request headers,
// response headers, done, log, delete on a filter whose callbacks all continue.
func BenchmarkStreamNoop(b *testing.B) {
	h := newHost(b, "bench", wasmhost.Config{PluginConfig: []byte("noop")})
	vm := h.VM(0)
	req := get("/bench", [2]string{"x-user", "alice"})
	resp := wasmhost.Headers{{":status", "200"}}
	b.ReportAllocs()
	for b.Loop() {
		s := vm.NewStream()
		if r := s.RequestHeaders(req, true); r.Action != wasmhost.ActionContinue {
			b.Fatal(r)
		}
		s.ResponseHeaders(resp, true)
		s.Close()
	}
}

// BenchmarkStreamHeaderReply: the filter reads one request header and sends a local reply.
func BenchmarkStreamHeaderReply(b *testing.B) {
	h := newHost(b, "bench", wasmhost.Config{PluginConfig: []byte("reply")})
	vm := h.VM(0)
	req := get("/bench", [2]string{"x-user", "alice"})
	b.ReportAllocs()
	for b.Loop() {
		s := vm.NewStream()
		if r := s.RequestHeaders(req, true); r.Action != wasmhost.ActionLocalReply || string(r.Reply.Body) != "alice" {
			b.Fatal(r)
		}
		s.Close()
	}
}
