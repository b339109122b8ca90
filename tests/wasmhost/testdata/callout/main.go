// Command callout is a test filter for http calls, ticks and shared queues.
//
// Requests are paused while a call goes to the cluster named by the x-cluster header (default
// "auth") with path "/check<request path>". A 200 answer resumes the request with x-auth set to
// the answer's body; another status is relayed as a local reply; a failed call (reset) becomes a
// local 503 whose body holds proxy_get_status. "/queue..." requests instead enqueue their path on
// the shared queue "events" and continue; the queue owner counts items in metric "dequeued".
// Plugin configuration "timeout=<ms>" sets the call timeout, "tick=<ms>" the tick period; every
// tick increments metric "ticks".
package main

import (
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vmContext{}) }

type vmContext struct{ proxywasm.DefaultVMContext }

func (vmContext) NewPluginContext(uint32) proxywasm.PluginContext { return &pluginContext{} }

type pluginContext struct {
	proxywasm.DefaultPluginContext
	timeout  uint32
	ticks    proxywasm.MetricCounter
	dequeued proxywasm.MetricCounter
	failed   proxywasm.MetricCounter
}

func (p *pluginContext) OnPluginStart(int) bool {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return false
	}
	p.timeout = 5000
	for _, kv := range strings.Fields(string(cfg)) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			proxywasm.LogErrorf("bad config %s", kv)
			return false
		}
		switch k {
		case "timeout":
			p.timeout = uint32(n)
		case "tick":
			if err := proxywasm.SetTickPeriodMilliSeconds(uint32(n)); err != nil {
				return false
			}
		}
	}
	p.ticks = proxywasm.DefineCounterMetric("ticks")
	p.dequeued = proxywasm.DefineCounterMetric("dequeued")
	p.failed = proxywasm.DefineCounterMetric("callouts_failed")
	if _, err := proxywasm.RegisterSharedQueue("events"); err != nil {
		return false
	}
	return true
}

func (p *pluginContext) OnTick() { p.ticks.Increment(1) }

func (p *pluginContext) OnQueueReady(id uint32) {
	for {
		if _, err := proxywasm.DequeueSharedQueue(id); err != nil {
			return
		}
		p.dequeued.Increment(1)
	}
}

func (p *pluginContext) NewHttpContext(uint32) proxywasm.HttpContext {
	return &httpContext{plugin: p}
}

type httpContext struct {
	proxywasm.DefaultHttpContext
	plugin *pluginContext
}

func (c *httpContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	if strings.HasPrefix(path, "/queue") {
		q, err := proxywasm.ResolveSharedQueue("", "events")
		if err == nil {
			err = proxywasm.EnqueueSharedQueue(q, []byte(path))
		}
		if err != nil {
			proxywasm.LogErrorf("enqueue: %s", err.Error())
		}
		return proxywasm.ActionContinue
	}
	cluster, err := proxywasm.GetHttpRequestHeader("x-cluster")
	if err != nil {
		cluster = "auth"
	}
	headers := [][2]string{{":method", "GET"}, {":path", "/check" + path}, {":authority", "auth.local"}}
	if path == "/no-authority" {
		headers = headers[:2]
	}
	_, err = proxywasm.DispatchHttpCall(cluster, headers, nil, nil, c.plugin.timeout, c.onResponse)
	if err != nil {
		_ = proxywasm.SendHttpResponse(500, nil, []byte("dispatch: "+err.Error()), -1)
	}
	return proxywasm.ActionPause
}

func (c *httpContext) onResponse(numHeaders, bodySize, _ int) {
	if numHeaders == 0 {
		c.plugin.failed.Increment(1)
		code, msg, _ := proxywasm.GetStatus()
		_ = proxywasm.SendHttpResponse(503, nil, []byte("callout failed: "+strconv.Itoa(int(code))+" "+msg), -1)
		return
	}
	status, _ := proxywasm.GetHttpCallResponseHeaders()
	body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
	code := "0"
	for _, h := range status {
		if h[0] == ":status" {
			code = h[1]
		}
	}
	if code != "200" {
		n, _ := strconv.Atoi(code)
		_ = proxywasm.SendHttpResponse(uint32(n), [][2]string{{"x-upstream-status", code}}, body, -1)
		return
	}
	_ = proxywasm.AddHttpRequestHeader("x-auth", string(body))
	_ = proxywasm.ResumeHttpRequest()
}

func (c *httpContext) OnHttpResponseHeaders(int, bool) proxywasm.Action {
	_ = proxywasm.AddHttpResponseHeader("x-callout-filter", "1")
	return proxywasm.ActionContinue
}
