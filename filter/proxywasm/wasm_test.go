//go:build !wasip1

package proxywasm_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

// These tests run testdata/plugin, built for wasip1, in the project's
// proxy-wasm host (tests/wasmhost): they check the wasm side of the bindings
// that native unit tests cannot reach — string and out-parameter passing,
// results written into memory obtained from proxy_on_memory_allocate,
// export routing, panic recovery, http-call callbacks. What happens when a
// host returns an address the module never allocated is covered natively
// (hostmem_test.go), since a real host never does it.

// startPlugin loads testdata/plugin with plugin configuration "cfg" into a
// one-VM host whose "auth" cluster the test answers itself.
func startPlugin(t testing.TB) *wasmhost.Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wasm, err := wasmbuild.Build(ctx, "testdata/plugin", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := wasmhost.New(context.Background(), wasmhost.Config{
		WasmFile:     wasm,
		PluginConfig: []byte("cfg"),
		Clusters:     map[string]string{"auth": ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// pluginLogs returns what the plugin (and the bindings) logged with
// proxy_log, oldest first.
func pluginLogs(h *wasmhost.Host) []string {
	var out []string
	for _, e := range h.Logs() {
		if e.Source == "proxy_log" {
			out = append(out, e.Message)
		}
	}
	return out
}

func requestHeaders(mode string) wasmhost.Headers {
	return wasmhost.Headers{{":method", "GET"}, {":path", "/p"}, {":authority", "api"}, {"x-remove", "1"}, {"x-mode", mode}}
}

// header returns the value of key in h, or "<absent>".
func header(h wasmhost.Headers, key string) string {
	if v, ok := h.Get(key); ok {
		return v
	}
	return "<absent>"
}

// checkReply fails unless res is the local reply (status, headers, body).
// The host adds "content-type: text/plain" to a reply with a body and no
// content type, as Envoy does, so expected headers include it.
func checkReply(t *testing.T, what string, res wasmhost.Result, status int, headers wasmhost.Headers, body string) {
	t.Helper()
	if res.Action != wasmhost.ActionLocalReply {
		t.Fatalf("%s: action %v, want a local reply", what, res.Action)
	}
	r := res.Reply
	if r.Status != status || !reflect.DeepEqual(r.Headers, headers) || string(r.Body) != body {
		t.Fatalf("%s: reply %d %q %q; want %d %q %q", what, r.Status, r.Headers, r.Body, status, headers, body)
	}
}

func TestWasmHeadersRoundTrip(t *testing.T) {
	h := startPlugin(t)
	if logs := pluginLogs(h); !reflect.DeepEqual(logs, []string{`configured with "cfg"`}) {
		t.Fatalf("start-up logs: %q", logs)
	}

	s := h.NewStream()
	if res := s.RequestHeaders(requestHeaders("rewrite"), true); res.Action != wasmhost.ActionContinue {
		t.Fatalf("rewrite: action %v, reply %+v, logs %q", res.Action, res.Reply, pluginLogs(h))
	}
	got := s.Request().Headers
	if v := header(got, "x-seen"); v != "/p 5 cfg" {
		t.Errorf("x-seen = %q", v)
	}
	if header(got, "x-remove") != "<absent>" || header(got, "x-added") != "1" {
		t.Errorf("headers after rewrite: %q", got)
	}
	s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, true)
	if v := header(s.Response().Headers, "x-bytes"); v != "n=42" {
		t.Errorf("x-bytes (ReplaceHttpResponseHeaderBytes) = %q", v)
	}
	s.Close()

	s = h.NewStream()
	s.RequestHeaders(requestHeaders("replace-all"), true)
	if got, want := s.Request().Headers, (wasmhost.Headers{{":path", "/replaced"}, {"x-count", "5"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("replace-all: headers %q, want %q", got, want)
	}
	s.Close()
}

// Header reads come from one proxy_get_header_map_pairs per callback
// (snapshot.go) but always see the filter's own changes.
func TestWasmHeaderSnapshot(t *testing.T) {
	h := startPlugin(t)
	s := h.NewStream()
	defer s.Close()
	calls0 := h.HostCalls()
	if res := s.RequestHeaders(requestHeaders("snapshot"), true); res.Action != wasmhost.ActionContinue {
		t.Fatalf("action %v, reply %+v, logs %q", res.Action, res.Reply, pluginLogs(h))
	}
	want := "/p,1,<proxy-wasm: not found>,/changed,<proxy-wasm: not found>,now,api,/all,<proxy-wasm: not found>"
	if got := header(s.Request().Headers, "x-snapshot"); got != want {
		t.Errorf("reads: %s\nwant   %s", got, want)
	}
	calls := h.HostCalls()
	// One pairs call for GetHttpRequestHeaders, one for the snapshot (taken
	// when x-mode is read), one more after SetHttpRequestHeaders dropped it.
	if got := calls["proxy_get_header_map_pairs"] - calls0["proxy_get_header_map_pairs"]; got != 3 {
		t.Errorf("proxy_get_header_map_pairs: %d calls, want 3", got)
	}
	// :path, x-remove and x-absent again after they were changed.
	if got := calls["proxy_get_header_map_value"] - calls0["proxy_get_header_map_value"]; got != 3 {
		t.Errorf("proxy_get_header_map_value: %d calls, want 3", got)
	}
}

func TestWasmLocalReplyAndPanic(t *testing.T) {
	h := startPlugin(t)
	res := h.NewStream().RequestHeaders(requestHeaders("deny"), true)
	checkReply(t, "deny", res, 403, wasmhost.Headers{{"x-reason", "denied"}, {"content-type", "text/plain"}}, "nope")

	res = h.NewStream().RequestHeaders(requestHeaders("panic"), true)
	checkReply(t, "panic", res, 500, wasmhost.Headers{{"content-type", "application/json"}}, `{"error": "internal error"}`)
	logs := pluginLogs(h)
	last := logs[len(logs)-1]
	if !strings.Contains(last, "panic in OnHttpRequestHeaders") || !strings.Contains(last, "assignment to entry in nil map") {
		t.Errorf("panic log: %q", last)
	}
	// The bindings recovered: the VM did not trap and serves the next request.
	if err := h.VM(0).Err(); err != nil {
		t.Fatalf("the panic killed the VM: %v", err)
	}
	if res := h.NewStream().RequestHeaders(requestHeaders("rewrite"), true); res.Action != wasmhost.ActionContinue {
		t.Fatalf("request after panic: action %v, reply %+v", res.Action, res.Reply)
	}
}

// dispatchAuth starts a "call" request and checks the http call it made.
func dispatchAuth(t *testing.T, h *wasmhost.Host) (*wasmhost.Stream, *wasmhost.HTTPCall) {
	t.Helper()
	s := h.NewStream()
	res := s.RequestHeaders(requestHeaders("call"), true)
	calls := s.HTTPCalls()
	if res.Action != wasmhost.ActionPause || len(calls) != 1 {
		t.Fatalf("dispatch: action %v, %d calls, reply %+v", res.Action, len(calls), res.Reply)
	}
	c := calls[0]
	if c.Cluster != "auth" || string(c.Body) != "ask" || c.Stream != s || header(c.Headers, ":path") != "/check" ||
		c.Timeout != time.Minute {
		t.Fatalf("dispatched call %+v", c)
	}
	return s, c
}

func TestWasmHttpCall(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(*wasmhost.HTTPCall) error
		wantCode int // 0: the request resumes
		wantBody string
		wantAuth string
	}{
		{"allowed", func(c *wasmhost.HTTPCall) error { return c.Respond(200, nil, []byte("user-1")) }, 0, "", "user-1"},
		{"denied", func(c *wasmhost.HTTPCall) error { return c.Respond(403, nil, []byte("bad key")) }, 401, "bad key", "<absent>"},
		{"reset", (*wasmhost.HTTPCall).Fail, 502, "call failed: 11 reset", "<absent>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startPlugin(t)
			s, c := dispatchAuth(t, h)
			if err := tc.answer(c); err != nil {
				t.Fatal(err)
			}
			res := s.Result()
			if tc.wantCode == 0 {
				if res.Action != wasmhost.ActionContinue {
					t.Fatalf("action %v, reply %+v; want the request resumed", res.Action, res.Reply)
				}
			} else {
				checkReply(t, "answer", res, tc.wantCode, wasmhost.Headers{{"content-type", "text/plain"}}, tc.wantBody)
			}
			if got := header(s.Request().Headers, "x-auth"); got != tc.wantAuth {
				t.Errorf("x-auth = %q, want %q", got, tc.wantAuth)
			}
			if want := "auth response for stream " + strconv.Itoa(int(s.ID())); !slices.Contains(pluginLogs(h), want) {
				t.Errorf("callback witness %q not logged: %q", want, pluginLogs(h))
			}
		})
	}

	// The response to a call whose stream was deleted meanwhile reaches the
	// root context (the host delivers it); the bindings must drop it without
	// running the stream's callback or trying to switch to its context.
	t.Run("stream gone", func(t *testing.T) {
		h := startPlugin(t)
		s, c := dispatchAuth(t, h)
		s.Close()
		before := len(h.Logs())
		if err := c.Respond(200, nil, []byte("late")); err != nil {
			t.Fatal(err)
		}
		if after := h.Logs(); len(after) != before {
			t.Fatalf("the late response of a deleted stream ran code that logged: %+v", after[before:])
		}
		if err := h.VM(0).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWasmBody(t *testing.T) {
	h := startPlugin(t)
	s := h.NewStream()
	if res := s.RequestHeaders(requestHeaders("upper"), false); res.Action != wasmhost.ActionContinue {
		t.Fatalf("headers: action %v", res.Action)
	}
	if res := s.RequestBody([]byte("hel"), false); res.Action != wasmhost.ActionPause {
		t.Fatalf("partial body: action %v", res.Action)
	}
	// The host buffers the paused chunk: the filter reads all five bytes and
	// replaces the whole body.
	res := s.RequestBody([]byte("lo"), true)
	if body := s.Request().Body; res.Action != wasmhost.ActionContinue || string(body) != "HELLO" {
		t.Fatalf("body: action %v, body %q, reply %+v", res.Action, body, res.Reply)
	}
}

// BenchmarkWasmRewriteRequest measures one full stream lifecycle with the
// "rewrite" mode: get all headers, three single-header reads (one miss),
// replace, remove, add — in wazero's compiler, as a rough per-request cost
// (host included).
func BenchmarkWasmRewriteRequest(b *testing.B) {
	h := startPlugin(b)
	headers := requestHeaders("rewrite")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s := h.NewStream()
		if res := s.RequestHeaders(headers, true); res.Action != wasmhost.ActionContinue {
			b.Fatalf("action %v", res.Action)
		}
		s.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(h.VM(0).MemorySize())/(1<<20), "MiB-guest-memory")
}
