// Command rawabi is a proxy-wasm filter written against the raw ABI with //go:wasmimport, no
// bindings package: it proves the host runs any 0.2.x module. It exports the 0.2.0 marker and
// omits proxy_on_vm_start/proxy_on_configure, which the host must tolerate.
//
// Behaviour by request path: "/deny" -> local 403; "/panic" -> unrecovered panic (trap);
// "/unimplemented" -> calls gRPC and a 0.1.0-only import, reporting their statuses in headers;
// anything else -> adds "x-raw: 1".
package main

import (
	"strconv"
	"unsafe"
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg *byte, size uint32) uint32

//go:wasmimport env proxy_get_header_map_value
//go:noescape
func getHeaderMapValue(mapType uint32, key *byte, keySize uint32, valuePtr *uint32, valueSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func addHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_send_local_response
func sendLocalResponse(status uint32, details *byte, detailsSize uint32, body *byte, bodySize uint32, headers *byte, headersSize uint32, grpc int32) uint32

//go:wasmimport env proxy_grpc_cancel
func grpcCancel(id uint32) uint32

//go:wasmimport env proxy_continue_request
func legacyContinueRequest() uint32

func main() {}

// allocations made by the host during one callback; dropped at the next one.
var held [][]byte

//go:wasmexport proxy_abi_version_0_2_0
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	b := make([]byte, max(size, 1))
	held = append(held, b)
	return &b[0]
}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) {}

func header(key string) string {
	var ptr, size uint32
	if getHeaderMapValue(0, unsafe.StringData(key), uint32(len(key)), &ptr, &size) != 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), size))
}

func addHeader(key, value string) {
	addHeaderMapValue(0, unsafe.StringData(key), uint32(len(key)), unsafe.StringData(value), uint32(len(value)))
}

func log(msg string) { proxyLog(2, unsafe.StringData(msg), uint32(len(msg))) }

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id uint32, numHeaders int32, eos bool) uint32 {
	held = held[:0]
	switch path := header(":path"); path {
	case "/deny":
		body := "denied by rawabi"
		sendLocalResponse(403, nil, 0, unsafe.StringData(body), uint32(len(body)), nil, 0, -1)
		return 1
	case "/panic":
		panic("rawabi: boom on " + path)
	case "/unimplemented":
		addHeader("x-grpc-cancel-status", strconv.Itoa(int(grpcCancel(1))))
		addHeader("x-legacy-status", strconv.Itoa(int(legacyContinueRequest())))
	}
	log("rawabi saw " + strconv.Itoa(int(numHeaders)) + " headers")
	addHeader("x-raw", "1")
	return 0
}
