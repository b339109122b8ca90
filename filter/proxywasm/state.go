package proxywasm

import (
	"errors"
	"fmt"
	"runtime"
)

// vm is the state of this VM. The VM is single-threaded (the host never
// calls two exports concurrently), so no locking is needed.
var vm *vmState

// Set in init rather than in the declaration: the default handlers call
// host wrappers that use vm, which would be an initialization cycle.
func init() { vm = newVMState() }

// vmState routes the host's callbacks to the plugin's contexts. The exported
// wasm functions are one-line calls into it, which keeps all of this logic
// testable natively.
type vmState struct {
	vmContext    VMContext
	panicHandler PanicHandler
	roots        map[uint32]*rootState
	// streams holds values, not pointers, to save an allocation per request.
	streams map[uint32]streamState
	mem     arena
	// depth counts exported callbacks currently running: the host may call
	// back into the module while Go is inside a host call.
	depth int
	// current is the context the running callback acts for: the callback's
	// own context, the dispatcher of an http call while its callback runs,
	// or whatever SetEffectiveContext last selected.
	current uint32
	// setEffectiveContext is proxy_set_effective_context; tests replace it.
	setEffectiveContext func(contextID uint32) error
	// epoch counts outermost callbacks (arena resets): what a header
	// snapshot was taken in (snapshot.go).
	epoch uint64
	// snaps are the request and response header snapshots.
	snaps [2]headerSnapshot
}

type rootState struct {
	ctx PluginContext
	// callouts maps a pending http call to its dispatcher. Keyed per root
	// because hosts number calls per root context.
	callouts map[uint32]callout
}

type callout struct {
	contextID uint32 // the root itself or one of its streams
	callback  func(numHeaders, bodySize, numTrailers int)
}

type streamHealth uint8

const (
	streamOK streamHealth = iota
	// streamBroken: the plugin has no usable HttpContext for this stream
	// (its creation panicked, or the host never created it); the next data
	// callback answers through the PanicHandler.
	streamBroken
	// streamFailed: the PanicHandler has answered this stream; plugin code
	// is not called for it again.
	streamFailed
)

type streamState struct {
	ctx      HttpContext // nil: the plugin ignores this stream
	rootID   uint32
	callouts int // pending http calls dispatched by this stream
	health   streamHealth
}

func newVMState() *vmState {
	return &vmState{
		panicHandler:        DefaultPanicHandler,
		roots:               make(map[uint32]*rootState),
		streams:             make(map[uint32]streamState),
		setEffectiveContext: SetEffectiveContext,
	}
}

// enter starts an exported callback acting for contextID and returns what
// leave needs to restore. Only the outermost callback resets the arena: an
// outer callback may still hold slices into it.
func (s *vmState) enter(contextID uint32) (previous uint32) {
	if s.depth == 0 {
		s.mem.reset()
		s.epoch++
	}
	s.depth++
	previous, s.current = s.current, contextID
	return previous
}

func (s *vmState) leave(previous uint32) {
	s.depth--
	s.current = previous
}

// allocate serves proxy_on_memory_allocate. It returns 0, which the host
// treats as failure, rather than panicking.
func (s *vmState) allocate(size uint32) (addr uintptr) {
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("proxy_on_memory_allocate", s.current, r)
			addr = 0
		}
	}()
	if uint64(size) > arenaMaxAlloc {
		return 0
	}
	b := s.mem.alloc(int(size))
	if b == nil {
		return 0
	}
	return addrOf(b)
}

func (s *vmState) onContextCreate(contextID, parentID uint32) {
	defer s.leave(s.enter(contextID))
	if parentID == 0 {
		s.createRoot(contextID)
		return
	}
	root := s.roots[parentID]
	if root == nil {
		logError("proxy-wasm: stream context %d created under unknown plugin context %d", contextID, parentID)
		s.streams[contextID] = streamState{health: streamBroken}
		return
	}
	// Registered as broken first, so a panic in NewHttpContext leaves the
	// stream failing closed.
	s.streams[contextID] = streamState{rootID: parentID, health: streamBroken}
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("NewHttpContext", contextID, r)
		}
	}()
	s.streams[contextID] = streamState{ctx: root.ctx.NewHttpContext(contextID), rootID: parentID}
}

func (s *vmState) createRoot(contextID uint32) {
	if s.vmContext == nil {
		logCritical("proxy-wasm: no VMContext: the plugin must call proxywasm.SetVMContext from init()")
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("NewPluginContext", contextID, r)
		}
	}()
	ctx := s.vmContext.NewPluginContext(contextID)
	if ctx == nil {
		logCritical("proxy-wasm: NewPluginContext(%d) returned nil", contextID)
		return
	}
	s.roots[contextID] = &rootState{ctx: ctx, callouts: make(map[uint32]callout)}
}

func (s *vmState) onVMStart(rootID uint32, vmConfigurationSize int) (ok bool) {
	defer s.leave(s.enter(rootID))
	if s.vmContext == nil {
		logCritical("proxy-wasm: no VMContext: the plugin must call proxywasm.SetVMContext from init()")
		return false
	}
	defer s.recoverRoot("OnVMStart", rootID, &ok)
	return s.vmContext.OnVMStart(vmConfigurationSize)
}

func (s *vmState) onConfigure(rootID uint32, pluginConfigurationSize int) bool {
	return s.rootCallback("OnPluginStart", rootID, func(p PluginContext) bool {
		return p.OnPluginStart(pluginConfigurationSize)
	})
}

func (s *vmState) onTick(rootID uint32) {
	s.rootCallback("OnTick", rootID, func(p PluginContext) bool { p.OnTick(); return true })
}

func (s *vmState) onQueueReady(rootID, queueID uint32) {
	s.rootCallback("OnQueueReady", rootID, func(p PluginContext) bool { p.OnQueueReady(queueID); return true })
}

// rootCallback runs call on the plugin context rootID; it reports false if
// that context does not exist or call panicked.
func (s *vmState) rootCallback(name string, rootID uint32, call func(PluginContext) bool) (ok bool) {
	defer s.leave(s.enter(rootID))
	root := s.roots[rootID]
	if root == nil {
		logError("proxy-wasm: %s for unknown plugin context %d", name, rootID)
		return false
	}
	defer s.recoverRoot(name, rootID, &ok)
	return call(root.ctx)
}

func (s *vmState) recoverRoot(name string, rootID uint32, ok *bool) {
	if r := recover(); r != nil {
		s.logPanic(name, rootID, r)
		*ok = false
	}
}

func (s *vmState) onRequestHeaders(id uint32, n int, eos bool) Action {
	return s.streamCallback("OnHttpRequestHeaders", id, func(h HttpContext) Action { return h.OnHttpRequestHeaders(n, eos) })
}

func (s *vmState) onRequestBody(id uint32, n int, eos bool) Action {
	return s.streamCallback("OnHttpRequestBody", id, func(h HttpContext) Action { return h.OnHttpRequestBody(n, eos) })
}

func (s *vmState) onRequestTrailers(id uint32, n int) Action {
	return s.streamCallback("OnHttpRequestTrailers", id, func(h HttpContext) Action { return h.OnHttpRequestTrailers(n) })
}

func (s *vmState) onResponseHeaders(id uint32, n int, eos bool) Action {
	return s.streamCallback("OnHttpResponseHeaders", id, func(h HttpContext) Action { return h.OnHttpResponseHeaders(n, eos) })
}

func (s *vmState) onResponseBody(id uint32, n int, eos bool) Action {
	return s.streamCallback("OnHttpResponseBody", id, func(h HttpContext) Action { return h.OnHttpResponseBody(n, eos) })
}

func (s *vmState) onResponseTrailers(id uint32, n int) Action {
	return s.streamCallback("OnHttpResponseTrailers", id, func(h HttpContext) Action { return h.OnHttpResponseTrailers(n) })
}

// streamCallback runs call on the HttpContext of stream id, failing the
// stream through the PanicHandler if call panics or the context is unusable.
func (s *vmState) streamCallback(name string, id uint32, call func(HttpContext) Action) (action Action) {
	defer s.leave(s.enter(id))
	st, ok := s.streams[id]
	if !ok {
		// A host bug, but the safe answer for an access-control filter is
		// to fail closed rather than let an unchecked request through.
		logError("proxy-wasm: %s for unknown stream context %d", name, id)
		st.health = streamBroken
		s.streams[id] = st
	}
	switch {
	case st.health == streamFailed:
		return ActionContinue
	case st.health == streamBroken:
		return s.failStream(id, errNoHttpContext)
	case st.ctx == nil:
		return ActionContinue
	}
	defer s.recoverStream(name, id, &action)
	return call(st.ctx)
}

var errNoHttpContext = errors.New("proxy-wasm: stream has no HttpContext (creation failed or unknown context)")

func (s *vmState) recoverStream(name string, id uint32, action *Action) {
	if r := recover(); r != nil {
		s.logPanic(name, id, r)
		*action = s.failStream(id, r)
	}
}

// failStream marks the stream failed and lets the PanicHandler answer it. A
// panicking handler is logged and the stream reset, the last fail-closed
// option left.
func (s *vmState) failStream(id uint32, recovered any) (action Action) {
	if st, ok := s.streams[id]; ok {
		st.health = streamFailed
		s.streams[id] = st
	}
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("PanicHandler", id, r)
			_ = CloseHttpRequest()
			action = ActionPause
		}
	}()
	return s.panicHandler(id, recovered)
}

// onLog serves proxy_on_log: the stream is complete.
func (s *vmState) onLog(id uint32) {
	defer s.leave(s.enter(id))
	st, ok := s.streams[id]
	if !ok || st.ctx == nil || st.health != streamOK {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("OnHttpStreamDone", id, r)
		}
	}()
	st.ctx.OnHttpStreamDone()
}

// onDone serves proxy_on_done; only plugin contexts may defer completion.
func (s *vmState) onDone(id uint32) (done bool) {
	defer s.leave(s.enter(id))
	root := s.roots[id]
	if root == nil {
		return true
	}
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("OnPluginDone", id, r)
			// Waiting for a Done call that may never come would keep the
			// plugin alive forever.
			done = true
		}
	}()
	return root.ctx.OnPluginDone()
}

// onDelete serves proxy_on_delete: forget the context and any http calls it
// still has pending, so their late responses are dropped.
func (s *vmState) onDelete(id uint32) {
	if st, ok := s.streams[id]; ok {
		delete(s.streams, id)
		if root := s.roots[st.rootID]; root != nil && st.callouts > 0 {
			for calloutID, c := range root.callouts {
				if c.contextID == id {
					delete(root.callouts, calloutID)
				}
			}
		}
		return
	}
	delete(s.roots, id)
}

// rootOf returns the plugin context that http calls made on behalf of
// contextID belong to.
func (s *vmState) rootOf(contextID uint32) (uint32, error) {
	if _, ok := s.roots[contextID]; ok {
		return contextID, nil
	}
	if st, ok := s.streams[contextID]; ok {
		if _, ok := s.roots[st.rootID]; ok {
			return st.rootID, nil
		}
	}
	return 0, errNoCurrentContext
}

var errNoCurrentContext = errors.New("proxy-wasm: http call outside a plugin or stream callback")

// addCallout records a dispatched http call; rootID comes from rootOf.
func (s *vmState) addCallout(rootID, calloutID, contextID uint32, cb func(numHeaders, bodySize, numTrailers int)) {
	root := s.roots[rootID]
	if root == nil || cb == nil {
		return
	}
	root.callouts[calloutID] = callout{contextID: contextID, callback: cb}
	if st, ok := s.streams[contextID]; ok {
		st.callouts++
		s.streams[contextID] = st
	}
}

// onHttpCallResponse serves proxy_on_http_call_response: run the callback
// with the dispatching context as the effective context, unless that
// context is gone or has already failed.
func (s *vmState) onHttpCallResponse(rootID, calloutID uint32, numHeaders, bodySize, numTrailers int) {
	defer s.leave(s.enter(rootID))
	root := s.roots[rootID]
	if root == nil {
		return
	}
	c, ok := root.callouts[calloutID]
	if !ok {
		return // dispatcher deleted (see onDelete) or no callback wanted
	}
	delete(root.callouts, calloutID)
	if c.contextID != rootID {
		st, ok := s.streams[c.contextID]
		if !ok {
			return
		}
		st.callouts--
		s.streams[c.contextID] = st
		if st.health != streamOK {
			return
		}
		if err := s.setEffectiveContext(c.contextID); err != nil {
			logError("proxy-wasm: http call %d: cannot switch to context %d: %v", calloutID, c.contextID, err)
			return
		}
	}
	s.current = c.contextID
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("http call callback", c.contextID, r)
			if c.contextID != rootID {
				// The stream is most likely paused waiting for this call;
				// it must be answered, and the handler's Action has no
				// one to go to here.
				_ = s.failStream(c.contextID, r)
			}
		}
	}()
	c.callback(numHeaders, bodySize, numTrailers)
}

// panicStackMax bounds the stack trace logged for a panic.
const panicStackMax = 4 << 10

func (s *vmState) logPanic(where string, contextID uint32, recovered any) {
	stack := make([]byte, panicStackMax)
	stack = stack[:runtime.Stack(stack, false)]
	logCritical("proxy-wasm: panic in %s (context %d): %v\n%s", where, contextID, recovered, stack)
}

func logError(template string, args ...any) {
	proxyLog(LogLevelError, fmt.Sprintf(template, args...))
}

func logCritical(template string, args ...any) {
	proxyLog(LogLevelCritical, fmt.Sprintf(template, args...))
}
