package wasmhost_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// request runs one request through a fresh stream of h and returns the request as the filter
// left it, plus the stream (closed at the end of the test).
func request(t *testing.T, h *wasmhost.Host, hdrs wasmhost.Headers) (wasmhost.Headers, *wasmhost.Stream) {
	t.Helper()
	s := h.NewStream()
	t.Cleanup(s.Close)
	if r := s.RequestHeaders(hdrs, true); r.Action != wasmhost.ActionContinue {
		t.Fatalf("request headers: %+v", r)
	}
	return s.Request().Headers, s
}

// Envoy checks only that :path, :method and :authority are present in a proxy_http_call, not
// that they are non-empty (source/extensions/common/wasm/context.cc, Context::httpCall:
// `message->headers().Host() == nullptr` -> BadArgument). A filter that sends an empty
// :authority gets OK; one that leaves it out gets BAD_ARGUMENT (2).
func TestHTTPCallChecksPresenceOnly(t *testing.T) {
	h := newHost(t, "fidelity", wasmhost.Config{Clusters: map[string]string{"c": ""}})
	tests := []struct {
		name       string
		extra      [][2]string
		wantStatus string
		wantCall   bool
	}{
		{"empty authority", [][2]string{{"x-call-authority", ""}}, "0", true},
		{"authority", [][2]string{{"x-call-authority", "svc"}}, "0", true},
		{"no authority", nil, "2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, s := request(t, h, get("/call", tt.extra...))
			mustHeader(t, req, "x-call-status", tt.wantStatus)
			if calls := s.HTTPCalls(); (len(calls) == 1) != tt.wantCall {
				t.Fatalf("calls %v, want a call: %v", calls, tt.wantCall)
			}
		})
	}
}

// The foreign functions of Envoy's Wasm extension (source/extensions/common/wasm/foreign.cc):
// compress/uncompress are zlib's compress()/uncompress() (SERIALIZATION_FAILURE = 3 for input
// that is not zlib), clear_route_cache (Envoy PR #36671) marks the stream, an unregistered name
// is NOT_FOUND = 1 (proxy-wasm-cpp-host src/exports.cc, call_foreign_function).
func TestForeignFunctions(t *testing.T) {
	h := newHost(t, "fidelity", wasmhost.Config{})
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("from the test"))
	zw.Close()
	tests := []struct {
		fn, arg      string
		status       string
		result       string // decoded result; for compress, the input the result decompresses to
		clearedRoute bool
	}{
		{fn: "compress", arg: "hello hello hello hello", status: "0", result: "hello hello hello hello"},
		{fn: "uncompress", arg: z.String(), status: "0", result: "from the test"},
		{fn: "uncompress", arg: "not zlib", status: "3"},
		{fn: "clear_route_cache", status: "0", clearedRoute: true},
		{fn: "expr_create", arg: "1 + 1", status: "1"},
		{fn: "no_such_function", status: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.fn+" "+tt.status, func(t *testing.T) {
			req, s := request(t, h, get("/foreign", [2]string{"x-fn", tt.fn}, [2]string{"x-arg", tt.arg}))
			mustHeader(t, req, "x-fn-status", tt.status)
			hexResult, _ := req.Get("x-fn-result")
			raw, err := hex.DecodeString(hexResult)
			if err != nil {
				t.Fatal(err)
			}
			got := string(raw)
			if tt.fn == "compress" {
				r, err := zlib.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("compress result is not zlib: %v", err)
				}
				b, _ := io.ReadAll(r)
				got = string(b)
			}
			if got != tt.result {
				t.Errorf("result %q, want %q", got, tt.result)
			}
			if s.RouteCacheCleared() != tt.clearedRoute {
				t.Errorf("RouteCacheCleared %v", s.RouteCacheCleared())
			}
		})
	}
}

// declare_property (foreign.cc DeclarePropertyFactory, Context::declareProperty) declares a
// property's prototype on the root context; a read-only property keeps its first value and a
// second set_property is BAD_ARGUMENT (Envoy's CelState::setValue). Undeclared properties can
// be set again.
func TestDeclarePropertyReadOnly(t *testing.T) {
	for _, tt := range []struct {
		config, statuses, value string
	}{
		{"declare", "0,2,0,0", "a"},
		{"", "0,0,0,0", "b"},
	} {
		t.Run("config "+tt.config, func(t *testing.T) {
			h := newHost(t, "fidelity", wasmhost.Config{PluginConfig: []byte(tt.config)})
			req, _ := request(t, h, get("/declare"))
			mustHeader(t, req, "x-set-status", tt.statuses)
			mustHeader(t, req, "x-my-prop", tt.value)
		})
	}
}

// set_envoy_filter_state (foreign.cc) stores a value in the stream's filter state, which the
// filter (and CEL) read back as the property filter_state.<key>.
func TestSetEnvoyFilterState(t *testing.T) {
	h := newHost(t, "fidelity", wasmhost.Config{})
	req, _ := request(t, h, get("/state", [2]string{"x-arg", "v1"}))
	mustHeader(t, req, "x-state-status", "0")
	mustHeader(t, req, "x-state", "v1")
}

// Envoy keeps shared data and shared queues per process, keyed by vm_id
// (proxy-wasm-cpp-host src/shared_data.cc and src/shared_queue.cc are process-wide singletons):
// a plugin resolves a queue another plugin registered under that vm_id, and both see the same
// shared data. Hosts given the same SharedState are one process; a host with its own is not.
func TestSharedQueueAcrossPlugins(t *testing.T) {
	process := wasmhost.NewSharedState()
	owner := newHost(t, "fidelity", wasmhost.Config{VMID: "vm1", RootID: "owner", PluginConfig: []byte("queue=events"), Shared: process})
	other := newHost(t, "fidelity", wasmhost.Config{VMID: "vm1", RootID: "other", Shared: process})
	elsewhere := newHost(t, "fidelity", wasmhost.Config{VMID: "vm1"})

	req, _ := request(t, other, get("/queue", [2]string{"x-vm-id", "vm1"}, [2]string{"x-queue", "events"}, [2]string{"x-arg", "hello"}))
	mustHeader(t, req, "x-resolve-status", "0")
	mustHeader(t, req, "x-enqueue-status", "0")
	if err := owner.Quiesce(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*wasmhost.Host{"owner": owner, "other": other} {
		if v, _, ok := h.SharedData("got-events"); !ok || string(v) != "hello" {
			t.Errorf("%s: shared data got-events = %q, %v; want the item the owner dequeued", name, v, ok)
		}
	}

	req, _ = request(t, elsewhere, get("/queue", [2]string{"x-vm-id", "vm1"}, [2]string{"x-queue", "events"}, [2]string{"x-arg", "x"}))
	mustHeader(t, req, "x-resolve-status", "1") // NOT_FOUND: another process
	if _, _, ok := elsewhere.SharedData("got-events"); ok {
		t.Error("a host of another process sees the shared data")
	}
}

// Envoy runs plugins with the same vm_config in one VM, each with a root context of its own
// (proxy-wasm-cpp-host src/wasm.cc WasmBase::start: one root context per plugin key, then
// ContextBase::onStart — proxy_on_context_create and proxy_on_vm_start — and onConfigure on it).
// A plugin's streams are children of its root context and see its plugin_root_id, plugin_name
// and configuration; a queue a plugin registers notifies that plugin's root context.
func TestSeveralPluginsInOneVM(t *testing.T) {
	h := newHost(t, "fidelity", wasmhost.Config{VMID: "vm", RootID: "a", PluginName: "plugin-a", PluginConfig: []byte("queue=qa"),
		Plugins: []wasmhost.Plugin{{Name: "plugin-b", RootID: "b", Configuration: []byte("queue=qb")}}})
	if h.NumVMs() != 1 {
		t.Fatalf("%d VMs", h.NumVMs())
	}
	for _, tt := range []struct{ root, name, parent string }{{"a", "plugin-a", "1"}, {"b", "plugin-b", "2"}} {
		s, err := h.NewStreamFor(tt.root)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r := s.RequestHeaders(get("/whoami"), true); r.Action != wasmhost.ActionContinue {
			t.Fatalf("%+v", r)
		}
		req := s.Request().Headers
		mustHeader(t, req, "x-root-id", tt.root)
		mustHeader(t, req, "x-plugin-name", tt.name)
		if c, _ := req.Get("x-context"); !strings.HasSuffix(c, "<"+tt.parent) {
			t.Errorf("plugin %s: stream context %s, want a child of root context %s", tt.root, c, tt.parent)
		}
	}
	// Each plugin configured its own queue; an item for qb reaches plugin b's root context.
	req, _ := request(t, h, get("/queue", [2]string{"x-vm-id", "vm"}, [2]string{"x-queue", "qb"}, [2]string{"x-arg", "for b"}))
	mustHeader(t, req, "x-enqueue-status", "0")
	if err := h.Quiesce(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := h.SharedData("got-qb"); !ok || string(v) != "for b" {
		t.Fatalf("got-qb = %q, %v", v, ok)
	}
	if _, err := h.NewStreamFor("c"); err == nil {
		t.Fatal("a stream for an unknown root_id")
	}
	if _, err := wasmhost.New(context.Background(), wasmhost.Config{Wasm: filter(t, "fidelity"), RootID: "a",
		Plugins: []wasmhost.Plugin{{RootID: "a"}}}); err == nil || !strings.Contains(err.Error(), "two plugins") {
		t.Fatalf("duplicate root_id: %v", err)
	}
}
