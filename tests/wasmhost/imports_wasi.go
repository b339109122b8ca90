package wasmhost

import (
	"context"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// envoy133WASI is the WASI import list of Envoy 1.33's cpp-host (the pre-#427 list plus what
// #427 added for Go). A module importing anything else fails to load in WASIEnvoy133 mode.
var envoy133WASI = map[string]bool{
	"fd_write": true, "fd_read": true, "fd_seek": true, "fd_close": true,
	"fd_fdstat_get": true, "fd_fdstat_set_flags": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
	"environ_get": true, "environ_sizes_get": true, "args_get": true, "args_sizes_get": true,
	"clock_time_get": true, "clock_res_get": true, "random_get": true, "proc_exit": true,
	"sched_yield": true, "poll_oneoff": true,
}

const errnoNOSYS = 52

// buildWASI starts from wazero's WASI and replaces the calls whose Envoy behaviour differs
// (poll_oneoff) or that cpp-host restricts during _initialize / proxy_on_memory_allocate.
func (h *Host) buildWASI() wazero.HostModuleBuilder {
	b := h.rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	strict := h.cfg.WASIMode == WASIEnvoy133
	i32 := api.ValueTypeI32

	// poll_oneoff(in, out, nsubscriptions, nevents_ptr) -> errno
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, st []uint64) {
		vm := vmOf(ctx)
		vm.h.pollOneoff.Add(1)
		if pollBlocks(mod.Memory(), uint32(st[0]), uint32(st[2])) {
			vm.h.blockingPolls.Add(1)
		}
		if strict {
			vm.restrictWASI("poll_oneoff", false, false)
			st[0] = errnoNOSYS
			return
		}
		// cpp-host #533: "success, nothing happened". Go treats it as a short sleep.
		if !mod.Memory().WriteUint32Le(uint32(st[3]), 0) {
			st[0] = 21 // EFAULT
			return
		}
		st[0] = 0
	}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).Export("poll_oneoff")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, st []uint64) {
		vmOf(ctx).restrictWASI("sched_yield", !strict, false)
		st[0] = 0
	}), nil, []api.ValueType{i32}).Export("sched_yield")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, st []uint64) {
		vmOf(ctx).restrictWASI("random_get", true, false)
		buf, ok := mod.Memory().Read(uint32(st[0]), uint32(st[1]))
		if !ok {
			st[0] = 21
			return
		}
		if _, err := io.ReadFull(randSource, buf); err != nil {
			st[0] = 29 // EIO
			return
		}
		st[0] = 0
	}), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("random_get")
	return b
}

// pollBlocks reports whether a poll_oneoff call asks to wait: a clock subscription with a
// timeout, or any file descriptor subscription. Go's runtime makes such a call when its scheduler
// has nothing to run (a sleep, a timer, a blocked goroutine); its non-blocking netpoll(0), made
// at every garbage collection's start-the-world once a runtime timer started the poller, has a
// single clock subscription with timeout 0. Subscriptions are 48 bytes: userdata (8), tag (1,
// 0 = clock) at 8, the clock's id at 16 and timeout (u64) at 24.
func pollBlocks(mem api.Memory, in, n uint32) bool {
	for i := range n {
		sub := in + 48*i
		tag, ok := mem.ReadByte(sub + 8)
		if !ok || tag != 0 {
			return true
		}
		if timeout, ok := mem.ReadUint64Le(sub + 24); !ok || timeout > 0 {
			return true
		}
	}
	return false
}

// restrictWASI traps when the call is outside cpp-host's allowlist for the current phase.
func (vm *VM) restrictWASI(name string, allowedInInit, allowedInAlloc bool) {
	switch vm.phase {
	case phaseInitialize:
		if !allowedInInit {
			panic(&restrictedError{name: "wasi_snapshot_preview1." + name, phase: vm.phase})
		}
	case phaseAllocate:
		if !allowedInAlloc {
			panic(&restrictedError{name: "wasi_snapshot_preview1." + name, phase: vm.phase})
		}
	}
}
