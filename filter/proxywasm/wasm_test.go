//go:build !wasip1

package proxywasm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// This file runs testdata/plugin, built for wasip1, in a deliberately small
// proxy-wasm host: enough of the ABI to check the wasm side of the bindings
// (string and out-parameter passing, results written into memory obtained
// from proxy_on_memory_allocate, export routing, panic recovery). The
// project's full host is tests/wasmhost.

const rootID = 1

// The interpreter compiles in ~60 ms instead of ~1 s, which matters more
// than execution speed for a handful of requests.
var interpreter = wazero.NewRuntimeConfigInterpreter()

type localReply struct {
	status  uint32
	headers [][2]string
	body    string
}

type hostStream struct {
	headers [][2]string
	body    []byte
	reply   *localReply
	resumed bool
	closed  bool
}

type hostCall struct {
	cluster   string
	headers   [][2]string
	body      string
	contextID uint32 // effective context when dispatched
}

type testHost struct {
	t        testing.TB
	ctx      context.Context
	mod      api.Module
	stderr   bytes.Buffer
	logs     []string
	current  uint32 // effective context
	switches int    // successful proxy_set_effective_context calls
	nextID   uint32
	streams  map[uint32]*hostStream
	calls    map[uint32]*hostCall
	nextCall uint32
	// state of the http call response being delivered
	callHeaders [][2]string
	callBody    []byte
	// junkPointers makes results point outside guest-allocated memory.
	junkPointers bool
}

var (
	buildOnce sync.Once
	wasmBytes []byte
	buildErr  error
)

func pluginWasm(t testing.TB) []byte {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not in PATH")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "proxywasm-plugin")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "plugin.wasm")
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./testdata/plugin")
		cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			wasmBytes = msg
			return
		}
		wasmBytes, buildErr = os.ReadFile(out)
	})
	if buildErr != nil {
		t.Fatalf("building plugin: %v\n%s", buildErr, wasmBytes)
	}
	return wasmBytes
}

// newTestHost instantiates the plugin and runs the start-up sequence with
// plugin configuration "cfg".
func newTestHost(t testing.TB, rc wazero.RuntimeConfig) *testHost {
	h := &testHost{t: t, ctx: context.Background(), nextID: rootID + 1,
		streams: map[uint32]*hostStream{}, calls: map[uint32]*hostCall{}}
	rt := wazero.NewRuntimeWithConfig(h.ctx, rc)
	t.Cleanup(func() { rt.Close(h.ctx) })
	wasi_snapshot_preview1.MustInstantiate(h.ctx, rt)
	h.instantiateEnv(rt)
	compiled, err := rt.CompileModule(h.ctx, pluginWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	// Real clocks: with wazero's fake clocks the Go GC stalls.
	cfg := wazero.NewModuleConfig().WithStartFunctions("_initialize").WithStderr(&h.stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithName("")
	if h.mod, err = rt.InstantiateModule(h.ctx, compiled, cfg); err != nil {
		t.Fatal(err)
	}
	h.call("proxy_on_context_create", rootID, rootID, 0)
	if h.call("proxy_on_vm_start", rootID, rootID, 0) != 1 || h.call("proxy_on_configure", rootID, rootID, 3) != 1 {
		t.Fatalf("start-up failed; logs: %q", h.logs)
	}
	return h
}

// call runs an export with contextID as the effective context.
func (h *testHost) call(name string, contextID uint32, args ...uint64) uint64 {
	h.t.Helper()
	h.current = contextID
	res, err := h.mod.ExportedFunction(name).Call(h.ctx, args...)
	if err != nil {
		h.t.Fatalf("%s: %v\nstderr: %s\nlogs: %q", name, err, h.stderr.String(), h.logs)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

// request creates a stream and delivers its request headers.
func (h *testHost) request(headers [][2]string, endOfStream bool) (uint32, *hostStream, uint64) {
	id := h.nextID
	h.nextID++
	st := &hostStream{headers: headers}
	h.streams[id] = st
	h.call("proxy_on_context_create", id, uint64(id), rootID)
	eos := uint64(0)
	if endOfStream {
		eos = 1
	}
	return id, st, h.call("proxy_on_request_headers", id, uint64(id), uint64(len(headers)), eos)
}

func (h *testHost) finish(id uint32) {
	h.call("proxy_on_done", id, uint64(id))
	h.call("proxy_on_log", id, uint64(id))
	h.call("proxy_on_delete", id, uint64(id))
	delete(h.streams, id)
}

// respond delivers an http call response (numHeaders 0 = failed call).
func (h *testHost) respond(callID uint32, headers [][2]string, body string) {
	h.callHeaders, h.callBody = headers, []byte(body)
	delete(h.calls, callID)
	h.call("proxy_on_http_call_response", rootID, rootID, uint64(callID), uint64(len(headers)), uint64(len(body)), 0)
}

const (
	ok          = 0
	notFound    = 1
	badArgument = 2
)

func (h *testHost) instantiateEnv(rt wazero.Runtime) {
	b := rt.NewHostModuleBuilder("env")
	fn := func(name string, f any) { b.NewFunctionBuilder().WithFunc(f).Export(name) }
	fn("proxy_log", func(_ context.Context, m api.Module, level, ptr, size uint32) uint32 {
		h.logs = append(h.logs, string(read(m, ptr, size)))
		return ok
	})
	fn("proxy_get_log_level", func(_ context.Context, m api.Module, out uint32) uint32 {
		m.Memory().WriteUint32Le(out, 0) // trace: log everything
		return ok
	})
	fn("proxy_get_buffer_bytes", func(_ context.Context, m api.Module, bt, start, max, addrOut, sizeOut uint32) uint32 {
		var buf []byte
		switch bt {
		case 7:
			buf = []byte("cfg")
		case 0:
			buf = h.stream().body
		case 4:
			buf = h.callBody
		default:
			return notFound
		}
		buf = buf[min(int(start), len(buf)):]
		return h.give(m, buf[:min(int(max), len(buf))], addrOut, sizeOut)
	})
	fn("proxy_set_buffer_bytes", func(_ context.Context, m api.Module, bt, start, size, ptr, n uint32) uint32 {
		if bt != 0 || start != 0 || size < uint32(len(h.stream().body)) {
			return badArgument // the plugin only replaces whole bodies
		}
		h.stream().body = read(m, ptr, n)
		return ok
	})
	fn("proxy_get_header_map_pairs", func(_ context.Context, m api.Module, mt, addrOut, sizeOut uint32) uint32 {
		hm := h.headerMap(mt)
		if hm == nil {
			return notFound
		}
		return h.give(m, encodeMap(*hm), addrOut, sizeOut)
	})
	fn("proxy_set_header_map_pairs", func(_ context.Context, m api.Module, mt, ptr, size uint32) uint32 {
		*h.headerMap(mt) = decodeMap(h.t, read(m, ptr, size))
		return ok
	})
	fn("proxy_get_header_map_value", func(_ context.Context, m api.Module, mt, kp, ks, addrOut, sizeOut uint32) uint32 {
		key := string(read(m, kp, ks))
		for _, kv := range *h.headerMap(mt) {
			if kv[0] == key {
				return h.give(m, []byte(kv[1]), addrOut, sizeOut)
			}
		}
		return notFound
	})
	fn("proxy_add_header_map_value", func(_ context.Context, m api.Module, mt, kp, ks, vp, vs uint32) uint32 {
		hm := h.headerMap(mt)
		*hm = append(*hm, [2]string{string(read(m, kp, ks)), string(read(m, vp, vs))})
		return ok
	})
	fn("proxy_replace_header_map_value", func(_ context.Context, m api.Module, mt, kp, ks, vp, vs uint32) uint32 {
		hm, key := h.headerMap(mt), string(read(m, kp, ks))
		*hm = removeKey(*hm, key)
		*hm = append(*hm, [2]string{key, string(read(m, vp, vs))})
		return ok
	})
	fn("proxy_remove_header_map_value", func(_ context.Context, m api.Module, mt, kp, ks uint32) uint32 {
		hm := h.headerMap(mt)
		*hm = removeKey(*hm, string(read(m, kp, ks)))
		return ok
	})
	fn("proxy_send_local_response", func(_ context.Context, m api.Module, code, dp, ds, bp, bs, hp, hs, grpc uint32) uint32 {
		h.stream().reply = &localReply{status: code, headers: decodeMap(h.t, read(m, hp, hs)), body: string(read(m, bp, bs))}
		return ok
	})
	fn("proxy_http_call", func(_ context.Context, m api.Module, up, us, hp, hs, bp, bs, tp, ts, timeout, idOut uint32) uint32 {
		h.nextCall++
		h.calls[h.nextCall] = &hostCall{cluster: string(read(m, up, us)), headers: decodeMap(h.t, read(m, hp, hs)),
			body: string(read(m, bp, bs)), contextID: h.current}
		m.Memory().WriteUint32Le(idOut, h.nextCall)
		return ok
	})
	fn("proxy_get_status", func(_ context.Context, m api.Module, codeOut, addrOut, sizeOut uint32) uint32 {
		m.Memory().WriteUint32Le(codeOut, 11)
		return h.give(m, []byte("reset"), addrOut, sizeOut)
	})
	fn("proxy_continue_stream", func(_ context.Context, m api.Module, st uint32) uint32 {
		h.stream().resumed = true
		return ok
	})
	fn("proxy_close_stream", func(_ context.Context, m api.Module, st uint32) uint32 {
		h.stream().closed = true
		return ok
	})
	fn("proxy_set_effective_context", func(_ context.Context, m api.Module, id uint32) uint32 {
		if _, ok := h.streams[id]; !ok && id != rootID {
			return badArgument
		}
		h.current = id
		h.switches++
		return ok
	})
	if _, err := b.Instantiate(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// give copies data into memory the guest allocates, the way proxy-wasm
// hosts return results.
func (h *testHost) give(m api.Module, data []byte, addrOut, sizeOut uint32) uint32 {
	res, err := m.ExportedFunction("proxy_on_memory_allocate").Call(h.ctx, uint64(len(data)))
	if err != nil || res[0] == 0 {
		h.t.Fatalf("proxy_on_memory_allocate(%d) = %v, %v", len(data), res, err)
	}
	addr := uint32(res[0])
	m.Memory().Write(addr, data)
	if h.junkPointers {
		addr = 8
	}
	m.Memory().WriteUint32Le(addrOut, addr)
	m.Memory().WriteUint32Le(sizeOut, uint32(len(data)))
	return ok
}

func (h *testHost) stream() *hostStream {
	st := h.streams[h.current]
	if st == nil {
		h.t.Fatalf("stream call with effective context %d", h.current)
	}
	return st
}

func (h *testHost) headerMap(mt uint32) *[][2]string {
	switch mt {
	case 0:
		return &h.stream().headers
	case 6:
		return &h.callHeaders
	}
	return nil
}

func read(m api.Module, ptr, size uint32) []byte {
	b, ok := m.Memory().Read(ptr, size)
	if !ok {
		panic("guest passed an out-of-range buffer")
	}
	return bytes.Clone(b)
}

func removeKey(h [][2]string, key string) [][2]string {
	out := h[:0:0]
	for _, kv := range h {
		if kv[0] != key {
			out = append(out, kv)
		}
	}
	return out
}

func encodeMap(h [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(h)))
	for _, kv := range h {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range h {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}

func decodeMap(t testing.TB, b []byte) [][2]string {
	if len(b) == 0 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	sizes, data := b[4:], b[4+8*n:]
	var h [][2]string
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		h = append(h, [2]string{string(data[:kl]), string(data[kl+1 : kl+1+vl])})
		data = data[kl+vl+2:]
	}
	return h
}

func get(h [][2]string, key string) string {
	for _, kv := range h {
		if kv[0] == key {
			return kv[1]
		}
	}
	return "<absent>"
}

func requestHeaders(mode string) [][2]string {
	return [][2]string{{":method", "GET"}, {":path", "/p"}, {":authority", "api"}, {"x-remove", "1"}, {"x-mode", mode}}
}

func TestWasmHeadersRoundTrip(t *testing.T) {
	h := newTestHost(t, interpreter)
	if !reflect.DeepEqual(h.logs, []string{`configured with "cfg"`}) {
		t.Fatalf("start-up logs: %q", h.logs)
	}

	id, st, action := h.request(requestHeaders("rewrite"), true)
	if action != 0 || st.reply != nil {
		t.Fatalf("rewrite: action %d, reply %+v, logs %q", action, st.reply, h.logs)
	}
	if got := get(st.headers, "x-seen"); got != "/p 5 cfg" {
		t.Errorf("x-seen = %q", got)
	}
	if get(st.headers, "x-remove") != "<absent>" || get(st.headers, "x-added") != "1" {
		t.Errorf("headers after rewrite: %q", st.headers)
	}
	h.finish(id)

	_, st, _ = h.request(requestHeaders("replace-all"), true)
	if want := [][2]string{{":path", "/replaced"}, {"x-count", "5"}}; !reflect.DeepEqual(st.headers, want) {
		t.Errorf("replace-all: headers %q, want %q", st.headers, want)
	}
}

func TestWasmLocalReplyAndPanic(t *testing.T) {
	h := newTestHost(t, interpreter)
	_, st, action := h.request(requestHeaders("deny"), true)
	want := &localReply{status: 403, headers: [][2]string{{"x-reason", "denied"}}, body: "nope"}
	if action != 1 || !reflect.DeepEqual(st.reply, want) {
		t.Fatalf("deny: action %d, reply %+v", action, st.reply)
	}

	_, st, action = h.request(requestHeaders("panic"), true)
	want = &localReply{status: 500, headers: [][2]string{{"content-type", "application/json"}}, body: `{"error": "internal error"}`}
	if action != 1 || !reflect.DeepEqual(st.reply, want) {
		t.Fatalf("panic: action %d, reply %+v", action, st.reply)
	}
	last := h.logs[len(h.logs)-1]
	if !strings.Contains(last, "panic in OnHttpRequestHeaders") || !strings.Contains(last, "assignment to entry in nil map") {
		t.Errorf("panic log: %q", last)
	}
	// The VM survives the panic.
	_, st, action = h.request(requestHeaders("rewrite"), true)
	if action != 0 || st.reply != nil {
		t.Fatalf("request after panic: action %d, reply %+v", action, st.reply)
	}
}

func TestWasmHttpCall(t *testing.T) {
	tests := []struct {
		name      string
		headers   [][2]string
		body      string
		wantReply *localReply
		wantAuth  string
	}{
		{"allowed", [][2]string{{":status", "200"}}, "user-1", nil, "user-1"},
		{"denied", [][2]string{{":status", "403"}}, "bad key", &localReply{status: 401, body: "bad key"}, "<absent>"},
		{"reset", nil, "", &localReply{status: 502, body: "call failed: 11 reset"}, "<absent>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost(t, interpreter)
			id, st, action := h.request(requestHeaders("call"), true)
			call := h.calls[1]
			if action != 1 || call == nil || call.cluster != "auth" || call.body != "ask" || call.contextID != id ||
				get(call.headers, ":path") != "/check" {
				t.Fatalf("dispatch: action %d, call %+v, reply %+v", action, call, st.reply)
			}
			h.respond(1, tc.headers, tc.body)
			if !reflect.DeepEqual(st.reply, tc.wantReply) || st.resumed != (tc.wantReply == nil) {
				t.Fatalf("reply %+v resumed %v; want reply %+v", st.reply, st.resumed, tc.wantReply)
			}
			if got := get(st.headers, "x-auth"); got != tc.wantAuth {
				t.Errorf("x-auth = %q, want %q", got, tc.wantAuth)
			}
		})
	}

	t.Run("stream gone", func(t *testing.T) {
		h := newTestHost(t, interpreter)
		id, _, _ := h.request(requestHeaders("call"), true)
		h.finish(id)
		h.respond(1, [][2]string{{":status", "200"}}, "late")
		if h.switches != 0 {
			t.Fatal("the callback of a deleted stream ran")
		}
	})
}

func TestWasmBody(t *testing.T) {
	h := newTestHost(t, interpreter)
	id, st, _ := h.request(requestHeaders("upper"), false)
	st.body = []byte("hel")
	if a := h.call("proxy_on_request_body", id, uint64(id), 3, 0); a != 1 {
		t.Fatalf("partial body: action %d", a)
	}
	st.body = []byte("hello")
	if a := h.call("proxy_on_request_body", id, uint64(id), 5, 1); a != 0 || string(st.body) != "HELLO" {
		t.Fatalf("body: action %d, body %q, reply %+v", a, st.body, st.reply)
	}
}

// A host writing a result address the module never allocated gets an
// error back, not a crash.
func TestWasmRejectsForeignResultPointers(t *testing.T) {
	h := newTestHost(t, interpreter)
	h.junkPointers = true
	_, st, action := h.request(requestHeaders("rewrite"), true)
	if action != 1 || st.reply == nil || st.reply.status != 599 || st.reply.body != "headers" {
		t.Fatalf("action %d, reply %+v", action, st.reply)
	}
	if !strings.Contains(strings.Join(h.logs, "\n"), "invalid memory access") {
		t.Errorf("logs do not mention the invalid access: %q", h.logs)
	}
}

// BenchmarkWasmRewriteRequest measures one full stream lifecycle with the
// "rewrite" mode: get all headers, three single-header reads (one miss),
// replace, remove, add — in wazero's compiler, as a rough per-request cost.
func BenchmarkWasmRewriteRequest(b *testing.B) {
	h := newTestHost(b, wazero.NewRuntimeConfigCompiler())
	headers := requestHeaders("rewrite")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, _, action := h.request(slices.Clone(headers), true)
		if action != 0 {
			b.Fatalf("action %d", action)
		}
		h.finish(id)
	}
	b.StopTimer()
	b.ReportMetric(float64(h.mod.Memory().Size())/(1<<20), "MiB-guest-memory")
}
