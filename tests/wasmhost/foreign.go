package wasmhost

import (
	"bytes"
	"compress/zlib"
	"io"

	"github.com/tetratelabs/wazero/api"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/abi"
)

// foreignFunction is one function Envoy registers for proxy_call_foreign_function: it gets the
// argument bytes and returns the result bytes (nil: no result) and a status. It runs with the VM
// locked, on the effective context.
type foreignFunction func(vm *VM, args []byte) ([]byte, abi.Status)

// foreignFunctions are the foreign functions of Envoy's Wasm extension that mean something
// outside Envoy (source/extensions/common/wasm/foreign.cc, and clear_route_cache from Envoy PR
// #36671). The CEL expression functions (expr_create/evaluate/delete) and the signature
// functions are not provided: a call to them is NOT_FOUND, as on an Envoy built without them.
var foreignFunctions = map[string]foreignFunction{
	"compress":               foreignCompress,
	"uncompress":             foreignUncompress,
	"declare_property":       foreignDeclareProperty,
	"set_envoy_filter_state": foreignSetEnvoyFilterState,
	"clear_route_cache":      foreignClearRouteCache,
}

// callForeignFunction mirrors proxy-wasm-cpp-host's call_foreign_function (src/exports.cc): an
// unknown name is NOT_FOUND; the result is allocated in the guest and its address and size
// written to results/results_size, only when the guest passed non-zero pointers for them; the
// function's status is returned as is.
func callForeignFunction(vm *VM, mem api.Memory, st []uint64) abi.Status {
	name, ok1 := read(mem, st[0], st[1])
	args, ok2 := read(mem, st[2], st[3])
	if !ok1 || !ok2 {
		return abi.InvalidMemoryAccess
	}
	f := foreignFunctions[string(name)]
	if f == nil {
		return abi.NotFound
	}
	result, status := f(vm, args)
	if st[4] != 0 && result != nil {
		p := vm.allocate(uint32(len(result)))
		if p == 0 || !mem.Write(p, result) || !mem.WriteUint32Le(u32(st[4]), p) {
			return abi.InvalidMemoryAccess
		}
	}
	if st[5] != 0 && result != nil && !mem.WriteUint32Le(u32(st[5]), uint32(len(result))) {
		return abi.InvalidMemoryAccess
	}
	return status
}

// foreignCompress is zlib's compress(): a zlib stream (RFC 1950) at the default level. Go's
// encoder may pick other bytes than C zlib for the same input; any zlib decoder reads both.
func foreignCompress(_ *VM, args []byte) ([]byte, abi.Status) {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write(args); err != nil {
		return nil, abi.SerializationFailure
	}
	if err := w.Close(); err != nil {
		return nil, abi.SerializationFailure
	}
	return b.Bytes(), abi.OK
}

// foreignUncompress is zlib's uncompress(): anything but a complete zlib stream is
// SERIALIZATION_FAILURE.
func foreignUncompress(_ *VM, args []byte) ([]byte, abi.Status) {
	r, err := zlib.NewReader(bytes.NewReader(args))
	if err != nil {
		return nil, abi.SerializationFailure
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, abi.SerializationFailure
	}
	return out, abi.OK
}

// propertyPrototype is a property declared with declare_property (Envoy's CelStatePrototype):
// a read-only property can be set once per stream.
type propertyPrototype struct {
	readonly bool
	typ      uint64 // WasmType: 0 bytes, 1 string, 2 flatbuffers, 3 protobuf
}

// foreignDeclareProperty decodes DeclarePropertyArguments (ext/declare_property.proto: name = 1,
// readonly = 2, type = 3, schema = 4, span = 5) and declares the property on the effective
// context, as Envoy's Context::declareProperty does: a second declaration of a name is
// BAD_ARGUMENT. Envoy consults only the root context's declarations when a property is set, so a
// declaration made from a stream context has no effect there either.
func foreignDeclareProperty(vm *VM, args []byte) ([]byte, abi.Status) {
	var name string
	var p propertyPrototype
	ok := decodeProto(args, func(num protowire.Number, v uint64, b []byte) {
		switch num {
		case 1:
			name = string(b)
		case 2:
			p.readonly = v != 0
		case 3:
			p.typ = v
		}
	})
	if !ok {
		return nil, abi.BadArgument
	}
	decls := &vm.currentRoot().declared
	if s := vm.currentStream(); s != nil {
		decls = &s.declared
	}
	if _, dup := (*decls)[name]; dup {
		return nil, abi.BadArgument
	}
	if *decls == nil {
		*decls = map[string]propertyPrototype{}
	}
	(*decls)[name] = p
	return nil, abi.OK
}

// foreignSetEnvoyFilterState decodes SetEnvoyFilterStateArguments (path = 1, value = 2) and
// stores the value in the stream's filter state, readable as the property
// "filter_state.<path>" (Envoy's CEL attribute filter_state[path]). Outside a stream there is no
// filter state: NOT_FOUND, as in Envoy (Context::setEnvoyFilterState without stream info). Envoy
// also answers NOT_FOUND for a path no object factory is registered for; this host has no
// registry and accepts every path.
func foreignSetEnvoyFilterState(vm *VM, args []byte) ([]byte, abi.Status) {
	var path, value []byte
	ok := decodeProto(args, func(num protowire.Number, _ uint64, b []byte) {
		switch num {
		case 1:
			path = b
		case 2:
			value = b
		}
	})
	if !ok {
		return nil, abi.BadArgument
	}
	s := vm.currentStream()
	if s == nil {
		return nil, abi.NotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props["filter_state."+string(path)] = append([]byte(nil), value...)
	return nil, abi.OK
}

// foreignClearRouteCache records that the filter asked the proxy to pick the route again
// (Stream.RouteCacheCleared); a host that routes on request headers does so after the filters
// anyway.
func foreignClearRouteCache(vm *VM, _ []byte) ([]byte, abi.Status) {
	if s := vm.currentStream(); s != nil {
		s.routeCacheCleared = true
	}
	return nil, abi.OK
}

// decodeProto walks the fields of a protobuf message: varints as v, length-delimited fields as
// b. It reports false for malformed input (Envoy's ParseFromArray failing).
func decodeProto(b []byte, field func(num protowire.Number, v uint64, b []byte)) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			field(num, v, nil)
			b = b[m:]
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return false
			}
			field(num, 0, v)
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return false
			}
			b = b[m:]
		}
	}
	return true
}
