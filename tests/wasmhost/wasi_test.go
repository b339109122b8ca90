package wasmhost_test

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// When the Go scheduler goes idle inside a callback (here: time.Sleep) it calls poll_oneoff:
// Envoy 1.33 answers ENOSYS and the runtime throws, cpp-host #533 answers "0 events" and it
// works. The two WASI modes must reproduce exactly that.
func TestWASIModes(t *testing.T) {
	tests := []struct {
		mode   wasmhost.WASIMode
		action wasmhost.Action
	}{
		{wasmhost.WASICppHost533, wasmhost.ActionContinue},
		{wasmhost.WASIEnvoy133, wasmhost.ActionLocalReply}, // fail-closed 503 after the trap
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := newHost(t, "fmtgc", wasmhost.Config{WASIMode: tt.mode})
			s := h.NewStream()
			if r := s.RequestHeaders(get("/gc"), true); r.Action != wasmhost.ActionContinue {
				t.Fatalf("GC alone must work in both modes: %+v", r)
			}
			if n := h.PollOneoffCalls(); n != 0 {
				t.Fatalf("GC alone called poll_oneoff %d times", n)
			}
			s.Close()
			s = h.NewStream()
			defer s.Close()
			r := s.RequestHeaders(get("/sleep"), true)
			if r.Action != tt.action {
				t.Fatalf("result %+v", r)
			}
			if h.PollOneoffCalls() == 0 || h.BlockingPollOneoffCalls() == 0 {
				t.Fatalf("the sleep counted as %d poll_oneoff calls, %d blocking; want at least one of each",
					h.PollOneoffCalls(), h.BlockingPollOneoffCalls())
			}
			if tt.action == wasmhost.ActionContinue {
				mustHeader(t, s.Request().Headers, "x-fmt", "4 headers")
				return
			}
			if err := h.VM(0).Err(); err == nil {
				t.Fatal("VM alive after poll_oneoff ENOSYS")
			}
			var stderr string
			for _, e := range h.Logs() {
				if e.Source == "stderr" {
					stderr += e.Message + "\n"
				}
			}
			if !strings.Contains(stderr, "poll_oneoff") {
				t.Fatalf("guest stderr does not show the poll_oneoff failure:\n%s", stderr)
			}
		})
	}
}

// A filter free of package os survives GC in the strict mode.
func TestStrictModeWithoutOS(t *testing.T) {
	h := newHost(t, "bench", wasmhost.Config{WASIMode: wasmhost.WASIEnvoy133, PluginConfig: []byte("alloc")})
	for range 2000 {
		s := h.NewStream()
		if r := s.RequestHeaders(get("/x"), true); r.Action != wasmhost.ActionContinue {
			t.Fatalf("%+v (VM err %v)", r, h.VM(0).Err())
		}
		s.Close()
	}
}
