//go:build !wasip1

package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Signatures are written params->results, one letter per value: i = i32,
// I = i64.

// abiHostFunctions lists every host function of proxy-wasm ABI 0.2.1
// (module "env"; docs/reference proxy-wasm.md §1.2) with its signature. A
// module importing anything else from env fails to load in Envoy.
var abiHostFunctions = map[string]string{
	"proxy_log":                          "iii->i",
	"proxy_get_log_level":                "i->i",
	"proxy_get_current_time_nanoseconds": "i->i",
	"proxy_set_tick_period_milliseconds": "i->i",
	"proxy_get_buffer_bytes":             "iiiii->i",
	"proxy_set_buffer_bytes":             "iiiii->i",
	"proxy_get_buffer_status":            "iii->i",
	"proxy_get_header_map_size":          "ii->i",
	"proxy_get_header_map_pairs":         "iii->i",
	"proxy_set_header_map_pairs":         "iii->i",
	"proxy_get_header_map_value":         "iiiii->i",
	"proxy_add_header_map_value":         "iiiii->i",
	"proxy_replace_header_map_value":     "iiiii->i",
	"proxy_remove_header_map_value":      "iii->i",
	"proxy_continue_stream":              "i->i",
	"proxy_close_stream":                 "i->i",
	"proxy_get_status":                   "iii->i",
	"proxy_send_local_response":          "iiiiiiii->i",
	"proxy_http_call":                    "iiiiiiiiii->i",
	"proxy_grpc_call":                    "iiiiiiiiiiii->i",
	"proxy_grpc_stream":                  "iiiiiiiii->i",
	"proxy_grpc_send":                    "iiii->i",
	"proxy_grpc_cancel":                  "i->i",
	"proxy_grpc_close":                   "i->i",
	"proxy_get_shared_data":              "iiiii->i",
	"proxy_set_shared_data":              "iiiii->i",
	"proxy_register_shared_queue":        "iii->i",
	"proxy_resolve_shared_queue":         "iiiii->i",
	"proxy_enqueue_shared_queue":         "iii->i",
	"proxy_dequeue_shared_queue":         "iii->i",
	"proxy_define_metric":                "iiii->i",
	"proxy_increment_metric":             "iI->i",
	"proxy_record_metric":                "iI->i",
	"proxy_get_metric":                   "ii->i",
	"proxy_get_property":                 "iiii->i",
	"proxy_set_property":                 "iiii->i",
	"proxy_set_effective_context":        "i->i",
	"proxy_done":                         "->i",
	"proxy_call_foreign_function":        "iiiiii->i",
}

// abiCallbacks lists the proxy_* functions a 0.2.1 plugin may export, with
// their signatures (§1.1).
var abiCallbacks = map[string]string{
	"proxy_abi_version_0_2_1":                 "->",
	"proxy_on_memory_allocate":                "i->i",
	"proxy_on_context_create":                 "ii->",
	"proxy_on_vm_start":                       "ii->i",
	"proxy_on_configure":                      "ii->i",
	"proxy_on_tick":                           "i->",
	"proxy_on_queue_ready":                    "ii->",
	"proxy_on_request_headers":                "iii->i",
	"proxy_on_request_body":                   "iii->i",
	"proxy_on_request_trailers":               "ii->i",
	"proxy_on_response_headers":               "iii->i",
	"proxy_on_response_body":                  "iii->i",
	"proxy_on_response_trailers":              "ii->i",
	"proxy_on_http_call_response":             "iiiii->",
	"proxy_on_grpc_receive_initial_metadata":  "iii->",
	"proxy_on_grpc_receive_trailing_metadata": "iii->",
	"proxy_on_grpc_receive":                   "iii->",
	"proxy_on_grpc_close":                     "iii->",
	"proxy_on_new_connection":                 "i->i",
	"proxy_on_downstream_data":                "iii->i",
	"proxy_on_upstream_data":                  "iii->i",
	"proxy_on_downstream_connection_close":    "ii->",
	"proxy_on_upstream_connection_close":      "ii->",
	"proxy_on_foreign_function":               "iii->",
	"proxy_on_done":                           "i->i",
	"proxy_on_log":                            "i->",
	"proxy_on_delete":                         "i->",
}

// requiredExports must be present for Envoy to load the module as an ABI
// 0.2.1 reactor and run an HTTP filter.
var requiredExports = []string{
	"_initialize", "proxy_abi_version_0_2_1", "proxy_on_memory_allocate",
	"proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
	"proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_http_call_response",
	"proxy_on_done", "proxy_on_log", "proxy_on_delete",
}

func signature(f api.FunctionDefinition) string {
	letters := func(types []api.ValueType) string {
		var b strings.Builder
		for _, t := range types {
			switch t {
			case api.ValueTypeI32:
				b.WriteByte('i')
			case api.ValueTypeI64:
				b.WriteByte('I')
			default:
				b.WriteString("<" + api.ValueTypeName(t) + ">")
			}
		}
		return b.String()
	}
	return letters(f.ParamTypes()) + "->" + letters(f.ResultTypes())
}

// checkSignature reports f, imported or exported as name, if table (the
// ABI) does not list it or lists it with another signature. what prefixes
// the name in messages ("imports env.", "exports ").
func checkSignature(t *testing.T, what, name string, f api.FunctionDefinition, table map[string]string) {
	t.Helper()
	want, ok := table[name]
	if !ok {
		t.Errorf("%s%s, not part of proxy-wasm 0.2.1", what, name)
	} else if got := signature(f); got != want {
		t.Errorf("%s%s as %s, ABI says %s", what, name, got, want)
	}
}

func TestWasmModuleMatchesABI(t *testing.T) {
	wasm, err := os.ReadFile(filterWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The interpreter only validates and indexes here: compiling to machine
	// code would take a second for nothing.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compiling filter.wasm: %v", err)
	}

	wasi := wasiFunctions(ctx, t, rt)
	var envImports, all []string
	for _, f := range mod.ImportedFunctions() {
		module, name, _ := f.Import()
		all = append(all, module+"."+name)
		switch module {
		case "env":
			checkSignature(t, "imports env.", name, f, abiHostFunctions)
			envImports = append(envImports, name)
		case wasi_snapshot_preview1.ModuleName:
			if !wasi[name] {
				t.Errorf("imports %s.%s, not a WASI preview1 function", module, name)
			}
		default:
			t.Errorf("imports %s.%s from a module hosts do not provide", module, name)
		}
	}
	if len(envImports) == 0 {
		t.Error("no env imports: the module cannot talk to the host")
	}
	// CI prints this list: a new import is a new requirement on every host.
	t.Logf("%d imports:\n\t%s", len(all), strings.Join(all, "\n\t"))

	exports := mod.ExportedFunctions()
	for _, name := range requiredExports {
		if _, ok := exports[name]; !ok {
			t.Errorf("missing export %s", name)
		}
	}
	for name, f := range exports {
		if !strings.HasPrefix(name, "proxy_") {
			continue
		}
		if strings.HasPrefix(name, "proxy_abi_version_") && name != "proxy_abi_version_0_2_1" {
			t.Errorf("exports a second ABI marker %s; hosts pick the ABI by marker", name)
			continue
		}
		checkSignature(t, "exports ", name, f, abiCallbacks)
	}
}

// wasiFunctions lists WASI preview1 as wazero implements it, rather than a
// hand-copied list that could drift.
func wasiFunctions(ctx context.Context, t *testing.T, rt wazero.Runtime) map[string]bool {
	t.Helper()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name := range rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions() {
		names[name] = true
	}
	return names
}
