package wasmhost_test

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// commandModule hand-assembles a WASI-command-style module (as TinyGo or Rust produce) that
// exports _start instead of _initialize: _start stores 1 at address 0 and
// proxy_on_request_headers returns the word there, so Pause proves _start ran first.
func commandModule() []byte {
	section := func(id byte, content ...byte) []byte { return append([]byte{id, byte(len(content))}, content...) }
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	var exports []byte
	exports = append(exports, 5) // count
	for i, n := range []string{"_start", "proxy_abi_version_0_2_1", "proxy_on_memory_allocate", "proxy_on_request_headers"} {
		exports = append(append(exports, name(n)...), 0x00, byte(i)) // func i
	}
	exports = append(append(exports, name("memory")...), 0x02, 0x00)
	body := func(code ...byte) []byte { return append([]byte{byte(len(code) + 1), 0x00}, code...) } // no locals
	var code []byte
	code = append(code, 4)
	code = append(code, body(0x41, 0x00, 0x41, 0x01, 0x36, 0x02, 0x00, 0x0b)...) // mem[0] = 1
	code = append(code, body(0x0b)...)                                           // marker
	code = append(code, body(0x41, 0x80, 0x08, 0x0b)...)                         // alloc: return 1024
	code = append(code, body(0x41, 0x00, 0x28, 0x02, 0x00, 0x0b)...)             // return mem[0]

	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	m = append(m, section(1, 3, // types: ()->(), (i32)->i32, (i32,i32,i32)->i32
		0x60, 0x00, 0x00,
		0x60, 0x01, 0x7f, 0x01, 0x7f,
		0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f)...)
	m = append(m, section(3, 4, 0, 0, 1, 2)...) // functions -> types
	m = append(m, section(5, 1, 0x00, 0x01)...) // one memory, 1 page
	m = append(m, section(7, exports...)...)
	m = append(m, section(10, code...)...)
	return m
}

func TestCommandModuleWithStart(t *testing.T) {
	h, err := wasmhost.New(ctxTimeout(t), wasmhost.Config{Wasm: commandModule(), NoCompilationCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctxTimeout(t))
	s := h.NewStream()
	defer s.Close()
	if r := s.RequestHeaders(get("/"), true); r.Action != wasmhost.ActionPause {
		t.Fatalf("result %+v: _start did not run before the callbacks", r)
	}
}

// A Go command (not c-shared) exits at the end of _start and cannot serve callbacks; the load
// error says how to fix it.
func TestGoCommandModuleIsRejected(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an extra module")
	}
	wasm := buildCommand(t, "rawabi")
	_, err := wasmhost.New(ctxTimeout(t), wasmhost.Config{Wasm: wasm})
	if err == nil || !strings.Contains(err.Error(), "-buildmode=c-shared") {
		t.Fatalf("err = %v", err)
	}
}
