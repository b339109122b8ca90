// Command bench is the filter behind the host benchmarks and the memory check. The plugin
// configuration picks the behaviour:
//
//	"noop"  every callback continues (measures the host's per-stream lifecycle cost)
//	"reply" reads the x-user header and answers 200 with it as a local reply
//	"alloc" reads all request headers and builds per-request garbage (memory-growth check)
package main

import (
	"strings"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vmContext{}) }

type vmContext struct{ proxywasm.DefaultVMContext }

func (vmContext) NewPluginContext(uint32) proxywasm.PluginContext { return &pluginContext{} }

type pluginContext struct {
	proxywasm.DefaultPluginContext
	mode string
}

func (p *pluginContext) OnPluginStart(int) bool {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return false
	}
	p.mode = string(cfg)
	return p.mode == "noop" || p.mode == "reply" || p.mode == "alloc"
}

func (p *pluginContext) NewHttpContext(uint32) proxywasm.HttpContext {
	switch p.mode {
	case "reply":
		return &replyContext{}
	case "alloc":
		return &allocContext{}
	}
	return &proxywasm.DefaultHttpContext{}
}

type replyContext struct{ proxywasm.DefaultHttpContext }

func (*replyContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	user, _ := proxywasm.GetHttpRequestHeader("x-user")
	_ = proxywasm.SendHttpResponse(200, nil, []byte(user), -1)
	return proxywasm.ActionPause
}

type allocContext struct {
	proxywasm.DefaultHttpContext
	seen map[string]string
}

func (c *allocContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		return proxywasm.ActionContinue
	}
	c.seen = make(map[string]string, len(headers))
	var b strings.Builder
	for _, h := range headers {
		c.seen[h[0]] = strings.Repeat(h[1], 4)
		b.WriteString(h[0])
		b.WriteString(h[1])
	}
	_ = proxywasm.AddHttpRequestHeader("x-digest-len", itoa(b.Len()))
	return proxywasm.ActionContinue
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}
