package wasmhost_test

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// The raw-ABI filter (no bindings, 0.2.0 marker, no vm_start/configure exports) runs too.
func TestRawABIFilter(t *testing.T) {
	h := newHost(t, "rawabi", wasmhost.Config{})
	if h.ABIVersion() != "proxy_abi_version_0_2_0" {
		t.Fatalf("ABI %q", h.ABIVersion())
	}
	s := h.NewStream()
	defer s.Close()
	if r := s.RequestHeaders(get("/hello"), true); r.Action != wasmhost.ActionContinue {
		t.Fatalf("result %+v", r)
	}
	mustHeader(t, s.Request().Headers, "x-raw", "1")

	s2 := h.NewStream()
	defer s2.Close()
	r := s2.RequestHeaders(get("/deny"), true)
	if r.Action != wasmhost.ActionLocalReply || r.Reply.Status != 403 || string(r.Reply.Body) != "denied by rawabi" {
		t.Fatalf("deny result %+v", r)
	}
	mustHeader(t, r.Reply.Headers, "content-type", "text/plain")

	found := false
	for _, e := range h.Logs() {
		if e.Source == "proxy_log" && e.Message == "rawabi saw 4 headers" && e.Level == wasmhost.LogInfo {
			found = true
		}
	}
	if !found {
		t.Fatalf("proxy_log entry missing: %+v", h.Logs())
	}
}

// gRPC and imports from other ABI versions answer UNIMPLEMENTED (12), never a fake success.
func TestUnimplementedCalls(t *testing.T) {
	h := newHost(t, "rawabi", wasmhost.Config{})
	s := h.NewStream()
	defer s.Close()
	s.RequestHeaders(get("/unimplemented"), true)
	req := s.Request().Headers
	mustHeader(t, req, "x-grpc-cancel-status", "12")
	mustHeader(t, req, "x-legacy-status", "12")
}

// An unrecovered panic traps; the VM is dead and later streams fail closed with Envoy's 503,
// or pass through with FailOpen. The trap is logged with the guest's stderr (the panic text).
func TestPanicKillsVM(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		name := map[bool]string{false: "fail-closed", true: "fail-open"}[failOpen]
		t.Run(name, func(t *testing.T) {
			h := newHost(t, "rawabi", wasmhost.Config{FailOpen: failOpen})
			s := h.NewStream()
			r := s.RequestHeaders(get("/panic"), true)
			s.Close()
			if h.VM(0).Err() == nil {
				t.Fatal("VM not marked dead after a trap")
			}
			later := h.NewStream()
			defer later.Close()
			r2 := later.RequestHeaders(get("/ok"), true)
			for _, res := range []wasmhost.Result{r, r2} {
				if failOpen {
					if res.Action != wasmhost.ActionContinue {
						t.Fatalf("fail-open result %+v", res)
					}
				} else if res.Action != wasmhost.ActionLocalReply || res.Reply.Status != 503 || res.Reply.Details != "wasm_fail_stream" {
					t.Fatalf("fail-closed result %+v", res)
				}
			}
			if failOpen {
				if _, ok := later.Request().Headers.Get("x-raw"); ok {
					t.Fatal("dead VM still ran the filter")
				}
			}
			var trapLog string
			for _, e := range h.Logs() {
				if e.Source == "host" && strings.Contains(e.Message, "wasm VM failed") {
					trapLog = e.Message
				}
			}
			if !strings.Contains(trapLog, "rawabi: boom on /panic") {
				t.Fatalf("trap log lacks the panic message: %q", trapLog)
			}
		})
	}
}

func TestRestrictedCallDuringInitialize(t *testing.T) {
	_, err := wasmhost.New(ctxTimeout(t), wasmhost.Config{Wasm: filter(t, "initcall")})
	if err == nil || !strings.Contains(err.Error(), "restricted_callback: proxy_set_tick_period_milliseconds") {
		t.Fatalf("err = %v", err)
	}
}
