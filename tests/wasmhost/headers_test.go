package wasmhost_test

import (
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

func TestHeaderMutationBothDirections(t *testing.T) {
	h := newHost(t, "headers", wasmhost.Config{VMConfig: []byte("vmcfg"), PluginConfig: []byte("plugcfg")})
	s := h.NewStream()
	r := s.RequestHeaders(get("/a", [2]string{"X-Replace", "old"}, [2]string{"x-remove", "1"}, [2]string{"x-keep", "k"}), false)
	if r.Action != wasmhost.ActionContinue {
		t.Fatalf("request headers: %+v", r)
	}
	if r := s.RequestBody([]byte("ping"), false); r.Action != wasmhost.ActionContinue {
		t.Fatalf("request body: %+v", r)
	}
	if r := s.RequestTrailers(wasmhost.Headers{{"x-t", "1"}}); r.Action != wasmhost.ActionContinue {
		t.Fatalf("request trailers: %+v", r)
	}
	req := s.Request()
	mustHeader(t, req.Headers, "x-added", "yes")
	mustHeader(t, req.Headers, "x-replace", "new")
	mustHeader(t, req.Headers, "x-keep", "k")
	mustHeader(t, req.Headers, "x-vm-config", "vmcfg")
	mustHeader(t, req.Headers, "x-plugin-config", "plugcfg")
	if _, ok := req.Headers.Get("x-remove"); ok {
		t.Fatal("x-remove still present")
	}
	if vs := req.Headers.Values("x-replace"); len(vs) != 1 {
		t.Fatalf("x-replace values %q", vs)
	}
	if string(req.Body) != "ping" {
		t.Fatalf("body %q", req.Body)
	}
	mustHeader(t, req.Trailers, "x-trailer-seen", "1")

	r = s.ResponseHeaders(wasmhost.Headers{{":status", "200"}, {"Server", "upstream"}}, false)
	if r.Action != wasmhost.ActionContinue {
		t.Fatalf("response headers: %+v", r)
	}
	s.ResponseBody([]byte("pong"), true)
	resp := s.Response()
	mustHeader(t, resp.Headers, "x-response-added", "1")
	if _, ok := resp.Headers.Get("server"); ok {
		t.Fatal("server header not removed")
	}
	if string(resp.Body) != "pong!" {
		t.Fatalf("response body %q", resp.Body)
	}
	s.Close()

	// Metrics of all three kinds, readable from Go; the gauge went back down in proxy_on_log.
	if m, _ := h.Metric("requests_total"); m.Type != wasmhost.MetricCounter || m.Value != 1 {
		t.Fatalf("requests_total %+v", m)
	}
	if m, _ := h.Metric("inflight"); m.Type != wasmhost.MetricGauge || m.Value != 0 {
		t.Fatalf("inflight %+v", m)
	}
	if m, _ := h.Metric("path_len"); m.Type != wasmhost.MetricHistogram || m.Count != 1 || m.Sum != 2 {
		t.Fatalf("path_len %+v", m)
	}
	var sawInfo, sawDebug bool
	for _, e := range h.Logs() {
		sawInfo = sawInfo || (e.Level == wasmhost.LogInfo && e.Message == "request /a")
		sawDebug = sawDebug || (e.Level == wasmhost.LogDebug && e.Message == "stream done /a")
	}
	if !sawInfo || !sawDebug {
		t.Fatalf("logs %+v", h.Logs())
	}
}

func TestLocalReplyAndClose(t *testing.T) {
	h := newHost(t, "headers", wasmhost.Config{})
	tests := []struct {
		path   string
		action wasmhost.Action
		status int
	}{
		{"/deny", wasmhost.ActionLocalReply, 403},
		{"/close", wasmhost.ActionReset, 0},
		{"/fine", wasmhost.ActionContinue, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := h.NewStream()
			defer s.Close()
			r := s.RequestHeaders(get(tt.path), true)
			if r.Action != tt.action {
				t.Fatalf("action %v, want %v", r.Action, tt.action)
			}
			if tt.status != 0 {
				if r.Reply.Status != tt.status || string(r.Reply.Body) != `{"error":"denied"}` {
					t.Fatalf("reply %+v", r.Reply)
				}
				mustHeader(t, r.Reply.Headers, "x-deny-reason", "test") // lower-cased
				mustHeader(t, r.Reply.Headers, "content-type", "application/json")
				// A finished stream ignores later events.
				if again := s.RequestBody([]byte("x"), true); again.Action != wasmhost.ActionLocalReply {
					t.Fatalf("after reply: %+v", again)
				}
			}
		})
	}
}

// A local reply from the response path replaces the upstream response while its headers have
// not gone downstream yet.
func TestLocalReplyOnResponsePath(t *testing.T) {
	h := newHost(t, "headers", wasmhost.Config{})
	s := h.NewStream()
	defer s.Close()
	s.RequestHeaders(get("/mask"), true)
	r := s.ResponseHeaders(wasmhost.Headers{{":status", "500"}}, true)
	if r.Action != wasmhost.ActionLocalReply || r.Reply.Status != 502 || string(r.Reply.Body) != "masked" {
		t.Fatalf("result %+v", r)
	}
}

func TestBodyBuffering(t *testing.T) {
	h := newHost(t, "headers", wasmhost.Config{})
	s := h.NewStream()
	defer s.Close()
	s.RequestHeaders(get("/body"), false)
	if r := s.RequestBody([]byte("hello "), false); r.Action != wasmhost.ActionPause {
		t.Fatalf("first chunk: %+v", r)
	}
	if len(s.Request().Body) != 0 {
		t.Fatal("paused body leaked past the filter")
	}
	if r := s.RequestBody([]byte("world"), true); r.Action != wasmhost.ActionContinue {
		t.Fatalf("last chunk: %+v", r)
	}
	if got := string(s.Request().Body); got != "HELLO WORLD" {
		t.Fatalf("body %q", got)
	}
}

func TestProperties(t *testing.T) {
	h := newHost(t, "headers", wasmhost.Config{
		PluginName: "pn", RootID: "rid", VMID: "vmid",
		Properties: map[string][]byte{"route_metadata.filter_metadata.envoy.filters.http.wasm.api": []byte("api-1")},
	})
	tests := []struct{ path, want string }{
		{"request.path", `"/p?q=1"`},
		{"request.url_path", `"/p"`},
		{"request.query", `"q=1"`},
		{"request.method", `"GET"`},
		{"request.host", `"example.com"`},
		{"request.scheme", `"http"`},
		{"request.headers.x-get-property", `"request.headers.x-get-property"`},
		{"plugin_name", `"pn"`},
		{"plugin_root_id", `"rid"`},
		{"plugin_vm_id", `"vmid"`},
		{"source.address", `"10.1.2.3:4567"`},
		{"source.port", `"\xd7\x11\x00\x00\x00\x00\x00\x00"`}, // 4567 as int64 LE
		{"route_metadata.filter_metadata.envoy.filters.http.wasm.api", `"api-1"`},
		{"connection.mtls", `"\x00"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := h.NewStream()
			defer s.Close()
			s.SetProperty("source.address", []byte("10.1.2.3:4567"))
			path := "/p?q=1"
			if strings.HasPrefix(tt.path, "request.headers.") {
				path = "/p?q=1"
			}
			s.RequestHeaders(get(path, [2]string{"x-get-property", tt.path}), true)
			mustHeader(t, s.Request().Headers, "x-property", tt.want)
		})
	}
	s := h.NewStream()
	defer s.Close()
	s.RequestHeaders(get("/", [2]string{"x-get-property", "no.such.thing"}), true)
	if v, _ := s.Request().Headers.Get("x-property-error"); !strings.Contains(strings.ToLower(v), "not found") {
		t.Fatalf("missing property error %q", v)
	}
}

func TestStartFailuresAreLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  wasmhost.Config
		want string
	}{
		{"vm start", wasmhost.Config{VMConfig: []byte("fail-vm-start")}, "proxy_on_vm_start returned false"},
		{"configure", wasmhost.Config{PluginConfig: []byte("fail-configure")}, "proxy_on_configure returned false"},
		{"not proxy-wasm", wasmhost.Config{Wasm: []byte("\x00asm\x01\x00\x00\x00")}, "not a proxy-wasm 0.2.x module"},
		{"no module", wasmhost.Config{}, "needs Wasm or WasmFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Wasm == nil && tt.name != "no module" {
				cfg.Wasm = filter(t, "headers")
			}
			_, err := wasmhost.New(ctxTimeout(t), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// 10,000 requests over 4 VMs in parallel, each doing the get/set-with-CAS loop on one key, must
// not lose an increment.
func TestSharedDataCASAcross4VMs(t *testing.T) {
	const vms, requests = 4, 10000
	h := newHost(t, "headers", wasmhost.Config{Workers: vms})
	var wg sync.WaitGroup
	for w := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm := h.VM(w)
			for range requests / vms {
				s := vm.NewStream()
				r := s.RequestHeaders(get("/count"), true)
				s.Close()
				if r.Action != wasmhost.ActionContinue {
					t.Errorf("VM %d: %+v (VM error: %v)", w, r, vm.Err())
					return
				}
			}
		}()
	}
	wg.Wait()
	v, cas, ok := h.SharedData("count")
	if !ok || len(v) != 8 {
		t.Fatalf("shared data %v %v", v, ok)
	}
	if n := binary.LittleEndian.Uint64(v); n != requests {
		t.Fatalf("counter = %d, want %d", n, requests)
	}
	if cas == 0 {
		t.Fatal("cas 0")
	}
	if m, _ := h.Metric("requests_total"); m.Value != requests {
		t.Fatalf("requests_total = %d", m.Value)
	}
}
