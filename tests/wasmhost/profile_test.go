package wasmhost_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// The profile and the host call counts see what one request costs: the
// "reply" filter reads one request header (with the project's bindings,
// one proxy_get_header_map_pairs whose result the host allocates in the
// guest) and sends a local reply.
func TestProfileAttributesCallsPerRequest(t *testing.T) {
	prof := wasmhost.NewProfile()
	h := newHost(t, "bench", wasmhost.Config{PluginConfig: []byte("reply"), Profile: prof})
	vm := h.VM(0)
	req := get("/bench", [2]string{"x-user", "alice"})
	run := func() {
		s := vm.NewStream()
		if r := s.RequestHeaders(req, true); r.Action != wasmhost.ActionLocalReply || string(r.Reply.Body) != "alice" {
			t.Fatal(r)
		}
		s.Close()
	}
	run() // warm
	prof.Reset()
	calls0, allocs0 := h.HostCalls(), h.GuestAllocations()
	const n = 50
	for range n {
		run()
	}
	calls := h.HostCalls()
	if got := calls["proxy_get_header_map_pairs"] - calls0["proxy_get_header_map_pairs"]; got != n {
		t.Errorf("proxy_get_header_map_pairs: %d calls for %d requests", got, n)
	}
	if got := calls["proxy_send_local_response"] - calls0["proxy_send_local_response"]; got != n {
		t.Errorf("proxy_send_local_response: %d calls for %d requests", got, n)
	}
	if got := h.GuestAllocations() - allocs0; got < n {
		t.Errorf("%d guest allocations for %d header values returned", got, n)
	}

	stats := map[string]wasmhost.FuncStat{}
	for _, s := range prof.Functions() {
		stats[s.Name] = s
	}
	for _, name := range []string{"proxy_on_request_headers", "env.proxy_get_header_map_pairs", "env.proxy_send_local_response"} {
		if got := stats[name].Calls; got != n {
			t.Errorf("profile: %s called %d times, want %d (functions: %d)", name, got, n, len(stats))
		}
	}
	if stats["proxy_on_request_headers"].Self <= 0 {
		t.Error("profile: no time in proxy_on_request_headers")
	}

	var buf bytes.Buffer
	if err := prof.WritePprof(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"calls", "nanoseconds", "env.proxy_get_header_map_pairs", "proxy_on_request_headers"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("pprof output lacks %q", want)
		}
	}
}
