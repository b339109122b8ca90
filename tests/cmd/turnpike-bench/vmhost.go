package main

import (
	"context"
	"fmt"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// loadFilter starts filter.wasm in-process with workers VMs sharing one
// shared-data store, against the env's sidecar, and waits for the first
// sync on every VM.
func loadFilter(ctx context.Context, e *env, wasm string, workers int, extra string) (*wasmhost.Host, error) {
	h, err := wasmhost.New(ctx, wasmhost.Config{
		WasmFile:     wasm,
		PluginConfig: []byte(filterConfig(extra)),
		Workers:      workers,
		Clusters:     map[string]string{"turnpike-sidecar": e.sidecarURL},
		AutoTick:     true,
	})
	if err != nil {
		return nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	h.Tick()
	if err := h.Quiesce(qctx); err != nil {
		_ = h.Close(ctx)
		return nil, err
	}
	return h, nil
}

// decide runs one request through the next VM to the end and returns the
// status (200 when forwarded).
func decide(ctx context.Context, h *wasmhost.Host, key string) (int, error) {
	hdrs := wasmhost.Headers{{":method", "GET"}, {":path", "/bench/items"}, {":authority", "bench"}}
	if key != "" {
		hdrs = append(hdrs, [2]string{"authorization", key})
	}
	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(hdrs, true)
	if res.Action == wasmhost.ActionPause {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		res, err = s.Wait(wctx)
		cancel()
		if err != nil {
			return 0, err
		}
	}
	switch res.Action {
	case wasmhost.ActionLocalReply:
		return res.Reply.Status, nil
	case wasmhost.ActionContinue:
		s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, true)
		return 200, nil
	}
	return 0, fmt.Errorf("unexpected action %v (VM error %v)", res.Action, s.VM().Err())
}
