package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// phase says what the VM is executing; Envoy restricts the host calls allowed outside normal
// callbacks (cpp-host "restricted_callback").
type phase int

const (
	phaseNormal     phase = iota
	phaseInitialize       // _initialize / _start / main
	phaseAllocate         // proxy_on_memory_allocate
)

// VM is one module instance: Envoy's per-worker VM with one root (plugin) context. Calls into a
// VM are serialized by its mutex; different VMs run in parallel. A stream paused on an http call
// does not hold the mutex, so other streams use the VM meanwhile (Envoy's event loop).
type VM struct {
	h     *Host
	index int
	ctx   context.Context // carries the *VM to host functions
	mod   api.Module
	fn    callbacks

	stdout, stderr *guestOutput

	mu          sync.Mutex // serializes guest execution; guards everything below
	phase       phase
	dead        error      // set by the first trap
	rootID      uint32     // the first plugin's root context
	roots       []*rootCtx // one per plugin, in Config order
	nextID      uint32
	current     uint32 // effective context id during a callback
	streams     map[uint32]*Stream
	touched     []*Stream // streams with deferred actions from the current callback
	calls       map[uint32]*HTTPCall
	nextCall    uint32
	callResp    *callResponse // set only inside proxy_on_http_call_response
	status      uint32        // proxy_get_status
	statusMsg   string
	props       map[string][]byte // proxy_set_property on the root context
	pendingDone bool

	prof       profStack // open calls, with Config.Profile
	counts     *vmCounts
	stack      [8]uint64 // guest call arguments: no allocation per call
	allocStack [1]uint64
	scratch    []byte

	taskMu   sync.Mutex
	tasks    []func()
	draining bool
}

// plugin is one plugin loaded into the host's VMs: Config's own, then Config.Plugins.
type plugin struct {
	name, rootID string
	config       []byte
}

// rootCtx is a plugin's root context in one VM (Envoy: one per plugin, told apart by root_id).
type rootCtx struct {
	id          uint32
	p           *plugin
	declared    map[string]propertyPrototype // declare_property on this root context
	tickPeriod  time.Duration
	tickChanged chan struct{}
}

type callbacks struct {
	alloc, contextCreate, vmStart, configure, tick, queueReady api.Function
	reqHeaders, reqBody, reqTrailers                           api.Function
	respHeaders, respBody, respTrailers                        api.Function
	httpCallResponse, done, log, delete                        api.Function
}

type vmKey struct{}

// vmCounts are one VM's counters of host calls (by Host.hostCallNames index) and of the
// host's calls into the guest to allocate a value it returns (proxy_on_memory_allocate or
// malloc). They are atomic because Host.HostCalls reads them while VMs run, and per VM so
// that VMs on different cores do not share (and bounce) one counter's cache line on every
// host call; Host sums them.
type vmCounts struct {
	hostCalls   []atomic.Int64
	guestAllocs atomic.Int64
	_           [64]byte // keep the next allocation off guestAllocs' cache line
}

func vmOf(ctx context.Context) *VM { return ctx.Value(vmKey{}).(*VM) }

func newVM(ctx context.Context, h *Host, index int) (*VM, error) {
	vm := &VM{
		h:       h,
		index:   index,
		streams: map[uint32]*Stream{},
		calls:   map[uint32]*HTTPCall{},
	}
	vm.ctx = context.WithValue(context.Background(), vmKey{}, vm)
	vm.counts = &vmCounts{hostCalls: make([]atomic.Int64, len(h.hostCallNames))}
	vm.stdout = &guestOutput{vm: index, source: "stdout", level: LogInfo, ring: h.logs}
	vm.stderr = &guestOutput{vm: index, source: "stderr", level: LogError, ring: h.logs}
	mc := wazero.NewModuleConfig().
		WithName("").         // anonymous: N instances of one module
		WithStartFunctions(). // we run _initialize ourselves to restrict and report it
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(randSource).
		WithStdout(vm.stdout).WithStderr(vm.stderr).
		WithArgs("wasmhost")
	keys := make([]string, 0, len(h.cfg.Env))
	for k := range h.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mc = mc.WithEnv(k, h.cfg.Env[k])
	}
	mod, err := h.rt.InstantiateModule(vm.ctx, h.compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("wasmhost: instantiate VM %d: %w", index, err)
	}
	vm.mod = mod
	f := mod.ExportedFunction
	vm.fn = callbacks{
		alloc: f("proxy_on_memory_allocate"), contextCreate: f("proxy_on_context_create"),
		vmStart: f("proxy_on_vm_start"), configure: f("proxy_on_configure"), tick: f("proxy_on_tick"),
		queueReady: f("proxy_on_queue_ready"), reqHeaders: f("proxy_on_request_headers"),
		reqBody: f("proxy_on_request_body"), reqTrailers: f("proxy_on_request_trailers"),
		respHeaders: f("proxy_on_response_headers"), respBody: f("proxy_on_response_body"),
		respTrailers: f("proxy_on_response_trailers"), httpCallResponse: f("proxy_on_http_call_response"),
		done: f("proxy_on_done"), log: f("proxy_on_log"), delete: f("proxy_on_delete"),
	}
	if vm.fn.alloc == nil {
		vm.fn.alloc = f("malloc")
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if err := vm.start(); err != nil {
		return nil, fmt.Errorf("wasmhost: VM %d: %w", index, err)
	}
	return vm, nil
}

// start is cpp-host's startVm + onStart + onConfigure.
func (vm *VM) start() error {
	vm.phase = phaseInitialize
	var err error
	switch {
	case vm.mod.ExportedFunction("_initialize") != nil:
		_, err = vm.call(vm.mod.ExportedFunction("_initialize"))
		if main := vm.mod.ExportedFunction("main"); err == nil && main != nil && allI32(main.Definition().ParamTypes(), 2) {
			_, err = vm.call(main, 0, 0)
		}
	case vm.mod.ExportedFunction("_start") != nil:
		_, err = vm.call(vm.mod.ExportedFunction("_start"))
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("the module exited during _start (%w): a WASI command that exits cannot serve callbacks; build a reactor (-buildmode=c-shared)", err)
		}
	}
	vm.phase = phaseNormal
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	vm.nextID = 1
	// Each plugin as cpp-host starts it (WasmBase::start, ContextBase::onStart and onConfigure):
	// its root context created, proxy_on_vm_start and proxy_on_configure on it.
	for _, p := range vm.h.plugins {
		r := &rootCtx{id: vm.allocID(), p: p, tickChanged: make(chan struct{}, 1)}
		vm.roots = append(vm.roots, r)
		if vm.rootID == 0 {
			vm.rootID = r.id
		}
		if err := vm.startRoot(r); err != nil {
			if len(vm.h.plugins) > 1 {
				return fmt.Errorf("plugin %q: %w", p.rootID, err)
			}
			return err
		}
	}
	vm.finish()
	return nil
}

func (vm *VM) startRoot(r *rootCtx) error {
	vm.current = r.id
	if _, err := vm.call(vm.fn.contextCreate, uint64(r.id), 0); err != nil {
		return fmt.Errorf("proxy_on_context_create(root): %w", err)
	}
	ok, err := vm.call(vm.fn.vmStart, uint64(r.id), uint64(len(vm.h.cfg.VMConfig)))
	if err != nil {
		return fmt.Errorf("proxy_on_vm_start: %w", err)
	}
	if vm.fn.vmStart != nil && uint32(ok) == 0 {
		return errors.New("proxy_on_vm_start returned false (VM configuration rejected)")
	}
	vm.current = r.id
	ok, err = vm.call(vm.fn.configure, uint64(r.id), uint64(len(r.p.config)))
	if err != nil {
		return fmt.Errorf("proxy_on_configure: %w", err)
	}
	if vm.fn.configure != nil && uint32(ok) == 0 {
		return errors.New("proxy_on_configure returned false (plugin configuration rejected)")
	}
	vm.finish()
	return nil
}

// root returns the root context of the plugin with that root_id, nil if none.
func (vm *VM) root(rootID string) *rootCtx {
	for _, r := range vm.roots {
		if r.p.rootID == rootID {
			return r
		}
	}
	return nil
}

// rootByID returns the root context with that context id, nil if id is not a root context.
func (vm *VM) rootByID(id uint32) *rootCtx {
	for _, r := range vm.roots {
		if r.id == id {
			return r
		}
	}
	return nil
}

// currentRoot is the root context of the effective context (the stream's plugin for a stream).
func (vm *VM) currentRoot() *rootCtx {
	if r := vm.rootByID(vm.current); r != nil {
		return r
	}
	if s := vm.streams[vm.current]; s != nil && s.root != nil {
		return s.root
	}
	return vm.roots[0]
}

func (vm *VM) allocID() uint32 {
	id := vm.nextID
	vm.nextID++
	return id
}

// Index is the worker number.
func (vm *VM) Index() int { return vm.index }

// RootContextID is the plugin (root) context id, 1 in practice.
func (vm *VM) RootContextID() uint32 { return vm.rootID }

// Err returns the trap that killed the VM, or nil while it is healthy.
func (vm *VM) Err() error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.dead
}

// MemorySize is the guest's linear memory size in bytes. Wasm memory never shrinks, so this is
// the high-water mark of the guest heap.
func (vm *VM) MemorySize() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.mod.Memory().Size()
}

// NewStream opens an HTTP stream of the first plugin on this VM. Its context is created on the
// first callback.
func (vm *VM) NewStream() *Stream {
	return &Stream{vm: vm, root: vm.roots[0], changed: make(chan struct{})}
}

// NewStreamFor opens an HTTP stream of the plugin with that root_id (Config.RootID or one of
// Config.Plugins) on this VM.
func (vm *VM) NewStreamFor(rootID string) (*Stream, error) {
	r := vm.root(rootID)
	if r == nil {
		return nil, fmt.Errorf("wasmhost: no plugin with root_id %q in this VM", rootID)
	}
	return &Stream{vm: vm, root: r, changed: make(chan struct{})}, nil
}

// Tick runs proxy_on_tick on every root context whose plugin set a tick period; it reports
// whether one did.
func (vm *VM) Tick() bool {
	ticked := false
	for _, r := range vm.roots {
		ticked = vm.tickRoot(r) || ticked
	}
	return ticked
}

func (vm *VM) tickRoot(r *rootCtx) bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.dead != nil || r.tickPeriod == 0 || vm.fn.tick == nil {
		return false
	}
	vm.current = r.id
	vm.call(vm.fn.tick, uint64(r.id))
	vm.finish()
	return true
}

// HTTPCalls returns the calls of this VM still waiting for a response, oldest first.
func (vm *VM) HTTPCalls() []*HTTPCall {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	calls := make([]*HTTPCall, 0, len(vm.calls))
	for _, c := range vm.calls {
		calls = append(calls, c)
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].ID < calls[j].ID })
	return calls
}

// call runs an export (a missing export is a no-op returning 0, as cpp-host treats absent
// callbacks) and turns a trap into a dead VM. Arguments go through a reused stack: no allocation.
func (vm *VM) call(f api.Function, args ...uint64) (uint64, error) {
	if f == nil {
		return 0, nil
	}
	if vm.dead != nil {
		return 0, vm.dead
	}
	n := copy(vm.stack[:], args)
	if err := f.CallWithStack(vm.ctx, vm.stack[:max(n, 1)]); err != nil { // room for one result
		vm.fail(err)
		return 0, vm.dead
	}
	return vm.stack[0], nil
}

// allocate asks the guest for size bytes, re-entrantly, from inside a host call.
func (vm *VM) allocate(size uint32) uint32 {
	vm.counts.guestAllocs.Add(1)
	prev := vm.phase
	vm.phase = phaseAllocate
	vm.allocStack[0] = uint64(size)
	err := vm.fn.alloc.CallWithStack(vm.ctx, vm.allocStack[:])
	vm.phase = prev
	if err != nil {
		// Re-panic so the outer guest call traps too: the guest's runtime state is unknown.
		panic(fmt.Errorf("proxy_on_memory_allocate(%d): %w", size, err))
	}
	return uint32(vm.allocStack[0])
}

// fail marks the VM dead after a trap, as Envoy does, and fails every stream that was waiting on
// it.
func (vm *VM) fail(err error) {
	if vm.dead != nil {
		return
	}
	vm.dead = fmt.Errorf("wasm trap: %w", err)
	tail := strings.TrimSpace(vm.stderr.takeTail())
	vm.h.hostLog(slog.LevelError, vm.index, "wasm VM failed; later streams get "+vm.failureMode(), "error", err.Error(), "stderr", tail)
	for id, c := range vm.calls {
		c.stopTimer()
		delete(vm.calls, id)
	}
	for _, s := range vm.streams {
		s.failVM()
	}
}

func (vm *VM) failureMode() string {
	if vm.h.cfg.FailOpen {
		return "fail-open pass-through"
	}
	return "fail-closed 503"
}

// finish applies the actions the guest deferred during the callback that just returned
// (continue, close, local reply), like Envoy's after-VM-call actions. Applying one may run more
// callbacks (held body delivered on resume), which may defer more actions.
func (vm *VM) finish() {
	for len(vm.touched) > 0 {
		s := vm.touched[0]
		vm.touched = vm.touched[1:]
		s.applyDeferred()
	}
	vm.touched = vm.touched[:0]
	vm.current = vm.rootID
}

// post runs fn with the VM locked on another goroutine, keeping order per VM. Used for events
// Envoy would post to the worker's event loop: queue notifications, http-call responses.
func (vm *VM) post(fn func()) {
	vm.h.work.add()
	vm.taskMu.Lock()
	vm.tasks = append(vm.tasks, fn)
	start := !vm.draining
	vm.draining = true
	vm.taskMu.Unlock()
	if start {
		go vm.drain()
	}
}

func (vm *VM) drain() {
	for {
		vm.taskMu.Lock()
		if len(vm.tasks) == 0 {
			vm.draining = false
			vm.taskMu.Unlock()
			return
		}
		fn := vm.tasks[0]
		vm.tasks[0] = nil
		vm.tasks = vm.tasks[1:]
		vm.taskMu.Unlock()
		vm.mu.Lock()
		if vm.dead == nil && !vm.h.closed.Load() {
			fn()
		}
		vm.mu.Unlock()
		vm.h.work.done()
	}
}

// queueOwner is the root context that registered a shared queue: proxy_on_queue_ready goes to it.
type queueOwner struct {
	vm   *VM
	root *rootCtx
}

func (vm *VM) queueReady(r *rootCtx, queueID uint32) {
	vm.current = r.id
	vm.call(vm.fn.queueReady, uint64(r.id), uint64(queueID))
	vm.finish()
}

// tickLoop drives proxy_on_tick of one root context on real timers (Config.AutoTick).
func (vm *VM) tickLoop(r *rootCtx) {
	var timer *time.Timer
	var timerC <-chan time.Time
	reset := func() {
		if timer != nil {
			timer.Stop()
		}
		vm.mu.Lock()
		p := r.tickPeriod
		vm.mu.Unlock()
		timerC = nil
		if p > 0 {
			timer = time.NewTimer(max(p, tickFloor))
			timerC = timer.C
		}
	}
	reset()
	for {
		select {
		case <-vm.h.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-r.tickChanged:
			reset()
		case <-timerC:
			vm.tickRoot(r)
			reset()
		}
	}
}

func (vm *VM) setTickPeriod(d time.Duration) {
	r := vm.currentRoot()
	r.tickPeriod = d
	select {
	case r.tickChanged <- struct{}{}:
	default:
	}
}

// shutdown is Envoy's plugin teardown, for every plugin: proxy_on_done on its root, then
// proxy_on_delete unless the plugin asked to finish asynchronously (false from proxy_on_done,
// completed by proxy_done).
func (vm *VM) shutdown() {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for _, c := range vm.calls {
		c.stopTimer()
	}
	for _, r := range vm.roots {
		if vm.dead != nil {
			return
		}
		vm.current = r.id
		done, err := vm.call(vm.fn.done, uint64(r.id))
		if err != nil {
			return
		}
		if vm.fn.done != nil && uint32(done) == 0 {
			vm.pendingDone = true
			continue
		}
		vm.current = r.id
		vm.call(vm.fn.delete, uint64(r.id))
	}
}
