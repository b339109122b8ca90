// Command filter is Turnpike's proxy-wasm plugin: API key authentication,
// Tyk policies, rate limits and quotas, decided inside the proxy's VM. Build
// it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm ./filter
//
// The logic lives in internal/plugin; the configuration and every response
// the filter sends are documented in README.md.
package main

import (
	"github.com/turnpike-dev/turnpike/filter/internal/plugin"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// main is required by the build but never called: a c-shared wasip1 module
// is a reactor whose entry points are its proxy_on_* exports.
func main() {}

// init only registers the plugin: hosts allow no other host call here.
func init() {
	proxywasm.SetVMContext(plugin.VM{})
}
