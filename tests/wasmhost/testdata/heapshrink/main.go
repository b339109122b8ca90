// Command heapshrink grows its live heap by 16 MiB on "/grow", drops it on "/free" and runs the
// garbage collector on "/gc". After a sharp drop of the live heap, Go's background scavenger
// finds free pages to return, then sleeps on a runtime timer; that timer starts the network
// poller, and from then on every collection calls poll_oneoff (runtime.startTheWorldWithSema ->
// netpoll(0)). No code of the module arms a timer: this is the Go runtime's own path, which
// only a host answering poll_oneoff (cpp-host PR #533) survives.
package main

import (
	"runtime"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vmContext{}) }

type vmContext struct{ proxywasm.DefaultVMContext }

func (vmContext) NewPluginContext(uint32) proxywasm.PluginContext { return &pluginContext{} }

type pluginContext struct{ proxywasm.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) proxywasm.HttpContext { return &httpContext{} }

type httpContext struct{ proxywasm.DefaultHttpContext }

var live [][]byte

func (*httpContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	switch path {
	case "/grow":
		for range 16 << 10 {
			live = append(live, make([]byte, 1024))
		}
	case "/free":
		live = nil
	case "/gc":
		runtime.GC()
	}
	return proxywasm.ActionContinue
}
