package wasmhost

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/abi"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/shared"
)

// hostFunc is one env import: i32 parameters except those listed in i64, one i32 status result.
type hostFunc struct {
	params int
	i64    []int
	fn     func(vm *VM, mem api.Memory, stack []uint64) abi.Status
}

// envFuncs is every proxy-wasm 0.2.1 host function. gRPC calls exist only to answer
// UNIMPLEMENTED with the right signature.
var envFuncs = map[string]hostFunc{
	"proxy_log":                          {3, nil, proxyLog},
	"proxy_get_log_level":                {1, nil, getLogLevel},
	"proxy_get_current_time_nanoseconds": {1, nil, getCurrentTime},
	"proxy_set_tick_period_milliseconds": {1, nil, setTickPeriod},
	"proxy_get_buffer_bytes":             {5, nil, getBufferBytes},
	"proxy_set_buffer_bytes":             {5, nil, setBufferBytes},
	"proxy_get_buffer_status":            {3, nil, getBufferStatus},
	"proxy_get_header_map_size":          {2, nil, getHeaderMapSize},
	"proxy_get_header_map_pairs":         {3, nil, getHeaderMapPairs},
	"proxy_set_header_map_pairs":         {3, nil, setHeaderMapPairs},
	"proxy_get_header_map_value":         {5, nil, getHeaderMapValue},
	"proxy_add_header_map_value":         {5, nil, addHeaderMapValue},
	"proxy_replace_header_map_value":     {5, nil, replaceHeaderMapValue},
	"proxy_remove_header_map_value":      {3, nil, removeHeaderMapValue},
	"proxy_continue_stream":              {1, nil, continueStream},
	"proxy_close_stream":                 {1, nil, closeStream},
	"proxy_get_status":                   {3, nil, getStatus},
	"proxy_send_local_response":          {8, nil, sendLocalResponse},
	"proxy_http_call":                    {10, nil, httpCall},
	"proxy_get_shared_data":              {5, nil, getSharedData},
	"proxy_set_shared_data":              {5, nil, setSharedData},
	"proxy_register_shared_queue":        {3, nil, registerQueue},
	"proxy_resolve_shared_queue":         {5, nil, resolveQueue},
	"proxy_enqueue_shared_queue":         {3, nil, enqueue},
	"proxy_dequeue_shared_queue":         {3, nil, dequeue},
	"proxy_define_metric":                {4, nil, defineMetric},
	"proxy_increment_metric":             {2, []int{1}, incrementMetric},
	"proxy_record_metric":                {2, []int{1}, recordMetric},
	"proxy_get_metric":                   {2, nil, getMetric},
	"proxy_get_property":                 {4, nil, getProperty},
	"proxy_set_property":                 {4, nil, setProperty},
	"proxy_set_effective_context":        {1, nil, setEffectiveContext},
	"proxy_done":                         {0, nil, done},
	"proxy_call_foreign_function":        {6, nil, callForeignFunction},
	"proxy_grpc_call":                    {12, nil, unimplemented},
	"proxy_grpc_stream":                  {9, nil, unimplemented},
	"proxy_grpc_send":                    {4, nil, unimplemented},
	"proxy_grpc_cancel":                  {1, nil, unimplemented},
	"proxy_grpc_close":                   {1, nil, unimplemented},
}

// restrictedError is the trap cpp-host raises for a host call outside its allowlist.
type restrictedError struct {
	name  string
	phase phase
}

func (e *restrictedError) Error() string {
	where := "_initialize"
	if e.phase == phaseAllocate {
		where = "proxy_on_memory_allocate"
	}
	return fmt.Sprintf("restricted_callback: %s is not allowed during %s", e.name, where)
}

func (h *Host) buildEnv(compiled wazero.CompiledModule) wazero.HostModuleBuilder {
	b := h.rt.NewHostModuleBuilder("env")
	names := make([]string, 0, len(envFuncs))
	for name := range envFuncs {
		names = append(names, name)
	}
	sort.Strings(names)
	h.hostCallNames = names
	for i, name := range names {
		f := envFuncs[name]
		params := make([]api.ValueType, f.params)
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		for _, i := range f.i64 {
			params[i] = api.ValueTypeI64
		}
		fn := f.fn
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			vm := vmOf(ctx)
			vm.counts.hostCalls[i].Add(1)
			if vm.phase != phaseNormal && name != "proxy_log" {
				panic(&restrictedError{name: name, phase: vm.phase})
			}
			stack[0] = uint64(fn(vm, mod.Memory(), stack))
		}), params, []api.ValueType{api.ValueTypeI32}).Export(name)
	}
	// Imports this host does not know (other ABI versions, vendor extensions) still link, so the
	// module loads; calling one logs and returns UNIMPLEMENTED instead of pretending to work.
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if _, known := envFuncs[name]; mod != "env" || known {
			continue
		}
		results := def.ResultTypes()
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
			vm := vmOf(ctx)
			vm.h.hostLog(slog.LevelWarn, vm.index, "unimplemented host function called", "name", name)
			for i := range results {
				stack[i] = 0
			}
			if len(results) > 0 && results[0] == api.ValueTypeI32 {
				stack[0] = uint64(abi.Unimplemented)
			}
		}), def.ParamTypes(), results).Export(name)
	}
	return b
}

func u32(v uint64) uint32 { return uint32(v) }

// read returns a view of guest memory; it is invalidated by the next guest allocation.
func read(mem api.Memory, ptr, size uint64) ([]byte, bool) {
	return mem.Read(u32(ptr), u32(size))
}

// copyOut gives data to the guest the proxy-wasm way: allocate with proxy_on_memory_allocate,
// copy, then write the address and size through the out-pointers.
func (vm *VM) copyOut(mem api.Memory, data []byte, ptrPtr, sizePtr uint64) abi.Status {
	var p uint32
	if len(data) > 0 {
		p = vm.allocate(uint32(len(data)))
		if p == 0 || !mem.Write(p, data) {
			return abi.InvalidMemoryAccess
		}
	}
	if !mem.WriteUint32Le(u32(ptrPtr), p) || !mem.WriteUint32Le(u32(sizePtr), uint32(len(data))) {
		return abi.InvalidMemoryAccess
	}
	return abi.OK
}

func (vm *VM) copyOutString(mem api.Memory, s string, ptrPtr, sizePtr uint64) abi.Status {
	var p uint32
	if len(s) > 0 {
		p = vm.allocate(uint32(len(s)))
		if p == 0 || !mem.WriteString(p, s) {
			return abi.InvalidMemoryAccess
		}
	}
	if !mem.WriteUint32Le(u32(ptrPtr), p) || !mem.WriteUint32Le(u32(sizePtr), uint32(len(s))) {
		return abi.InvalidMemoryAccess
	}
	return abi.OK
}

func writeU32(mem api.Memory, ptr uint64, v uint32) abi.Status {
	if !mem.WriteUint32Le(u32(ptr), v) {
		return abi.InvalidMemoryAccess
	}
	return abi.OK
}

// currentStream is the stream whose context is effective, or nil on the root context.
func (vm *VM) currentStream() *Stream {
	if vm.rootByID(vm.current) != nil {
		return nil
	}
	return vm.streams[vm.current]
}

func proxyLog(vm *VM, mem api.Memory, st []uint64) abi.Status {
	level := LogLevel(u32(st[0]))
	if level > LogCritical {
		return abi.BadArgument
	}
	msg, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	if level >= vm.h.cfg.LogLevel {
		vm.h.logs.add(LogEntry{VM: vm.index, Source: "proxy_log", Level: level, Message: string(msg)})
	}
	return abi.OK
}

func getLogLevel(vm *VM, mem api.Memory, st []uint64) abi.Status {
	return writeU32(mem, st[0], uint32(vm.h.cfg.LogLevel))
}

func getCurrentTime(vm *VM, mem api.Memory, st []uint64) abi.Status {
	if !mem.WriteUint64Le(u32(st[0]), uint64(time.Now().UnixNano())) {
		return abi.InvalidMemoryAccess
	}
	return abi.OK
}

func setTickPeriod(vm *VM, mem api.Memory, st []uint64) abi.Status {
	vm.setTickPeriod(time.Duration(u32(st[0])) * time.Millisecond)
	return abi.OK
}

// buffer returns the buffer of the given type visible from the effective context; body is the
// pointer to modify for writable buffers.
func (vm *VM) buffer(t abi.BufferType) (data []byte, body *[]byte, ok bool) {
	switch t {
	case abi.BufferRequestBody, abi.BufferResponseBody:
		s := vm.currentStream()
		if s == nil {
			return nil, nil, false
		}
		d := s.dir(t == abi.BufferResponseBody)
		return d.body, &d.body, true
	case abi.BufferHTTPCallResponse:
		if vm.callResp == nil {
			return nil, nil, false
		}
		return vm.callResp.body, nil, true
	case abi.BufferVMConfiguration:
		return vm.h.cfg.VMConfig, nil, true
	case abi.BufferPluginConfiguration:
		return vm.currentRoot().p.config, nil, true
	}
	return nil, nil, false
}

func getBufferBytes(vm *VM, mem api.Memory, st []uint64) abi.Status {
	data, _, ok := vm.buffer(abi.BufferType(u32(st[0])))
	if !ok {
		return abi.NotFound
	}
	start, size := uint64(u32(st[1])), uint64(u32(st[2]))
	if start > uint64(len(data)) {
		return abi.BadArgument
	}
	end := min(start+size, uint64(len(data)))
	return vm.copyOut(mem, data[start:end], st[3], st[4])
}

// setBufferBytes follows Envoy's Buffer::copyFrom: start 0 drains `size` bytes and prepends
// (so (0,0) prepends and (0,len) replaces), start >= len appends, anything else is rejected.
func setBufferBytes(vm *VM, mem api.Memory, st []uint64) abi.Status {
	_, body, ok := vm.buffer(abi.BufferType(u32(st[0])))
	if !ok {
		return abi.NotFound
	}
	if body == nil {
		return abi.BadArgument
	}
	data, okm := read(mem, st[3], st[4])
	if !okm {
		return abi.InvalidMemoryAccess
	}
	start, size := int(u32(st[1])), int(u32(st[2]))
	switch {
	case start == 0:
		n := min(size, len(*body))
		*body = append(append([]byte(nil), data...), (*body)[n:]...)
	case start >= len(*body):
		*body = append(*body, data...)
	default:
		return abi.BadArgument
	}
	return abi.OK
}

func getBufferStatus(vm *VM, mem api.Memory, st []uint64) abi.Status {
	data, _, ok := vm.buffer(abi.BufferType(u32(st[0])))
	if !ok {
		return abi.NotFound
	}
	if s := writeU32(mem, st[1], uint32(len(data))); s != abi.OK {
		return s
	}
	return writeU32(mem, st[2], 0)
}

// headerMap returns the map of the given type for the effective context; writable is false for
// http-call response maps.
func (vm *VM) headerMap(t abi.MapType) (m *headerMap, writable bool, status abi.Status) {
	switch t {
	case abi.MapRequestHeaders, abi.MapRequestTrailers, abi.MapResponseHeaders, abi.MapResponseTrailers:
		s := vm.currentStream()
		if s == nil {
			return nil, false, abi.NotFound
		}
		d := s.dir(t == abi.MapResponseHeaders || t == abi.MapResponseTrailers)
		if t == abi.MapRequestHeaders || t == abi.MapResponseHeaders {
			return &d.headers, true, abi.OK
		}
		return &d.trailers, true, abi.OK
	case abi.MapHTTPCallResponseHeaders, abi.MapHTTPCallResponseTrailer:
		if vm.callResp == nil {
			return nil, false, abi.NotFound
		}
		if t == abi.MapHTTPCallResponseHeaders {
			return &vm.callResp.headers, false, abi.OK
		}
		return &vm.callResp.trailers, false, abi.OK
	case abi.MapGrpcInitialMetadata, abi.MapGrpcTrailingMetadata:
		return nil, false, abi.NotFound
	}
	return nil, false, abi.BadArgument
}

func getHeaderMapSize(vm *VM, mem api.Memory, st []uint64) abi.Status {
	m, _, s := vm.headerMap(abi.MapType(u32(st[0])))
	if s != abi.OK {
		return s
	}
	return writeU32(mem, st[1], uint32(abi.PairsSize(m.pairs)))
}

func getHeaderMapPairs(vm *VM, mem api.Memory, st []uint64) abi.Status {
	m, _, s := vm.headerMap(abi.MapType(u32(st[0])))
	if s != abi.OK {
		return s
	}
	vm.scratch = abi.AppendPairs(vm.scratch[:0], m.pairs)
	return vm.copyOut(mem, vm.scratch, st[1], st[2])
}

func setHeaderMapPairs(vm *VM, mem api.Memory, st []uint64) abi.Status {
	m, writable, s := vm.headerMap(abi.MapType(u32(st[0])))
	if s != abi.OK {
		return s
	}
	if !writable {
		return abi.BadArgument
	}
	b, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	pairs, err := abi.DecodePairs(b)
	if err != nil {
		return abi.BadArgument
	}
	m.pairs = lowerKeys(pairs)
	return abi.OK
}

func getHeaderMapValue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	m, _, s := vm.headerMap(abi.MapType(u32(st[0])))
	if s != abi.OK {
		return s
	}
	key, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	i := m.index(key)
	if i < 0 {
		return abi.NotFound
	}
	return vm.copyOutString(mem, m.pairs[i][1], st[3], st[4])
}

// mutateHeader reads key and value and applies op to a writable map.
func mutateHeader(vm *VM, mem api.Memory, st []uint64, op func(m *headerMap, k, v []byte)) abi.Status {
	m, writable, s := vm.headerMap(abi.MapType(u32(st[0])))
	if s != abi.OK {
		return s
	}
	if !writable {
		return abi.BadArgument
	}
	key, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	var val []byte
	if len(st) >= 5 {
		if val, ok = read(mem, st[3], st[4]); !ok {
			return abi.InvalidMemoryAccess
		}
	}
	op(m, key, val)
	return abi.OK
}

func addHeaderMapValue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	return mutateHeader(vm, mem, st[:5], (*headerMap).add)
}

func replaceHeaderMapValue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	return mutateHeader(vm, mem, st[:5], (*headerMap).replace)
}

func removeHeaderMapValue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	return mutateHeader(vm, mem, st[:3], func(m *headerMap, k, _ []byte) { m.remove(k) })
}

// streamAction records a deferred continue/close for the effective stream.
func streamAction(vm *VM, st []uint64, want func(s *Stream) *[2]bool) abi.Status {
	t := abi.StreamType(u32(st[0]))
	switch t {
	case abi.StreamRequest, abi.StreamResponse:
	case abi.StreamUpstream:
		return abi.Unimplemented
	default:
		return abi.BadArgument // DOWNSTREAM is a network-filter stream
	}
	s := vm.currentStream()
	if s == nil {
		return abi.BadArgument
	}
	want(s)[t] = true
	s.touch()
	return abi.OK
}

func continueStream(vm *VM, _ api.Memory, st []uint64) abi.Status {
	return streamAction(vm, st, func(s *Stream) *[2]bool { return &s.wantContinue })
}

func closeStream(vm *VM, _ api.Memory, st []uint64) abi.Status {
	return streamAction(vm, st, func(s *Stream) *[2]bool { return &s.wantClose })
}

func getStatus(vm *VM, mem api.Memory, st []uint64) abi.Status {
	if s := writeU32(mem, st[0], vm.status); s != abi.OK {
		return s
	}
	return vm.copyOutString(mem, vm.statusMsg, st[1], st[2])
}

func sendLocalResponse(vm *VM, mem api.Memory, st []uint64) abi.Status {
	s := vm.currentStream()
	if s == nil {
		return abi.BadArgument
	}
	details, ok1 := read(mem, st[1], st[2])
	body, ok2 := read(mem, st[3], st[4])
	hdr, ok3 := read(mem, st[5], st[6])
	if !ok1 || !ok2 || !ok3 {
		return abi.InvalidMemoryAccess
	}
	pairs, err := abi.DecodePairs(hdr)
	if err != nil {
		return abi.BadArgument
	}
	r := &LocalReply{
		Status:     int(u32(st[0])),
		Headers:    lowerKeys(pairs),
		Body:       append([]byte(nil), body...),
		Details:    strings.Join(strings.Fields(string(details)), "_"),
		GRPCStatus: int32(u32(st[7])),
	}
	if r.GRPCStatus < 0 || r.GRPCStatus > 16 {
		r.GRPCStatus = -1
	}
	if _, ok := r.Headers.Get("content-type"); !ok && len(r.Body) > 0 {
		r.Headers = append(r.Headers, [2]string{"content-type", "text/plain"})
	}
	s.pendingReply = r
	s.touch()
	return abi.OK
}

// httpCall applies Envoy's checks in Envoy's order: negative timeout, unknown cluster, missing
// :path/:method/:authority -> BAD_ARGUMENT. Only presence is checked: an empty value passes, as
// in Envoy's Context::httpCall (source/extensions/common/wasm/context.cc: `if
// (message->headers().Path() == nullptr || message->headers().Method() == nullptr ||
// message->headers().Host() == nullptr) return WasmResult::BadArgument;`).
func httpCall(vm *VM, mem api.Memory, st []uint64) abi.Status {
	timeout := int32(u32(st[8]))
	if timeout < 0 {
		return abi.BadArgument
	}
	upstream, ok := read(mem, st[0], st[1])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	baseURL, known := vm.h.cfg.Clusters[string(upstream)]
	if !known {
		return abi.BadArgument
	}
	hdr, ok1 := read(mem, st[2], st[3])
	body, ok2 := read(mem, st[4], st[5])
	trl, ok3 := read(mem, st[6], st[7])
	if !ok1 || !ok2 || !ok3 {
		return abi.InvalidMemoryAccess
	}
	headers, err := abi.DecodePairs(hdr)
	if err != nil {
		return abi.BadArgument
	}
	trailers, err := abi.DecodePairs(trl)
	if err != nil {
		return abi.BadArgument
	}
	c := &HTTPCall{
		Cluster:  string(upstream),
		Headers:  lowerKeys(headers),
		Body:     append([]byte(nil), body...),
		Trailers: lowerKeys(trailers),
		Timeout:  time.Duration(timeout) * time.Millisecond,
		Stream:   vm.currentStream(),
		vm:       vm,
		root:     vm.currentRoot(),
	}
	for _, k := range []string{":path", ":method", ":authority"} {
		if _, ok := c.Headers.Get(k); !ok {
			return abi.BadArgument
		}
	}
	vm.nextCall++
	c.ID = vm.nextCall
	if s := writeU32(mem, st[9], c.ID); s != abi.OK {
		return s
	}
	vm.calls[c.ID] = c
	vm.startCall(c, baseURL)
	return abi.OK
}

func storeResult(r shared.Result) abi.Status {
	switch r {
	case shared.OK:
		return abi.OK
	case shared.NotFound:
		return abi.NotFound
	case shared.CasMismatch:
		return abi.CasMismatch
	case shared.Empty:
		return abi.Empty
	}
	return abi.InternalFailure
}

func getSharedData(vm *VM, mem api.Memory, st []uint64) abi.Status {
	key, ok := read(mem, st[0], st[1])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	var cas uint32
	// Copy to scratch under the store lock, allocate in the guest after releasing it.
	r := vm.h.store.View(vm.h.cfg.VMID, key, func(v []byte, c uint32) {
		vm.scratch = append(vm.scratch[:0], v...)
		cas = c
	})
	if r != shared.OK {
		return storeResult(r)
	}
	if s := vm.copyOut(mem, vm.scratch, st[2], st[3]); s != abi.OK {
		return s
	}
	return writeU32(mem, st[4], cas)
}

func setSharedData(vm *VM, mem api.Memory, st []uint64) abi.Status {
	key, ok1 := read(mem, st[0], st[1])
	val, ok2 := read(mem, st[2], st[3])
	if !ok1 || !ok2 {
		return abi.InvalidMemoryAccess
	}
	return storeResult(vm.h.store.Set(vm.h.cfg.VMID, key, val, u32(st[4])))
}

func registerQueue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	name, ok := read(mem, st[0], st[1])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	return writeU32(mem, st[2], vm.h.store.RegisterQueue(vm.h.cfg.VMID, string(name), queueOwner{vm, vm.currentRoot()}))
}

func resolveQueue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	vmID, ok1 := read(mem, st[0], st[1])
	name, ok2 := read(mem, st[2], st[3])
	if !ok1 || !ok2 {
		return abi.InvalidMemoryAccess
	}
	id, r := vm.h.store.ResolveQueue(string(vmID), string(name))
	if r != shared.OK {
		return storeResult(r)
	}
	return writeU32(mem, st[4], id)
}

// enqueue notifies the registering VM through its event loop, never synchronously: the owner
// may be this very VM (mid-callback) or another VM that is itself enqueuing to us.
func enqueue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	data, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	id := u32(st[0])
	owner, r := vm.h.store.Enqueue(id, data)
	if r != shared.OK {
		return storeResult(r)
	}
	if o, ok := owner.(queueOwner); ok {
		o.vm.post(func() { o.vm.queueReady(o.root, id) })
	}
	return abi.OK
}

func dequeue(vm *VM, mem api.Memory, st []uint64) abi.Status {
	item, r := vm.h.store.Dequeue(u32(st[0]))
	if r != shared.OK {
		return storeResult(r)
	}
	return vm.copyOut(mem, item, st[1], st[2])
}

func defineMetric(vm *VM, mem api.Memory, st []uint64) abi.Status {
	t := MetricType(u32(st[0]))
	if t > MetricHistogram {
		return abi.BadArgument
	}
	name, ok := read(mem, st[1], st[2])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	return writeU32(mem, st[3], vm.h.metrics.define(t, string(name)))
}

func incrementMetric(vm *VM, _ api.Memory, st []uint64) abi.Status {
	m := vm.h.metrics.get(u32(st[0]))
	if m == nil {
		return abi.NotFound
	}
	return m.increment(int64(st[1]))
}

func recordMetric(vm *VM, _ api.Memory, st []uint64) abi.Status {
	m := vm.h.metrics.get(u32(st[0]))
	if m == nil {
		return abi.NotFound
	}
	return m.record(int64(st[1]))
}

func getMetric(vm *VM, mem api.Memory, st []uint64) abi.Status {
	m := vm.h.metrics.get(u32(st[0]))
	if m == nil {
		return abi.NotFound
	}
	if m.typ == MetricHistogram {
		return abi.BadArgument
	}
	if !mem.WriteUint64Le(u32(st[1]), uint64(m.value.Load())) {
		return abi.InvalidMemoryAccess
	}
	return abi.OK
}

func getProperty(vm *VM, mem api.Memory, st []uint64) abi.Status {
	raw, ok := read(mem, st[0], st[1])
	if !ok {
		return abi.InvalidMemoryAccess
	}
	v, found := vm.property(abi.JoinPath(raw), vm.currentStream())
	if !found {
		return abi.NotFound
	}
	return vm.copyOut(mem, v, st[2], st[3])
}

func setProperty(vm *VM, mem api.Memory, st []uint64) abi.Status {
	raw, ok1 := read(mem, st[0], st[1])
	val, ok2 := read(mem, st[2], st[3])
	if !ok1 || !ok2 {
		return abi.InvalidMemoryAccess
	}
	props := &vm.props
	path := abi.JoinPath(raw)
	if s := vm.currentStream(); s != nil {
		props = &s.props
		// Envoy keeps a property in a CelState whose prototype the root context declared
		// (declare_property); a read-only one accepts its first value only (cel_state.h setValue).
		if p, ok := s.root.declared[path]; ok && p.readonly {
			if _, set := s.props[path]; set {
				return abi.BadArgument
			}
		}
	}
	if *props == nil {
		*props = map[string][]byte{}
	}
	(*props)[path] = append([]byte(nil), val...)
	return abi.OK
}

func setEffectiveContext(vm *VM, _ api.Memory, st []uint64) abi.Status {
	id := u32(st[0])
	if vm.rootByID(id) == nil {
		if s, ok := vm.streams[id]; !ok || s.closed {
			return abi.BadArgument
		}
	}
	vm.current = id
	return abi.OK
}

// done completes an asynchronous plugin shutdown started by a false proxy_on_done.
func done(vm *VM, _ api.Memory, _ []uint64) abi.Status {
	if !vm.pendingDone {
		return abi.NotFound
	}
	vm.pendingDone = false
	return abi.OK
}

func unimplemented(*VM, api.Memory, []uint64) abi.Status { return abi.Unimplemented }
