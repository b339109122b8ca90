//go:build wasip1

package proxywasm

// Callbacks of proxy-wasm ABI 0.2.1 that an HTTP filter needs. Each is a
// one-line call into vmState, where the routing, panic recovery and arena
// handling live (and are tested natively). Sizes arrive as i32 and are
// widened to int for the plugin API.

// proxyABIVersion0_2_1 is the marker by which the host selects ABI 0.2.1
// (which, unlike 0.2.0, provides proxy_get_log_level). It is never called.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion0_2_1() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) uint32 { return uint32(vm.allocate(size)) }

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentID uint32) { vm.onContextCreate(contextID, parentID) }

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootID uint32, vmConfigurationSize int32) bool {
	return vm.onVMStart(rootID, int(vmConfigurationSize))
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootID uint32, pluginConfigurationSize int32) bool {
	return vm.onConfigure(rootID, int(pluginConfigurationSize))
}

//go:wasmexport proxy_on_tick
func proxyOnTick(rootID uint32) { vm.onTick(rootID) }

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(rootID, queueID uint32) { vm.onQueueReady(rootID, queueID) }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID uint32, numHeaders int32, endOfStream bool) Action {
	return vm.onRequestHeaders(contextID, int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(contextID uint32, bodySize int32, endOfStream bool) Action {
	return vm.onRequestBody(contextID, int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(contextID uint32, numTrailers int32) Action {
	return vm.onRequestTrailers(contextID, int(numTrailers))
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(contextID uint32, numHeaders int32, endOfStream bool) Action {
	return vm.onResponseHeaders(contextID, int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(contextID uint32, bodySize int32, endOfStream bool) Action {
	return vm.onResponseBody(contextID, int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(contextID uint32, numTrailers int32) Action {
	return vm.onResponseTrailers(contextID, int(numTrailers))
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHttpCallResponse(rootID, calloutID uint32, numHeaders, bodySize, numTrailers int32) {
	vm.onHttpCallResponse(rootID, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

//go:wasmexport proxy_on_done
func proxyOnDone(contextID uint32) bool { return vm.onDone(contextID) }

//go:wasmexport proxy_on_log
func proxyOnLog(contextID uint32) { vm.onLog(contextID) }

//go:wasmexport proxy_on_delete
func proxyOnDelete(contextID uint32) { vm.onDelete(contextID) }
