// Command initcall calls a host function other than proxy_log from init(), which runs inside
// _initialize: Envoy traps it as a restricted_callback, and so must the host.
package main

//go:wasmimport env proxy_set_tick_period_milliseconds
func setTickPeriod(ms uint32) uint32

func init() { setTickPeriod(1000) }

func main() {}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	b := make([]byte, max(size, 1))
	return &b[0]
}
