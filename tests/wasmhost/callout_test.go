package wasmhost_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// Test-answered cluster "auth": the request pauses, the call is visible with what the filter
// sent, and the answer decides the stream.
func TestPauseAndResumeAfterHTTPCall(t *testing.T) {
	h := newHost(t, "callout", wasmhost.Config{Clusters: map[string]string{"auth": ""}})
	tests := []struct {
		name   string
		answer func(c *wasmhost.HTTPCall) error
		action wasmhost.Action
		status int
		body   string
		xAuth  string
	}{
		{"allowed", func(c *wasmhost.HTTPCall) error { return c.Respond(200, nil, []byte("alice")) }, wasmhost.ActionContinue, 0, "", "alice"},
		{"denied", func(c *wasmhost.HTTPCall) error {
			return c.Respond(403, wasmhost.Headers{{"X-Why", "no"}}, []byte("nope"))
		}, wasmhost.ActionLocalReply, 403, "nope", ""},
		{"reset", (*wasmhost.HTTPCall).Fail, wasmhost.ActionLocalReply, 503, "callout failed: 11 reset", ""},
		{"timeout", (*wasmhost.HTTPCall).TimeOut, wasmhost.ActionLocalReply, 504, "upstream request timeout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.NewStream()
			defer s.Close()
			if r := s.RequestHeaders(get("/r", [2]string{"x-remove", "1"}), false); r.Action != wasmhost.ActionPause {
				t.Fatalf("headers: %+v", r)
			}
			// StopAllIteration: body is held before the filter until resumed.
			if r := s.RequestBody([]byte("payload"), true); r.Action != wasmhost.ActionPause {
				t.Fatalf("body while paused: %+v", r)
			}
			calls := s.HTTPCalls()
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			c := calls[0]
			mustHeader(t, c.Headers, ":path", "/check/r")
			mustHeader(t, c.Headers, ":authority", "auth.local")
			if c.Cluster != "auth" || c.Timeout != 5*time.Second || c.Stream != s {
				t.Fatalf("call %+v", c)
			}
			if err := tt.answer(c); err != nil {
				t.Fatal(err)
			}
			if err := c.Respond(200, nil, nil); err != wasmhost.ErrCallDone {
				t.Fatalf("second answer: %v", err)
			}
			r := s.Result()
			if r.Action != tt.action {
				t.Fatalf("after answer: %+v", r)
			}
			if tt.status != 0 && (r.Reply.Status != tt.status || string(r.Reply.Body) != tt.body) {
				t.Fatalf("reply %d %q", r.Reply.Status, r.Reply.Body)
			}
			if tt.xAuth != "" {
				req := s.Request()
				mustHeader(t, req.Headers, "x-auth", tt.xAuth)
				if string(req.Body) != "payload" {
					t.Fatalf("held body not released on resume: %q", req.Body)
				}
				if r := s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, true); r.Action != wasmhost.ActionContinue {
					t.Fatalf("response: %+v", r)
				}
				mustHeader(t, s.Response().Headers, "x-callout-filter", "1")
			}
		})
	}
	if m, _ := h.Metric("callouts_failed"); m.Value != 1 { // only the reset: a timeout is a 504 response
		t.Fatalf("callouts_failed = %d", m.Value)
	}
}

// Envoy's argument checks: unknown cluster and missing :authority are BAD_ARGUMENT.
func TestHTTPCallBadArguments(t *testing.T) {
	h := newHost(t, "callout", wasmhost.Config{Clusters: map[string]string{"auth": ""}})
	tests := []struct{ name, path, cluster string }{
		{"unknown cluster", "/x", "nowhere"},
		{"missing authority", "/no-authority", "auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.NewStream()
			defer s.Close()
			r := s.RequestHeaders(get(tt.path, [2]string{"x-cluster", tt.cluster}), true)
			if r.Action != wasmhost.ActionLocalReply || r.Reply.Status != 500 ||
				!strings.Contains(strings.ToLower(string(r.Reply.Body)), "bad argument") {
				t.Fatalf("result %+v body %q", r, r.Reply.Body)
			}
		})
	}
	if n := len(h.HTTPCalls()); n != 0 {
		t.Fatalf("%d calls pending after rejected dispatches", n)
	}
}

// Clusters with URLs are real HTTP endpoints; Wait blocks until the response resumed the stream.
// Timeouts and connection failures come back as Envoy's 504/503 responses.
func TestHTTPCallToRealCluster(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/check/slow":
			<-block
		case "/check/ok":
			if r.Host != "auth.local" {
				http.Error(w, "bad host "+r.Host, 400)
				return
			}
			w.Write([]byte("bob"))
		default:
			http.Error(w, "forbidden", 403)
		}
	}))
	defer srv.Close()
	defer close(block)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a port nobody listens on

	h := newHost(t, "callout", wasmhost.Config{
		PluginConfig: []byte("timeout=200"),
		Clusters:     map[string]string{"auth": srv.URL, "down": closed.URL},
	})
	tests := []struct {
		name, path, cluster string
		action              wasmhost.Action
		status              int
	}{
		{"ok", "/ok", "auth", wasmhost.ActionContinue, 0},
		{"forbidden", "/nope", "auth", wasmhost.ActionLocalReply, 403},
		{"timeout", "/slow", "auth", wasmhost.ActionLocalReply, 504},
		{"connect failure", "/x", "down", wasmhost.ActionLocalReply, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.NewStream()
			defer s.Close()
			if r := s.RequestHeaders(get(tt.path, [2]string{"x-cluster", tt.cluster}), true); r.Action != wasmhost.ActionPause {
				t.Fatalf("headers: %+v", r)
			}
			r, err := s.Wait(ctxTimeout(t))
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != tt.action || (tt.status != 0 && r.Reply.Status != tt.status) {
				t.Fatalf("result %+v", r)
			}
			if tt.action == wasmhost.ActionContinue {
				mustHeader(t, s.Request().Headers, "x-auth", "bob")
			}
		})
	}
}

// A response arriving after its stream was closed still reaches the root context and must not
// break the VM.
func TestHTTPCallAfterStreamClosed(t *testing.T) {
	h := newHost(t, "callout", wasmhost.Config{Clusters: map[string]string{"auth": ""}})
	s := h.NewStream()
	s.RequestHeaders(get("/gone"), true)
	c := s.HTTPCalls()[0]
	s.Close()
	if err := c.Respond(200, nil, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := h.VM(0).Err(); err != nil {
		t.Fatalf("VM failed: %v", err)
	}
	s2 := h.NewStream()
	defer s2.Close()
	if r := s2.RequestHeaders(get("/next"), true); r.Action != wasmhost.ActionPause {
		t.Fatalf("next stream: %+v", r)
	}
}

// While one stream waits for its call, the same VM serves other streams (event-loop model).
func TestPausedStreamDoesNotBlockVM(t *testing.T) {
	h := newHost(t, "callout", wasmhost.Config{Clusters: map[string]string{"auth": ""}})
	vm := h.VM(0)
	var streams []*wasmhost.Stream
	for range 3 {
		s := vm.NewStream()
		defer s.Close()
		if r := s.RequestHeaders(get("/p"), true); r.Action != wasmhost.ActionPause {
			t.Fatalf("%+v", r)
		}
		streams = append(streams, s)
	}
	calls := vm.HTTPCalls()
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	// Answer out of order: each response resumes its own stream only.
	calls[1].Respond(200, nil, []byte("one"))
	for i, s := range streams {
		want := wasmhost.ActionPause
		if i == 1 {
			want = wasmhost.ActionContinue
		}
		if got := s.Result().Action; got != want {
			t.Fatalf("stream %d: %v, want %v", i, got, want)
		}
	}
}

func TestTicks(t *testing.T) {
	t.Run("manual", func(t *testing.T) {
		h := newHost(t, "callout", wasmhost.Config{Workers: 2, PluginConfig: []byte("tick=60000")})
		for range 3 {
			if n := h.Tick(); n != 2 {
				t.Fatalf("ticked %d VMs", n)
			}
		}
		if m, _ := h.Metric("ticks"); m.Value != 6 {
			t.Fatalf("ticks = %d", m.Value)
		}
	})
	t.Run("no period", func(t *testing.T) {
		h := newHost(t, "callout", wasmhost.Config{})
		if n := h.Tick(); n != 0 {
			t.Fatalf("ticked %d VMs without a period", n)
		}
	})
	t.Run("auto", func(t *testing.T) {
		h := newHost(t, "callout", wasmhost.Config{AutoTick: true, PluginConfig: []byte("tick=5")})
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m, _ := h.Metric("ticks"); m.Value >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("timer ticks did not arrive")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// Producers on every VM enqueue; the registering VM's proxy_on_queue_ready drains the queue.
func TestSharedQueue(t *testing.T) {
	h := newHost(t, "callout", wasmhost.Config{Workers: 3})
	const n = 30
	for i := range n {
		s := h.NewStream()
		if r := s.RequestHeaders(get("/queue/"+string(rune('a'+i%26))), true); r.Action != wasmhost.ActionContinue {
			t.Fatalf("%+v", r)
		}
		s.Close()
	}
	if err := h.Quiesce(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.Metric("dequeued"); m.Value != n {
		t.Fatalf("dequeued = %d, want %d", m.Value, n)
	}
}
