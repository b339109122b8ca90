// Command headers is a test filter for header, body, trailer, property, metric, log and
// shared-data host calls, driven by the request path:
//
//	"/deny"   local reply 403 with a JSON body and a custom header
//	"/close"  proxy_close_stream
//	"/count"  increments the shared-data counter "count" with a CAS retry loop
//	"/body"   buffers the request body until end of stream, then upper-cases it
//	"/mask"   replaces a 500 upstream response with a local 502
//
// Every request gets x-added, x-replace (replaced), x-remove (removed), x-vm-config and
// x-plugin-config; header x-get-property: a.b.c returns that property in x-property (quoted).
// Responses get x-response-added, lose "server", and their body gets "!" appended.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct {
	proxywasm.DefaultVMContext
	vmConfig string
}

func (v *vmContext) OnVMStart(int) bool {
	cfg, err := proxywasm.GetVMConfiguration()
	if err != nil {
		return false
	}
	v.vmConfig = string(cfg)
	return v.vmConfig != "fail-vm-start"
}

func (v *vmContext) NewPluginContext(uint32) proxywasm.PluginContext {
	return &pluginContext{vm: v}
}

type pluginContext struct {
	proxywasm.DefaultPluginContext
	vm       *vmContext
	config   string
	requests proxywasm.MetricCounter
	inflight proxywasm.MetricGauge
	pathLen  proxywasm.MetricHistogram
}

func (p *pluginContext) OnPluginStart(int) bool {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return false
	}
	p.config = string(cfg)
	p.requests = proxywasm.DefineCounterMetric("requests_total")
	p.inflight = proxywasm.DefineGaugeMetric("inflight")
	p.pathLen = proxywasm.DefineHistogramMetric("path_len")
	// Seed the counter before traffic: with Envoy's rules a set on a missing key succeeds
	// whatever the cas, so two workers racing on the first increment would both "win" and one
	// would overwrite everything the others counted meanwhile.
	if _, _, err := proxywasm.GetSharedData("count"); errors.Is(err, proxywasm.ErrNotFound) {
		if err := proxywasm.SetSharedData("count", make([]byte, 8), 0); err != nil {
			return false
		}
	}
	return p.config != "fail-configure"
}

func (p *pluginContext) NewHttpContext(uint32) proxywasm.HttpContext {
	return &httpContext{plugin: p}
}

type httpContext struct {
	proxywasm.DefaultHttpContext
	plugin *pluginContext
	path   string
}

func (c *httpContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	p := c.plugin
	p.requests.Increment(1)
	p.inflight.Add(1)
	c.path, _ = proxywasm.GetHttpRequestHeader(":path")
	p.pathLen.Record(uint64(len(c.path)))
	proxywasm.LogInfof("request %s", c.path)

	_ = proxywasm.AddHttpRequestHeader("x-added", "yes")
	_ = proxywasm.ReplaceHttpRequestHeader("x-replace", "new")
	_ = proxywasm.RemoveHttpRequestHeader("x-remove")
	_ = proxywasm.AddHttpRequestHeader("x-vm-config", p.vm.vmConfig)
	_ = proxywasm.AddHttpRequestHeader("x-plugin-config", p.config)
	if prop, err := proxywasm.GetHttpRequestHeader("x-get-property"); err == nil {
		v, err := proxywasm.GetProperty(strings.Split(prop, "."))
		if err != nil {
			_ = proxywasm.AddHttpRequestHeader("x-property-error", err.Error())
		} else {
			_ = proxywasm.AddHttpRequestHeader("x-property", strconv.Quote(string(v)))
		}
	}

	switch c.path {
	case "/deny":
		_ = proxywasm.SendHttpResponse(403, [][2]string{{"X-Deny-Reason", "test"}, {"content-type", "application/json"}},
			[]byte(`{"error":"denied"}`), -1)
		return proxywasm.ActionPause
	case "/close":
		_ = proxywasm.CloseHttpRequest()
		return proxywasm.ActionPause
	case "/count":
		n := incrementShared("count")
		_ = proxywasm.AddHttpRequestHeader("x-count", strconv.FormatUint(n, 10))
	}
	return proxywasm.ActionContinue
}

// incrementShared is the standard shared-data CAS loop on a key seeded at plugin start.
func incrementShared(key string) uint64 {
	for {
		v, cas, err := proxywasm.GetSharedData(key)
		if err != nil || len(v) != 8 {
			proxywasm.LogErrorf("get shared data %s: %v", key, err)
			return 0
		}
		n := binary.LittleEndian.Uint64(v)
		err = proxywasm.SetSharedData(key, binary.LittleEndian.AppendUint64(nil, n+1), cas)
		if err == nil {
			return n + 1
		}
		if !errors.Is(err, proxywasm.ErrCasMismatch) {
			proxywasm.LogErrorf("set shared data: %s", err.Error())
			return 0
		}
	}
}

func (c *httpContext) OnHttpRequestBody(size int, eos bool) proxywasm.Action {
	if c.path != "/body" {
		return proxywasm.ActionContinue
	}
	if !eos {
		return proxywasm.ActionPause // buffer until the whole body is there
	}
	body, err := proxywasm.GetHttpRequestBody(0, size)
	if err != nil {
		return proxywasm.ActionContinue
	}
	_ = proxywasm.ReplaceHttpRequestBody(bytes.ToUpper(body))
	return proxywasm.ActionContinue
}

func (c *httpContext) OnHttpRequestTrailers(int) proxywasm.Action {
	_ = proxywasm.AddHttpRequestTrailer("x-trailer-seen", "1")
	return proxywasm.ActionContinue
}

func (c *httpContext) OnHttpResponseHeaders(int, bool) proxywasm.Action {
	status, _ := proxywasm.GetHttpResponseHeader(":status")
	if c.path == "/mask" && status == "500" {
		_ = proxywasm.SendHttpResponse(502, nil, []byte("masked"), -1)
		return proxywasm.ActionPause
	}
	_ = proxywasm.AddHttpResponseHeader("x-response-added", "1")
	_ = proxywasm.RemoveHttpResponseHeader("server")
	return proxywasm.ActionContinue
}

func (c *httpContext) OnHttpResponseBody(int, bool) proxywasm.Action {
	_ = proxywasm.AppendHttpResponseBody([]byte("!"))
	return proxywasm.ActionContinue
}

func (c *httpContext) OnHttpStreamDone() {
	c.plugin.inflight.Add(-1)
	proxywasm.LogDebug("stream done " + c.path)
}
