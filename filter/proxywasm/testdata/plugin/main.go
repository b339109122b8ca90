// Command plugin is the wasm module the end-to-end tests of package
// proxywasm run in the project's wazero host (tests/wasmhost). The request
// header x-mode selects which part of the bindings a request exercises.
package main

import (
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

func main() {}

func init() { proxywasm.SetVMContext(vm{}) }

type vm struct{ proxywasm.DefaultVMContext }

func (vm) NewPluginContext(uint32) proxywasm.PluginContext { return &plugin{} }

type plugin struct {
	proxywasm.DefaultPluginContext
	config string
}

func (p *plugin) OnPluginStart(size int) bool {
	config, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(config) != size {
		proxywasm.LogErrorf("configuration: %d bytes, %v", len(config), err)
		return false
	}
	p.config = string(config)
	proxywasm.LogInfof("configured with %q", p.config)
	return true
}

func (p *plugin) NewHttpContext(id uint32) proxywasm.HttpContext {
	return &stream{id: id, config: p.config}
}

type stream struct {
	proxywasm.DefaultHttpContext
	id     uint32
	config string
	mode   string
}

func (s *stream) OnHttpRequestHeaders(numHeaders int, _ bool) proxywasm.Action {
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil || len(headers) != numHeaders {
		proxywasm.LogErrorf("headers: got %d of %d: %v", len(headers), numHeaders, err)
		return s.fail("headers")
	}
	s.mode, _ = proxywasm.GetHttpRequestHeader("x-mode")
	switch s.mode {
	case "rewrite":
		path, err := proxywasm.GetHttpRequestHeader(":path")
		if err != nil {
			return s.fail(err.Error())
		}
		if _, err := proxywasm.GetHttpRequestHeader("x-absent"); err != proxywasm.ErrNotFound {
			return s.fail("x-absent: " + errString(err))
		}
		if view, err := proxywasm.GetHttpRequestHeaderView(":path"); err != nil || view != path {
			return s.fail("view of :path: " + view + " " + errString(err))
		}
		if _, err := proxywasm.GetHttpRequestHeaderView("x-absent"); err != proxywasm.ErrNotFound {
			return s.fail("view of x-absent: " + errString(err))
		}
		_ = proxywasm.ReplaceHttpRequestHeader("x-seen", path+" "+strconv.Itoa(numHeaders)+" "+s.config)
		_ = proxywasm.RemoveHttpRequestHeader("x-remove")
		_ = proxywasm.AddHttpRequestHeader("x-added", "1")
		return proxywasm.ActionContinue
	case "snapshot":
		return s.snapshot()
	case "replace-all":
		_ = proxywasm.SetHttpRequestHeaders([][2]string{{":path", "/replaced"}, {"x-count", strconv.Itoa(len(headers))}})
		return proxywasm.ActionContinue
	case "deny":
		_ = proxywasm.SendHttpResponse(403, [][2]string{{"x-reason", "denied"}}, []byte("nope"), -1)
		return proxywasm.ActionPause
	case "panic":
		var m map[string]int
		m["boom"]++ // nil map write: a runtime panic, not just panic(string)
		return proxywasm.ActionContinue
	case "call":
		_, err := proxywasm.DispatchHttpCall("auth",
			[][2]string{{":method", "GET"}, {":path", "/check"}, {":authority", "auth"}},
			[]byte("ask"), nil, callTimeoutMillis, s.onAuth)
		if err != nil {
			return s.fail("dispatch: " + err.Error())
		}
		return proxywasm.ActionPause
	}
	return proxywasm.ActionContinue
}

// snapshot reads headers around the filter's own changes: every read must
// see the map as it is now, although reads come from one snapshot per
// callback. It reports what it read in x-snapshot.
func (s *stream) snapshot() proxywasm.Action {
	view := func(k string) string {
		v, err := proxywasm.GetHttpRequestHeaderView(k)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return v
	}
	var out []string
	out = append(out, view(":path"), view("X-Remove"), view("x-absent"))
	_ = proxywasm.ReplaceHttpRequestHeader(":path", "/changed")
	_ = proxywasm.RemoveHttpRequestHeader("x-remove")
	_ = proxywasm.AddHttpRequestHeader("x-absent", "now")
	out = append(out, view(":path"), view("x-remove"), view("x-absent"), view(":authority"))
	_ = proxywasm.SetHttpRequestHeaders([][2]string{{":path", "/all"}, {"x-mode", "snapshot"}})
	out = append(out, view(":path"), view(":authority"))
	_ = proxywasm.ReplaceHttpRequestHeader("x-snapshot", strings.Join(out, ","))
	return proxywasm.ActionContinue
}

// callTimeoutMillis is far longer than any test takes to answer: the host
// enforces the timeout on calls the test answers too, and a 504 arriving
// first on a slow (-race) run would make the outcome a matter of timing.
const callTimeoutMillis = 60_000

func (s *stream) onAuth(numHeaders, bodySize, _ int) {
	// Proof for the tests that this callback ran, and for which stream: the
	// response to a call of a deleted stream must never get here.
	proxywasm.LogInfof("auth response for stream %d", s.id)
	if numHeaders == 0 {
		code, msg, err := proxywasm.GetStatus()
		_ = proxywasm.SendHttpResponse(502, nil, []byte("call failed: "+strconv.Itoa(int(code))+" "+msg+errString(err)), -1)
		return
	}
	headers, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		s.fail(err.Error())
		return
	}
	body, err := proxywasm.GetHttpCallResponseBody(0, bodySize)
	if err != nil {
		s.fail(err.Error())
		return
	}
	for _, kv := range headers {
		if kv[0] == ":status" && kv[1] == "200" {
			_ = proxywasm.ReplaceHttpRequestHeader("x-auth", string(body))
			_ = proxywasm.ResumeHttpRequest()
			return
		}
	}
	_ = proxywasm.SendHttpResponse(401, nil, body, -1)
}

func (s *stream) OnHttpResponseHeaders(int, bool) proxywasm.Action {
	if s.mode == "rewrite" {
		_ = proxywasm.ReplaceHttpResponseHeaderBytes("x-bytes", strconv.AppendInt([]byte("n="), 42, 10))
	}
	return proxywasm.ActionContinue
}

func (s *stream) OnHttpRequestBody(bodySize int, endOfStream bool) proxywasm.Action {
	if s.mode != "upper" {
		return proxywasm.ActionContinue
	}
	if !endOfStream {
		return proxywasm.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		return s.fail(err.Error())
	}
	_ = proxywasm.ReplaceHttpRequestBody([]byte(strings.ToUpper(string(body))))
	return proxywasm.ActionContinue
}

func (s *stream) fail(reason string) proxywasm.Action {
	_ = proxywasm.SendHttpResponse(599, nil, []byte(reason), -1)
	return proxywasm.ActionPause
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
