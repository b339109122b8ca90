package proxywasm

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Test doubles recording what the dispatcher calls. panicIn names a method
// that panics instead of returning.

type testVM struct {
	log     *[]string
	panicIn string
	plugin  *testPlugin
}

func (v *testVM) OnVMStart(size int) bool {
	v.record("OnVMStart " + strconv.Itoa(size))
	return true
}

func (v *testVM) NewPluginContext(id uint32) PluginContext {
	v.record("NewPluginContext " + strconv.Itoa(int(id)))
	return v.plugin
}

func (v *testVM) record(call string) {
	*v.log = append(*v.log, call)
	if v.panicIn != "" && strings.HasPrefix(call, v.panicIn) {
		panic("test panic in " + call)
	}
}

type testPlugin struct {
	testVM
	httpAction Action
	noStreams  bool
	httpPanic  string
}

func (p *testPlugin) OnPluginStart(size int) bool {
	p.record("OnPluginStart " + strconv.Itoa(size))
	return true
}
func (p *testPlugin) OnPluginDone() bool        { p.record("OnPluginDone"); return false }
func (p *testPlugin) OnTick()                   { p.record("OnTick") }
func (p *testPlugin) OnQueueReady(queue uint32) { p.record("OnQueueReady " + strconv.Itoa(int(queue))) }
func (p *testPlugin) NewHttpContext(id uint32) HttpContext {
	p.record("NewHttpContext " + strconv.Itoa(int(id)))
	if p.noStreams {
		return nil
	}
	return &testHttp{testVM: testVM{log: p.log, panicIn: p.httpPanic}, action: p.httpAction}
}

type testHttp struct {
	testVM
	action Action
}

func (h *testHttp) do(call string) Action { h.record(call); return h.action }
func (h *testHttp) OnHttpRequestHeaders(n int, eos bool) Action {
	return h.do("OnHttpRequestHeaders " + strconv.Itoa(n) + " " + strconv.FormatBool(eos))
}
func (h *testHttp) OnHttpRequestBody(n int, eos bool) Action {
	return h.do("OnHttpRequestBody " + strconv.Itoa(n) + " " + strconv.FormatBool(eos))
}
func (h *testHttp) OnHttpRequestTrailers(n int) Action {
	return h.do("OnHttpRequestTrailers " + strconv.Itoa(n))
}
func (h *testHttp) OnHttpResponseHeaders(n int, eos bool) Action {
	return h.do("OnHttpResponseHeaders " + strconv.Itoa(n) + " " + strconv.FormatBool(eos))
}
func (h *testHttp) OnHttpResponseBody(n int, eos bool) Action {
	return h.do("OnHttpResponseBody " + strconv.Itoa(n) + " " + strconv.FormatBool(eos))
}
func (h *testHttp) OnHttpResponseTrailers(n int) Action {
	return h.do("OnHttpResponseTrailers " + strconv.Itoa(n))
}
func (h *testHttp) OnHttpStreamDone() { h.record("OnHttpStreamDone") }

// newTestState returns a dispatcher with a recording plugin and a panic
// handler that records its calls and pauses.
func newTestState(t *testing.T) (*vmState, *testPlugin, *[]string) {
	t.Helper()
	log := &[]string{}
	plugin := &testPlugin{testVM: testVM{log: log}}
	s := newVMState()
	s.vmContext = &testVM{log: log, plugin: plugin}
	s.panicHandler = func(id uint32, r any) Action {
		*log = append(*log, "PanicHandler "+strconv.Itoa(int(id)))
		return ActionPause
	}
	s.setEffectiveContext = func(id uint32) error {
		*log = append(*log, "set_effective_context "+strconv.Itoa(int(id)))
		return nil
	}
	return s, plugin, log
}

func expectLog(t *testing.T, log *[]string, want ...string) {
	t.Helper()
	if len(*log) != len(want) || (len(want) > 0 && !reflect.DeepEqual(*log, want)) {
		t.Fatalf("calls:\n got %q\nwant %q", *log, want)
	}
	*log = (*log)[:0]
}

// startRoot drives the host's start-up sequence for plugin context 1.
func startRoot(t *testing.T, s *vmState) {
	t.Helper()
	s.onContextCreate(1, 0)
	if !s.onVMStart(1, 10) || !s.onConfigure(1, 20) {
		t.Fatal("start-up failed")
	}
}

func TestLifecycleRouting(t *testing.T) {
	s, _, log := newTestState(t)
	startRoot(t, s)
	expectLog(t, log, "NewPluginContext 1", "OnVMStart 10", "OnPluginStart 20")

	s.onContextCreate(2, 1)
	steps := []struct {
		call func() Action
		want string
	}{
		{func() Action { return s.onRequestHeaders(2, 5, false) }, "OnHttpRequestHeaders 5 false"},
		{func() Action { return s.onRequestBody(2, 100, true) }, "OnHttpRequestBody 100 true"},
		{func() Action { return s.onRequestTrailers(2, 1) }, "OnHttpRequestTrailers 1"},
		{func() Action { return s.onResponseHeaders(2, 3, false) }, "OnHttpResponseHeaders 3 false"},
		{func() Action { return s.onResponseBody(2, 7, true) }, "OnHttpResponseBody 7 true"},
		{func() Action { return s.onResponseTrailers(2, 2) }, "OnHttpResponseTrailers 2"},
	}
	expectLog(t, log, "NewHttpContext 2")
	for _, step := range steps {
		if got := step.call(); got != ActionContinue {
			t.Fatalf("%s returned %d", step.want, got)
		}
		expectLog(t, log, step.want)
	}
	s.onTick(1)
	s.onQueueReady(1, 9)
	expectLog(t, log, "OnTick", "OnQueueReady 9")

	if !s.onDone(2) {
		t.Error("stream onDone must report done")
	}
	s.onLog(2)
	s.onDelete(2)
	expectLog(t, log, "OnHttpStreamDone")
	if _, ok := s.streams[2]; ok {
		t.Error("stream 2 still registered after delete")
	}
	if s.onDone(1) {
		t.Error("plugin onDone must pass OnPluginDone's false through")
	}
	s.onDelete(1)
	expectLog(t, log, "OnPluginDone")
	if len(s.roots) != 0 || s.depth != 0 || s.current != 0 {
		t.Fatalf("state left behind: roots=%d depth=%d current=%d", len(s.roots), s.depth, s.current)
	}
}

func TestPauseIsPassedThrough(t *testing.T) {
	s, plugin, _ := newTestState(t)
	plugin.httpAction = ActionPause
	startRoot(t, s)
	s.onContextCreate(2, 1)
	if got := s.onRequestHeaders(2, 1, true); got != ActionPause {
		t.Fatalf("got action %d, want pause", got)
	}
}

func TestNilHttpContextContinues(t *testing.T) {
	s, plugin, log := newTestState(t)
	plugin.noStreams = true
	startRoot(t, s)
	s.onContextCreate(2, 1)
	*log = (*log)[:0]
	if got := s.onRequestHeaders(2, 1, true); got != ActionContinue {
		t.Fatalf("got action %d, want continue", got)
	}
	s.onLog(2)
	expectLog(t, log)
}

func TestStreamPanicFailsClosedOnce(t *testing.T) {
	s, plugin, log := newTestState(t)
	plugin.httpPanic = "OnHttpRequestHeaders"
	startRoot(t, s)
	s.onContextCreate(2, 1)
	*log = (*log)[:0]

	if got := s.onRequestHeaders(2, 1, false); got != ActionPause {
		t.Fatalf("panicking callback returned %d, want the handler's pause", got)
	}
	expectLog(t, log, "OnHttpRequestHeaders 1 false", "PanicHandler 2")
	// The plugin's context is not trusted again, and the stream is not
	// answered twice.
	if got := s.onResponseHeaders(2, 1, false); got != ActionContinue {
		t.Fatalf("callback after failure returned %d", got)
	}
	s.onLog(2)
	expectLog(t, log)
	if s.depth != 0 || s.current != 0 {
		t.Fatalf("panic left depth=%d current=%d", s.depth, s.current)
	}
	// Other streams are unaffected.
	plugin.httpPanic = ""
	s.onContextCreate(3, 1)
	if got := s.onRequestHeaders(3, 1, false); got != ActionContinue {
		t.Fatalf("healthy stream got %d", got)
	}
}

func TestPanicHandlerPanicIsContained(t *testing.T) {
	s, plugin, _ := newTestState(t)
	plugin.httpPanic = "OnHttpRequestBody"
	s.panicHandler = func(uint32, any) Action { panic("handler broken") }
	startRoot(t, s)
	s.onContextCreate(2, 1)
	if got := s.onRequestBody(2, 1, true); got != ActionPause {
		t.Fatalf("got %d, want pause after the handler panicked", got)
	}
}

func TestUnusableStreamsFailClosed(t *testing.T) {
	tests := []struct {
		name   string
		create func(s *vmState)
	}{
		{"NewHttpContext panicked", func(s *vmState) { s.onContextCreate(2, 1) }},
		{"unknown parent", func(s *vmState) { s.onContextCreate(2, 99) }},
		{"never created", func(s *vmState) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, plugin, log := newTestState(t)
			plugin.panicIn = "NewHttpContext"
			startRoot(t, s)
			tc.create(s)
			*log = (*log)[:0]
			if got := s.onRequestHeaders(2, 1, false); got != ActionPause {
				t.Fatalf("got %d, want the handler's pause", got)
			}
			if got := s.onRequestBody(2, 1, true); got != ActionContinue {
				t.Fatalf("second callback got %d, want continue", got)
			}
			expectLog(t, log, "PanicHandler 2")
		})
	}
}

func TestRootFailures(t *testing.T) {
	t.Run("no VMContext", func(t *testing.T) {
		s := newVMState()
		s.onContextCreate(1, 0)
		if s.onVMStart(1, 0) || s.onConfigure(1, 0) {
			t.Fatal("start-up succeeded without a VMContext")
		}
	})
	for _, method := range []string{"OnVMStart", "OnPluginStart", "NewPluginContext"} {
		t.Run("panic in "+method, func(t *testing.T) {
			s, plugin, _ := newTestState(t)
			s.vmContext.(*testVM).panicIn = method
			plugin.panicIn = method
			s.onContextCreate(1, 0)
			if s.onVMStart(1, 0) && s.onConfigure(1, 0) {
				t.Fatal("start-up succeeded although " + method + " panicked")
			}
		})
	}
	t.Run("panic in OnTick and OnPluginDone", func(t *testing.T) {
		s, plugin, _ := newTestState(t)
		startRoot(t, s)
		plugin.panicIn = "On"
		s.onTick(1)
		if !s.onDone(1) {
			t.Fatal("a panicking OnPluginDone must not keep the plugin alive")
		}
	})
}

func TestHttpCallResponseRouting(t *testing.T) {
	s, _, log := newTestState(t)
	startRoot(t, s)
	s.onContextCreate(2, 1)
	s.onContextCreate(3, 1)
	*log = (*log)[:0]

	var current uint32
	callback := func(name string) func(int, int, int) {
		return func(h, b, tr int) {
			current = s.current
			*log = append(*log, name+" "+strconv.Itoa(h)+" "+strconv.Itoa(b)+" "+strconv.Itoa(tr))
		}
	}
	for _, c := range []struct{ ctx, id uint32 }{{2, 10}, {3, 11}, {1, 12}} {
		root, err := s.rootOf(c.ctx)
		if err != nil || root != 1 {
			t.Fatalf("rootOf(%d) = %d, %v", c.ctx, root, err)
		}
		s.addCallout(root, c.id, c.ctx, callback("cb"+strconv.Itoa(int(c.ctx))))
	}

	s.onHttpCallResponse(1, 10, 4, 50, 0)
	expectLog(t, log, "set_effective_context 2", "cb2 4 50 0")
	if current != 2 {
		t.Fatalf("callback ran with current context %d, want 2", current)
	}
	if s.current != 0 {
		t.Fatalf("current context not restored: %d", s.current)
	}

	// A callout dispatched by the plugin context needs no switch.
	s.onHttpCallResponse(1, 12, 0, 0, 0)
	expectLog(t, log, "cb1 0 0 0")

	// Stream 3 goes away before its response: the callback is dropped.
	s.onDelete(3)
	if len(s.roots[1].callouts) != 0 {
		t.Fatalf("callouts of deleted stream kept: %v", s.roots[1].callouts)
	}
	s.onHttpCallResponse(1, 11, 1, 1, 1)
	// Duplicate and unknown responses are ignored too.
	s.onHttpCallResponse(1, 10, 1, 1, 1)
	s.onHttpCallResponse(7, 10, 1, 1, 1)
	expectLog(t, log)
}

func TestHttpCallCallbackPanicFailsStream(t *testing.T) {
	s, _, log := newTestState(t)
	startRoot(t, s)
	s.onContextCreate(2, 1)
	s.addCallout(1, 10, 2, func(int, int, int) { panic("callback") })
	*log = (*log)[:0]
	s.onHttpCallResponse(1, 10, 1, 0, 0)
	expectLog(t, log, "set_effective_context 2", "PanicHandler 2")
	if got := s.onRequestBody(2, 1, true); got != ActionContinue {
		t.Fatalf("failed stream got %d", got)
	}
	expectLog(t, log)
}

func TestHttpCallSkippedWhenContextSwitchFails(t *testing.T) {
	s, _, log := newTestState(t)
	startRoot(t, s)
	s.onContextCreate(2, 1)
	s.setEffectiveContext = func(uint32) error { return ErrBadArgument }
	s.addCallout(1, 10, 2, func(int, int, int) { *log = append(*log, "callback") })
	*log = (*log)[:0]
	s.onHttpCallResponse(1, 10, 1, 0, 0)
	expectLog(t, log)
}

func TestRootOfOutsideCallbacks(t *testing.T) {
	s, _, _ := newTestState(t)
	if _, err := s.rootOf(0); !errors.Is(err, errNoCurrentContext) {
		t.Fatalf("rootOf(0) error = %v", err)
	}
	// The package-level API refuses before calling the host.
	if _, err := DispatchHttpCall("c", nil, nil, nil, 0, nil); !errors.Is(err, errNoCurrentContext) {
		t.Fatalf("DispatchHttpCall outside a callback: %v", err)
	}
}

// Only the outermost callback resets the arena: a callback the host runs
// while Go is inside a host call must not invalidate the outer one's data.
func TestNestedCallbacksKeepArena(t *testing.T) {
	s, plugin, _ := newTestState(t)
	startRoot(t, s)
	plugin.noStreams = true
	s.onContextCreate(2, 1)

	prev := s.enter(2)
	outer := s.mem.alloc(8)
	copy(outer, "outer!!!")
	s.onTick(1) // nested export
	if string(outer) != "outer!!!" || s.current != 2 {
		t.Fatalf("nested callback clobbered outer state: %q current=%d", outer, s.current)
	}
	s.leave(prev)

	s.onTick(1)
	if b := s.mem.alloc(8); addrOf(b) != addrOf(outer) {
		t.Fatal("top-level callback did not reset the arena")
	}
}

func TestAllocate(t *testing.T) {
	s := newVMState()
	if s.allocate(arenaMaxAlloc+1) != 0 {
		t.Error("oversized allocation did not fail")
	}
	a, b := s.allocate(0), s.allocate(16)
	if a == 0 || b == 0 || a == b {
		t.Fatalf("allocate returned %#x, %#x", a, b)
	}
	if _, ok := s.mem.slice(b, 16); !ok {
		t.Fatal("allocated block is not resolvable as a host result")
	}
}
