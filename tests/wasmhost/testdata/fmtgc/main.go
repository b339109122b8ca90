// Command fmtgc links package fmt (and so package os), runs the garbage collector on "/gc"
// and sleeps 1 ms on "/sleep". Sleeping makes the Go scheduler idle, which calls poll_oneoff:
// on Envoy 1.33 (ENOSYS) the runtime throws "poll_oneoff failed", with cpp-host #533 it works.
// The host's WASI modes must reproduce both.
package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vmContext{}) }

type vmContext struct{ proxywasm.DefaultVMContext }

func (vmContext) NewPluginContext(uint32) proxywasm.PluginContext { return &pluginContext{} }

type pluginContext struct{ proxywasm.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) proxywasm.HttpContext { return &httpContext{} }

type httpContext struct{ proxywasm.DefaultHttpContext }

func (*httpContext) OnHttpRequestHeaders(n int, _ bool) proxywasm.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	switch path {
	case "/gc":
		runtime.GC()
	case "/sleep":
		time.Sleep(time.Millisecond)
	}
	_ = proxywasm.AddHttpRequestHeader("x-fmt", fmt.Sprintf("%d headers", n))
	return proxywasm.ActionContinue
}
