// Command fidelity is a raw-ABI test filter for the places where a proxy-wasm host is easy to get
// subtly unlike Envoy. It reports what it saw in headers, logs and shared data, so tests can
// assert Envoy's behaviour.
//
// Plugin configuration: space-separated words. "queue=<name>" registers a shared queue whose
// items are stored in shared data "got-<name>"; "declare" declares the read-only property
// "my.prop" (declare_property, from the root context); "buffer" makes the body callbacks return
// StopIterationAndBuffer until the end of the stream.
//
// Every request gets "x-seen-cl" (its content-length, if any); every response "x-seen-resp-cl".
// Body callbacks log "request body <size> <eos>" / "response body <size> <eos>".
// By request path:
//
//	/call       proxy_http_call to cluster "c" with :authority from header x-call-authority
//	            (absent header: no :authority); the status goes to request header x-call-status
//	/foreign    calls the foreign function named by x-fn with x-arg as argument: x-fn-status,
//	            x-fn-result (hex)
//	/declare    sets "my.prop" twice and "free.prop" twice: x-set-status (four statuses),
//	            x-my-prop (value after both sets)
//	/state      set_envoy_filter_state("envoy.string", x-arg): x-state-status, then
//	            x-state (get_property filter_state.envoy.string)
//	/route      x-route-name (xds.route_name), x-tier (xds.route_metadata.filter_metadata.turnpike.tier)
//	/queue      resolves queue (x-vm-id, x-queue) and enqueues x-arg: x-resolve-status, x-enqueue-status
//	/whoami     x-root-id (plugin_root_id), x-plugin-name (plugin_name), x-context (the stream's
//	            context id and its root context id, from proxy_on_context_create)
package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unsafe"
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg *byte, size uint32) uint32

//go:wasmimport env proxy_get_header_map_value
//go:noescape
func getHeaderMapValue(mapType uint32, key *byte, keySize uint32, valuePtr *uint32, valueSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func addHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
//go:noescape
func getBufferBytes(bufferType, start, maxSize uint32, ptr *uint32, size *uint32) uint32

//go:wasmimport env proxy_http_call
//go:noescape
func httpCall(upstream *byte, upstreamSize uint32, headers *byte, headersSize uint32, body *byte, bodySize uint32,
	trailers *byte, trailersSize uint32, timeout uint32, token *uint32) uint32

//go:wasmimport env proxy_call_foreign_function
//go:noescape
func callForeignFunction(name *byte, nameSize uint32, args *byte, argsSize uint32, results *uint32, resultsSize *uint32) uint32

//go:wasmimport env proxy_set_property
func setProperty(path *byte, pathSize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_get_property
//go:noescape
func getProperty(path *byte, pathSize uint32, value *uint32, valueSize *uint32) uint32

//go:wasmimport env proxy_register_shared_queue
//go:noescape
func registerSharedQueue(name *byte, nameSize uint32, id *uint32) uint32

//go:wasmimport env proxy_resolve_shared_queue
//go:noescape
func resolveSharedQueue(vmID *byte, vmIDSize uint32, name *byte, nameSize uint32, id *uint32) uint32

//go:wasmimport env proxy_enqueue_shared_queue
func enqueueSharedQueue(id uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_dequeue_shared_queue
//go:noescape
func dequeueSharedQueue(id uint32, value *uint32, valueSize *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func setSharedData(key *byte, keySize uint32, value *byte, valueSize uint32, cas uint32) uint32

func main() {}

const (
	requestHeaders  = 0
	responseHeaders = 2
	pluginConfig    = 7
)

var (
	held   [][]byte // host allocations of the current callback
	buffer bool
	queues = map[uint32]string{}
)

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	b := make([]byte, max(size, 1))
	held = append(held, b)
	return &b[0]
}

// parents maps each context to its root context (0 for a root).
var parents = map[uint32]uint32{}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) { parents[id] = parent }

//go:wasmexport proxy_on_vm_start
func onVMStart(id, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_configure
func onConfigure(id, size uint32) uint32 {
	var ptr, n uint32
	if getBufferBytes(pluginConfig, 0, size, &ptr, &n) != 0 && size > 0 {
		return 0
	}
	for _, w := range strings.Fields(string(bytesAt(ptr, n))) {
		switch {
		case strings.HasPrefix(w, "queue="):
			name := strings.TrimPrefix(w, "queue=")
			var qid uint32
			if registerSharedQueue(ptrOf(name), uint32(len(name)), &qid) != 0 {
				return 0
			}
			queues[qid] = name
		case w == "declare":
			// DeclarePropertyArguments{name: "my.prop", readonly: true, type: String}
			args := append(append([]byte{0x0a, byte(len("my.prop"))}, "my.prop"...), 0x10, 1, 0x18, 1)
			if callForeignFunction(ptrOf("declare_property"), 16, &args[0], uint32(len(args)), nil, nil) != 0 {
				return 0
			}
		case w == "buffer":
			buffer = true
		}
	}
	return 1
}

//go:wasmexport proxy_on_queue_ready
func onQueueReady(root, qid uint32) {
	var ptr, n uint32
	if dequeueSharedQueue(qid, &ptr, &n) != 0 {
		return
	}
	key := "got-" + queues[qid]
	setSharedData(ptrOf(key), uint32(len(key)), ptrAt(ptr), n, 0)
}

//go:wasmexport proxy_on_http_call_response
func onHTTPCallResponse(root, token, headers, body, trailers uint32) {}

func bytesAt(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

func ptrAt(p uint32) *byte { return (*byte)(unsafe.Pointer(uintptr(p))) }

func ptrOf(s string) *byte { return unsafe.StringData(s) }

func header(mapType uint32, key string) (string, bool) {
	var ptr, size uint32
	if getHeaderMapValue(mapType, ptrOf(key), uint32(len(key)), &ptr, &size) != 0 {
		return "", false
	}
	return string(bytesAt(ptr, size)), true
}

func addHeader(mapType uint32, key, value string) {
	addHeaderMapValue(mapType, ptrOf(key), uint32(len(key)), ptrOf(value+"\x00"), uint32(len(value)))
}

func log(msg string) { proxyLog(2, ptrOf(msg), uint32(len(msg))) }

// pairs serializes header pairs as the ABI wants them.
func pairs(kv [][2]string) []byte {
	b := make([]byte, 4, 64)
	b[0] = byte(len(kv))
	for _, p := range kv {
		b = append(b, byte(len(p[0])), byte(len(p[0])>>8), 0, 0, byte(len(p[1])), byte(len(p[1])>>8), 0, 0)
	}
	for _, p := range kv {
		b = append(append(append(b, p[0]...), 0), append([]byte(p[1]), 0)...)
	}
	return b
}

func property(path ...string) (string, uint32) {
	p := strings.Join(path, "\x00")
	var ptr, n uint32
	st := getProperty(ptrOf(p), uint32(len(p)), &ptr, &n)
	return string(bytesAt(ptr, n)), st
}

func set(path, value string) uint32 {
	return setProperty(ptrOf(path), uint32(len(path)), ptrOf(value+"\x00"), uint32(len(value)))
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id uint32, numHeaders int32, eos bool) uint32 {
	held = held[:0]
	if cl, ok := header(requestHeaders, "content-length"); ok {
		addHeader(requestHeaders, "x-seen-cl", cl)
	}
	path, _ := header(requestHeaders, ":path")
	arg, _ := header(requestHeaders, "x-arg")
	switch path {
	case "/call":
		kv := [][2]string{{":method", "GET"}, {":path", "/x"}}
		if a, ok := header(requestHeaders, "x-call-authority"); ok {
			kv = append(kv, [2]string{":authority", a})
		}
		h := pairs(kv)
		var token uint32
		st := httpCall(ptrOf("c"), 1, &h[0], uint32(len(h)), nil, 0, nil, 0, 1000, &token)
		addHeader(requestHeaders, "x-call-status", itoa(st))
	case "/foreign":
		fn, _ := header(requestHeaders, "x-fn")
		a := []byte(arg + "\x00")
		var ptr, n uint32
		st := callForeignFunction(ptrOf(fn), uint32(len(fn)), &a[0], uint32(len(arg)), &ptr, &n)
		addHeader(requestHeaders, "x-fn-status", itoa(st))
		addHeader(requestHeaders, "x-fn-result", hex.EncodeToString(bytesAt(ptr, n)))
	case "/declare":
		sts := []string{itoa(set("my.prop", "a")), itoa(set("my.prop", "b")), itoa(set("free.prop", "a")), itoa(set("free.prop", "b"))}
		addHeader(requestHeaders, "x-set-status", strings.Join(sts, ","))
		v, _ := property("my.prop")
		addHeader(requestHeaders, "x-my-prop", v)
	case "/state":
		// SetEnvoyFilterStateArguments{path: "envoy.string", value: arg}
		args := append(append([]byte{0x0a, 12}, "envoy.string"...), 0x12, byte(len(arg)))
		args = append(args, arg...)
		st := callForeignFunction(ptrOf("set_envoy_filter_state"), 22, &args[0], uint32(len(args)), nil, nil)
		addHeader(requestHeaders, "x-state-status", itoa(st))
		v, _ := property("filter_state", "envoy.string")
		addHeader(requestHeaders, "x-state", v)
	case "/route":
		name, _ := property("xds", "route_name")
		tier, _ := property("xds", "route_metadata", "filter_metadata", "turnpike", "tier")
		addHeader(requestHeaders, "x-route-name", name)
		addHeader(requestHeaders, "x-tier", tier)
	case "/whoami":
		root, _ := property("plugin_root_id")
		name, _ := property("plugin_name")
		addHeader(requestHeaders, "x-root-id", root)
		addHeader(requestHeaders, "x-plugin-name", name)
		addHeader(requestHeaders, "x-context", itoa(id)+"<"+itoa(parents[id]))
	case "/queue":
		vmID, _ := header(requestHeaders, "x-vm-id")
		name, _ := header(requestHeaders, "x-queue")
		var qid uint32
		st := resolveSharedQueue(ptrOf(vmID+"\x00"), uint32(len(vmID)), ptrOf(name), uint32(len(name)), &qid)
		addHeader(requestHeaders, "x-resolve-status", itoa(st))
		if st == 0 {
			a := []byte(arg + "\x00")
			addHeader(requestHeaders, "x-enqueue-status", itoa(enqueueSharedQueue(qid, &a[0], uint32(len(arg)))))
		}
	}
	return 0
}

func body(what string, size uint32, eos bool) uint32 {
	log(what + " body " + itoa(size) + " " + strconv.FormatBool(eos))
	if buffer && !eos {
		return 1 // StopIterationAndBuffer
	}
	return 0
}

//go:wasmexport proxy_on_request_body
func onRequestBody(id, size uint32, eos bool) uint32 { return body("request", size, eos) }

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(id uint32, numHeaders int32, eos bool) uint32 {
	held = held[:0]
	if cl, ok := header(responseHeaders, "content-length"); ok {
		addHeader(responseHeaders, "x-seen-resp-cl", cl)
	}
	return 0
}

//go:wasmexport proxy_on_response_body
func onResponseBody(id, size uint32, eos bool) uint32 { return body("response", size, eos) }
