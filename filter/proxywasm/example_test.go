package proxywasm_test

import (
	"errors"
	"fmt"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// A plugin embeds the Default contexts and overrides what it needs; main.go
// registers it with proxywasm.SetVMContext(exampleVM{}) from init().
type exampleVM struct{ proxywasm.DefaultVMContext }

func (exampleVM) NewPluginContext(uint32) proxywasm.PluginContext { return &examplePlugin{} }

type examplePlugin struct{ proxywasm.DefaultPluginContext }

func (*examplePlugin) NewHttpContext(uint32) proxywasm.HttpContext { return &exampleStream{} }

type exampleStream struct{ proxywasm.DefaultHttpContext }

func (*exampleStream) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	if _, err := proxywasm.GetHttpRequestHeader("authorization"); errors.Is(err, proxywasm.ErrNotFound) {
		_ = proxywasm.SendHttpResponse(401, [][2]string{{"content-type", "application/json"}},
			[]byte(`{"error": "Authorization field missing"}`), -1)
		return proxywasm.ActionPause // the local reply is sent after the callback returns
	}
	return proxywasm.ActionContinue
}

func Example_plugin() {
	var _ proxywasm.VMContext = exampleVM{}
}

// Host errors are sentinels to compare with errors.Is. Outside the wasm VM
// every host call reports ErrUnimplemented.
func ExampleGetHttpRequestHeader() {
	_, err := proxywasm.GetHttpRequestHeader("x-api-key")
	switch {
	case errors.Is(err, proxywasm.ErrNotFound):
		fmt.Println("no key")
	case err != nil:
		fmt.Println("host error:", err)
	}
	// Output: host error: proxy-wasm: unimplemented
}
