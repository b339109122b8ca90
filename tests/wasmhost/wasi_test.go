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

// The Go runtime's own poll_oneoff path: after the live heap drops sharply, the background
// scavenger works and then sleeps on a runtime timer, which starts the network poller; every
// later collection polls it. cpp-host #533 answers and the VM lives; Envoy 1.33 answers ENOSYS
// and the VM dies. No guest code arms a timer (testdata/heapshrink), so no filter can avoid
// this by its own code; envoy/README.md ("Minimum Envoy version") says when it matters.
func TestRuntimeScavengerPollsAfterHeapShrink(t *testing.T) {
	for _, mode := range []wasmhost.WASIMode{wasmhost.WASICppHost533, wasmhost.WASIEnvoy133} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHost(t, "heapshrink", wasmhost.Config{WASIMode: mode})
			run := func(path string) wasmhost.Action {
				s := h.NewStream()
				defer s.Close()
				return s.RequestHeaders(get(path), true).Action
			}
			run("/grow")
			run("/gc")
			if n := h.PollOneoffCalls(); n != 0 {
				t.Fatalf("growing the heap called poll_oneoff %d times", n)
			}
			run("/free")
			for i := 0; i < 10 && h.PollOneoffCalls() == 0; i++ {
				run("/gc")
			}
			if h.PollOneoffCalls() == 0 {
				t.Fatal("no poll_oneoff call after the heap shrank")
			}
			// The first call is the non-blocking netpoll(0) of a collection (in envoy-1.33
			// mode the runtime's crash path then sleeps, a blocking call).
			if mode == wasmhost.WASICppHost533 && h.BlockingPollOneoffCalls() != 0 {
				t.Fatalf("%d blocking poll_oneoff calls: the guest's scheduler went idle", h.BlockingPollOneoffCalls())
			}
			alive := h.VM(0).Err() == nil
			if want := mode == wasmhost.WASICppHost533; alive != want {
				t.Fatalf("VM alive = %v (%v), want %v", alive, h.VM(0).Err(), want)
			}
		})
	}
}
