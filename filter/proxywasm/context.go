package proxywasm

// VMContext is the plugin's entry point, one per VM (Envoy: one per worker
// thread). Register it with SetVMContext from an init function.
type VMContext interface {
	// OnVMStart is called once per root context the host starts on this VM
	// (usually once); vmConfigurationSize is the length of the VM
	// configuration readable with GetVMConfiguration. Returning false marks
	// the VM unusable.
	OnVMStart(vmConfigurationSize int) bool
	// NewPluginContext creates the context of one configured plugin
	// instance (proxy-wasm "root context").
	NewPluginContext(contextID uint32) PluginContext
}

// PluginContext is one configured plugin instance.
type PluginContext interface {
	// OnPluginStart is called with the length of the plugin configuration,
	// readable with GetPluginConfiguration. Returning false rejects the
	// configuration.
	OnPluginStart(pluginConfigurationSize int) bool
	// OnPluginDone is called when the host shuts the plugin down. Returning
	// false defers the shutdown until the plugin calls Done.
	OnPluginDone() bool
	// OnTick is called every SetTickPeriodMilliSeconds period.
	OnTick()
	// OnQueueReady is called when a shared queue registered by this plugin
	// has items.
	OnQueueReady(queueID uint32)
	// NewHttpContext creates the context of one HTTP stream. Returning nil
	// lets every stream through without further callbacks.
	NewHttpContext(contextID uint32) HttpContext
}

// HttpContext is one HTTP request/response pair. The sizes passed are
// counts of headers/trailers and the number of body bytes buffered so far.
type HttpContext interface {
	OnHttpRequestHeaders(numHeaders int, endOfStream bool) Action
	OnHttpRequestBody(bodySize int, endOfStream bool) Action
	OnHttpRequestTrailers(numTrailers int) Action
	OnHttpResponseHeaders(numHeaders int, endOfStream bool) Action
	OnHttpResponseBody(bodySize int, endOfStream bool) Action
	OnHttpResponseTrailers(numTrailers int) Action
	// OnHttpStreamDone is called when the stream is finished (proxy_on_log);
	// request and response headers are still readable.
	OnHttpStreamDone()
}

// DefaultVMContext is a VMContext that accepts any VM configuration and
// creates DefaultPluginContexts. Embed it to override only what you need.
type DefaultVMContext struct{}

func (DefaultVMContext) OnVMStart(int) bool { return true }
func (DefaultVMContext) NewPluginContext(uint32) PluginContext {
	return &DefaultPluginContext{}
}

// DefaultPluginContext is a PluginContext that accepts any configuration
// and creates DefaultHttpContexts. Embed it to override only what you need.
type DefaultPluginContext struct{}

func (*DefaultPluginContext) OnPluginStart(int) bool { return true }
func (*DefaultPluginContext) OnPluginDone() bool     { return true }
func (*DefaultPluginContext) OnTick()                {}
func (*DefaultPluginContext) OnQueueReady(uint32)    {}
func (*DefaultPluginContext) NewHttpContext(uint32) HttpContext {
	return &DefaultHttpContext{}
}

// DefaultHttpContext is an HttpContext that continues every callback.
// Embed it to override only what you need.
type DefaultHttpContext struct{}

func (*DefaultHttpContext) OnHttpRequestHeaders(int, bool) Action  { return ActionContinue }
func (*DefaultHttpContext) OnHttpRequestBody(int, bool) Action     { return ActionContinue }
func (*DefaultHttpContext) OnHttpRequestTrailers(int) Action       { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseHeaders(int, bool) Action { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseBody(int, bool) Action    { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseTrailers(int) Action      { return ActionContinue }
func (*DefaultHttpContext) OnHttpStreamDone()                      {}

// SetVMContext registers the plugin. Call it from init(), and do nothing
// else there: init runs inside _initialize, where Envoy traps on every host
// call except proxy_log.
func SetVMContext(ctx VMContext) { vm.vmContext = ctx }

// PanicHandler decides what happens to an HTTP stream after one of its
// callbacks (or its NewHttpContext, or a DispatchHttpCall callback it
// started) panicked; recovered is the panic value, already logged at
// critical level. It also answers streams the host never created, with an
// error as recovered. It runs with the stream as the effective context and
// its Action is returned to the host. The stream's HttpContext is not called
// again afterwards.
type PanicHandler func(contextID uint32, recovered any) Action

// SetPanicHandler replaces the PanicHandler; nil restores
// DefaultPanicHandler.
func SetPanicHandler(h PanicHandler) {
	if h == nil {
		h = DefaultPanicHandler
	}
	vm.panicHandler = h
}

// internalErrorBody is Tyk's error body shape, so clients of the gateway see
// the same JSON whether Tyk or this filter failed.
const internalErrorBody = `{"error": "internal error"}`

// DefaultPanicHandler fails the stream closed: it answers 500 with
// {"error": "internal error"}, or resets the stream if a reply is no longer
// possible (response headers already sent).
func DefaultPanicHandler(contextID uint32, recovered any) Action {
	headers := [][2]string{{"content-type", "application/json"}}
	if err := SendHttpResponse(500, headers, []byte(internalErrorBody), -1); err != nil {
		_ = CloseHttpRequest()
	}
	return ActionPause
}
