package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/shared"
)

// Host is one loaded plugin: a compiled module, N VMs ("workers") running it, and the
// process-wide state Envoy shares between them (shared data, queues, metrics). All methods are
// safe for concurrent use.
type Host struct {
	cfg        Config
	rt         wazero.Runtime
	compiled   wazero.CompiledModule
	abiVersion string
	vms        []*VM
	store      *shared.Store
	metrics    *metricRegistry
	logs       *logRing
	work       tracker
	next       atomic.Uint32
	closed     atomic.Bool
	done       chan struct{} // closed by Close: stops tickers
	callCtx    context.Context
	cancelCall context.CancelFunc
	plugins    []*plugin    // loaded into every VM: Config's own, then Config.Plugins
	pollOneoff atomic.Int64 // wasi poll_oneoff calls, all VMs
	// poll_oneoff calls that ask to wait (the guest's scheduler went idle)
	blockingPolls atomic.Int64
	// hostCallNames names the proxy-wasm host functions by the index of their counter in
	// each VM's counts (written once by buildEnv).
	hostCallNames []string
}

// SharedState is a process's shared data and shared queues (Config.Shared).
type SharedState struct{ store *shared.Store }

// NewSharedState returns an empty shared data and queue space.
func NewSharedState() *SharedState { return &SharedState{store: shared.NewStore()} }

var (
	cacheMu sync.Mutex
	caches  = map[string]wazero.CompilationCache{}
)

// compilationCache shares one cache per directory in the process, so every Host created by a
// test binary reuses the machine code compiled by the first.
func compilationCache(dir string) (wazero.CompilationCache, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if c, ok := caches[dir]; ok {
		return c, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, err
	}
	caches[dir] = c
	return c, nil
}

// New compiles the module, instantiates cfg.Workers VMs and starts each like Envoy:
// _initialize (or _start) -> proxy_on_context_create(root) -> proxy_on_vm_start ->
// proxy_on_configure. A false from either start callback, a trap, or a module that is not a
// proxy-wasm 0.2.x plugin is returned as an error.
func New(ctx context.Context, config Config) (*Host, error) {
	cfg, err := config.withDefaults()
	if err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	if !cfg.NoCompilationCache {
		cache, err := compilationCache(cfg.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	h := &Host{
		cfg:     cfg,
		rt:      wazero.NewRuntimeWithConfig(ctx, rc),
		store:   shared.NewStore(),
		metrics: newMetricRegistry(),
		logs:    newLogRing(cfg.MaxLogEntries, cfg.Logger),
		done:    make(chan struct{}),
	}
	if cfg.Shared != nil {
		h.store = cfg.Shared.store
	}
	h.plugins = append(h.plugins, &plugin{name: cfg.PluginName, rootID: cfg.RootID, config: cfg.PluginConfig})
	for _, p := range cfg.Plugins {
		h.plugins = append(h.plugins, &plugin{name: p.Name, rootID: p.RootID, config: p.Configuration})
	}
	h.work.init()
	h.callCtx, h.cancelCall = context.WithCancel(context.Background())
	if err := h.load(ctx); err != nil {
		h.cancelCall()
		_ = h.rt.Close(ctx)
		return nil, err
	}
	if cfg.AutoTick {
		for _, vm := range h.vms {
			for _, r := range vm.roots {
				go vm.tickLoop(r)
			}
		}
	}
	return h, nil
}

func (h *Host) load(ctx context.Context) error {
	// With a profile, the guest module and the host modules are compiled with its listeners.
	ctx = h.cfg.Profile.withProfile(ctx)
	compiled, err := h.rt.CompileModule(ctx, h.cfg.Wasm)
	if err != nil {
		return fmt.Errorf("wasmhost: compile: %w", err)
	}
	h.compiled = compiled
	exports := compiled.ExportedFunctions()
	for _, v := range []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"} {
		if _, ok := exports[v]; ok {
			h.abiVersion = v
			break
		}
	}
	if h.abiVersion == "" {
		return errors.New("wasmhost: not a proxy-wasm 0.2.x module: exports neither proxy_abi_version_0_2_1 nor proxy_abi_version_0_2_0")
	}
	if err := checkExports(exports); err != nil {
		return err
	}
	if err := h.instantiateImports(ctx, compiled); err != nil {
		return err
	}
	for i := range h.cfg.Workers {
		vm, err := newVM(ctx, h, i)
		if err != nil {
			return err
		}
		h.vms = append(h.vms, vm)
	}
	return nil
}

func (h *Host) instantiateImports(ctx context.Context, compiled wazero.CompiledModule) error {
	if h.cfg.WASIMode == WASIEnvoy133 {
		for _, f := range compiled.ImportedFunctions() {
			mod, name, _ := f.Import()
			if mod == "wasi_snapshot_preview1" && !envoy133WASI[name] {
				return fmt.Errorf("wasmhost: Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.%s (%v mode)", name, h.cfg.WASIMode)
			}
		}
	}
	if _, err := h.buildWASI().Instantiate(ctx); err != nil {
		return fmt.Errorf("wasmhost: WASI: %w", err)
	}
	if _, err := h.buildEnv(compiled).Instantiate(ctx); err != nil {
		return fmt.Errorf("wasmhost: env imports: %w", err)
	}
	return nil
}

// Close runs proxy_on_done and proxy_on_delete on every VM's root context, stops timers and
// in-flight http calls, and releases the runtime. ctx bounds the wait for async work.
func (h *Host) Close(ctx context.Context) error {
	if h.closed.Swap(true) {
		return nil
	}
	close(h.done)
	h.cancelCall()
	werr := h.work.wait(ctx)
	for _, vm := range h.vms {
		vm.shutdown()
	}
	if err := h.rt.Close(ctx); err != nil {
		return err
	}
	return werr
}

// ABIVersion names the ABI marker the module exports, e.g. "proxy_abi_version_0_2_1".
func (h *Host) ABIVersion() string { return h.abiVersion }

// NumVMs is the number of workers.
func (h *Host) NumVMs() int { return len(h.vms) }

// VM returns worker i (0-based); it panics if i is out of range, like a slice index.
func (h *Host) VM(i int) *VM { return h.vms[i] }

// NewStreamFor opens a stream of the plugin with that root_id on the next VM in round-robin
// order.
func (h *Host) NewStreamFor(rootID string) (*Stream, error) {
	i := h.next.Add(1) - 1
	return h.vms[int(i)%len(h.vms)].NewStreamFor(rootID)
}

// NewStream opens a stream on the next VM in round-robin order, as Envoy spreads connections
// over workers.
func (h *Host) NewStream() *Stream {
	i := h.next.Add(1) - 1
	return h.vms[int(i)%len(h.vms)].NewStream()
}

// Tick runs proxy_on_tick once on every VM whose plugin set a tick period, and returns how many
// VMs ticked.
func (h *Host) Tick() int {
	n := 0
	for _, vm := range h.vms {
		if vm.Tick() {
			n++
		}
	}
	return n
}

// SharedData reads key from the shared-data store of the plugin's vm_id.
func (h *Host) SharedData(key string) (value []byte, cas uint32, ok bool) {
	v, cas, r := h.store.Get(h.cfg.VMID, key)
	return v, cas, r == shared.OK
}

// SetSharedData writes key unconditionally (cas 0), e.g. to seed state before a test.
func (h *Host) SetSharedData(key string, value []byte) {
	h.store.Set(h.cfg.VMID, []byte(key), value, 0)
}

// SharedDataKeys lists the keys stored under the plugin's vm_id, sorted.
func (h *Host) SharedDataKeys() []string {
	keys := h.store.Keys(h.cfg.VMID)
	sort.Strings(keys)
	return keys
}

// Metric returns the metric the plugin defined under name.
func (h *Host) Metric(name string) (Metric, bool) { return h.metrics.byName(name) }

// Metrics returns every defined metric, sorted by name.
func (h *Host) Metrics() []Metric { return h.metrics.snapshot() }

// PollOneoffCalls counts the guest's WASI poll_oneoff calls on every VM since New. Envoy before
// proxy-wasm-cpp-host PR #533 answers ENOSYS and Go's runtime then dies (WASIEnvoy133 shows the
// crash). A Go module calls it when its scheduler goes idle (BlockingPollOneoffCalls), and, once
// a runtime timer has started its network poller, without waiting at every garbage
// collection's start-the-world (runtime.startTheWorldWithSema -> netpoll(0)).
func (h *Host) PollOneoffCalls() int64 { return h.pollOneoff.Load() }

// BlockingPollOneoffCalls counts the poll_oneoff calls that asked to wait (a clock subscription
// with a timeout, or a file descriptor): the guest's scheduler had nothing to run.
func (h *Host) BlockingPollOneoffCalls() int64 { return h.blockingPolls.Load() }

// Logs returns the recorded log history (guest proxy_log, stdout, stderr, host events).
func (h *Host) Logs() []LogEntry { return h.logs.entries() }

// HTTPCalls returns every http call still waiting for a response, across VMs, oldest first.
func (h *Host) HTTPCalls() []*HTTPCall {
	var calls []*HTTPCall
	for _, vm := range h.vms {
		calls = append(calls, vm.HTTPCalls()...)
	}
	return calls
}

// Quiesce waits until no asynchronous work is left: http calls to real clusters, queue
// notifications and call timeouts already due. It does not wait for calls the test must answer.
func (h *Host) Quiesce(ctx context.Context) error { return h.work.wait(ctx) }

// tracker counts asynchronous work so Quiesce can wait for it without sleeping.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

func (t *tracker) init() {
	t.idle = make(chan struct{})
	close(t.idle)
}

func (t *tracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	ch := t.idle
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// export describes a callback the host may call: its name and i32 parameter/result counts.
type export struct {
	params, results int
}

var knownExports = map[string]export{
	"proxy_on_memory_allocate":    {1, 1},
	"malloc":                      {1, 1},
	"proxy_on_context_create":     {2, 0},
	"proxy_on_vm_start":           {2, 1},
	"proxy_on_configure":          {2, 1},
	"proxy_on_tick":               {1, 0},
	"proxy_on_queue_ready":        {2, 0},
	"proxy_on_request_headers":    {3, 1},
	"proxy_on_request_body":       {3, 1},
	"proxy_on_request_trailers":   {2, 1},
	"proxy_on_response_headers":   {3, 1},
	"proxy_on_response_body":      {3, 1},
	"proxy_on_response_trailers":  {2, 1},
	"proxy_on_http_call_response": {5, 0},
	"proxy_on_done":               {1, 1},
	"proxy_on_log":                {1, 0},
	"proxy_on_delete":             {1, 0},
	"_initialize":                 {0, 0},
	"_start":                      {0, 0},
}

// checkExports rejects a module whose callbacks have unexpected signatures: calling them would
// trap or misread results, and Envoy refuses such modules at load time too.
func checkExports(exports map[string]api.FunctionDefinition) error {
	if _, ok := exports["proxy_on_memory_allocate"]; !ok {
		if _, ok := exports["malloc"]; !ok {
			return errors.New("wasmhost: Wasm module is missing malloc function (neither proxy_on_memory_allocate nor malloc is exported)")
		}
	}
	for name, def := range exports {
		want, ok := knownExports[name]
		if !ok {
			continue
		}
		if !allI32(def.ParamTypes(), want.params) || !allI32(def.ResultTypes(), want.results) {
			return fmt.Errorf("wasmhost: export %s has signature %v -> %v, want %d i32 params and %d i32 results",
				name, typeNames(def.ParamTypes()), typeNames(def.ResultTypes()), want.params, want.results)
		}
	}
	return nil
}

func allI32(ts []api.ValueType, n int) bool {
	if len(ts) != n {
		return false
	}
	for _, t := range ts {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}

func typeNames(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}

// Host-wide logging helper for events that are not guest output.
func (h *Host) hostLog(level slog.Level, vm int, msg string, args ...any) {
	h.logs.host(level, vm, msg, args...)
}

var randSource = rand.Reader

// HostCalls returns how many times the VMs called each proxy-wasm host function (the env
// imports) so far, by name; functions never called are absent. Counting is always on: a
// benchmark reads it around its loop to report host calls per request.
func (h *Host) HostCalls() map[string]int64 {
	out := map[string]int64{}
	for i, name := range h.hostCallNames {
		var n int64
		for _, vm := range h.vms {
			n += vm.counts.hostCalls[i].Load()
		}
		if n > 0 {
			out[name] = n
		}
	}
	return out
}

// GuestAllocations is how many times the host called into a guest to allocate room for a value
// it returns (a header value, a body, shared data...). Envoy's cpp-host makes the same calls, and
// each costs there about as much as a host call.
func (h *Host) GuestAllocations() int64 {
	var n int64
	for _, vm := range h.vms {
		n += vm.counts.guestAllocs.Load()
	}
	return n
}
