//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

// The harness of every test that runs the real filter.wasm: in the wazero
// proxy-wasm host (tests/wasmhost) with several VMs sharing one shared-data
// store, as Envoy's workers do, against the in-memory fake sidecar
// (integration_test.go) or the real sidecar and Redis
// (sidecar_integration_test.go); abi_test.go inspects the same module.

// apiJSON is the API most tests protect: key-authenticated, unversioned,
// listening on /api1/.
const apiJSON = `{"api_id":"api1","name":"API 1","org_id":"org1","active":true,
	"proxy":{"listen_path":"/api1/","target_url":"http://upstream"},
	"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`

// session returns a session JSON for api1 with the given extra root fields.
func session(extra string) string {
	s := `{"org_id":"org1","access_rights":{"api1":{"api_id":"api1","api_name":"API 1","versions":["Default"]}}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// filterWasm builds this package the way the release build does
// (GOOS=wasip1, -buildmode=c-shared). wasmbuild caches the module by a hash
// of its sources, so all tests of a run, and later runs, share one build.
func filterWasm(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, ".", wasmbuild.Options{})
	if err != nil {
		t.Fatalf("building filter.wasm: %v", err)
	}
	return path
}

// wasiMode is the WASI surface start loads the filter with. TestMain runs
// the whole suite once per mode: Envoy with proxy-wasm-cpp-host PR #533
// (every WASI call stubbed, poll_oneoff answers "no events") and Envoy 1.33
// (cpp-host PR #427 only: poll_oneoff answers ENOSYS and a Go runtime that
// calls it dies). The filter must pass both; TestFilterNeverCallsPollOneoff
// is the direct guard.
var wasiMode = wasmhost.WASICppHost533

// start loads the filter with workers VMs against the sidecar at
// sidecarURL and waits for the first sync. extra is spliced into the plugin
// configuration.
func start(t testing.TB, sidecarURL string, workers int, extra string) *wasmhost.Host {
	t.Helper()
	return startEnv(t, sidecarURL, workers, extra, nil)
}

// startEnv is start with guest environment variables (Envoy's
// vm_config.environment_variables), e.g. GODEBUG.
func startEnv(t testing.TB, sidecarURL string, workers int, extra string, env map[string]string) *wasmhost.Host {
	t.Helper()
	cfg := `{"sidecar":{"token":"test-token","timeout_ms":2000},"sync_interval_ms":50` + extra + `}`
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{
		WasmFile:     filterWasm(t),
		PluginConfig: []byte(cfg),
		Workers:      workers,
		Clusters:     map[string]string{"turnpike-sidecar": sidecarURL},
		WASIMode:     wasiMode,
		Env:          env,
	})
	if err != nil {
		t.Fatalf("loading the filter: %v", err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	syncNow(t, h)
	return h
}

// syncNow runs one tick on every VM and waits for the sync polls to finish.
func syncNow(t testing.TB, h *wasmhost.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Quiesce(ctx); err != nil {
		t.Fatal(err)
	}
	h.Tick()
	if err := h.Quiesce(ctx); err != nil {
		t.Fatal(err)
	}
}

// within ticks the filter until cond holds, fails after limit, and returns
// how long it took.
func within(t testing.TB, h *wasmhost.Host, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(25 * time.Millisecond)
		syncNow(t, h)
	}
	return time.Since(start)
}

type outcome struct {
	status  int              // 200 when forwarded
	headers wasmhost.Headers // local reply headers, or the response headers after the filter
	body    string           // local reply body
	req     wasmhost.Headers // request headers as forwarded
}

func request(path, key string) wasmhost.Headers {
	h := wasmhost.Headers{{":method", "GET"}, {":path", path}, {":authority", "example.com"}}
	if key != "" {
		h = append(h, [2]string{"authorization", key})
	}
	return h
}

// do runs one request through the next VM (round robin), and the upstream
// answer through the filter when the request was forwarded.
func do(t testing.TB, h *wasmhost.Host, hdrs wasmhost.Headers) outcome {
	t.Helper()
	o, err := try(h, hdrs)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// try is do for goroutines, which must not call t.Fatal: it returns what
// went wrong instead.
func try(h *wasmhost.Host, hdrs wasmhost.Headers) (outcome, error) {
	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(hdrs, true)
	if res.Action == wasmhost.ActionPause {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if res, err = s.Wait(ctx); err != nil {
			return outcome{}, fmt.Errorf("request still paused: %w", err)
		}
	}
	switch res.Action {
	case wasmhost.ActionLocalReply:
		return outcome{status: res.Reply.Status, headers: res.Reply.Headers, body: string(res.Reply.Body)}, nil
	case wasmhost.ActionContinue:
		req := s.Request().Headers
		if r := s.ResponseHeaders(wasmhost.Headers{{":status", "200"}}, true); r.Action != wasmhost.ActionContinue {
			return outcome{}, fmt.Errorf("response headers: %v", r.Action)
		}
		return outcome{status: 200, headers: s.Response().Headers, req: req}, nil
	}
	return outcome{}, fmt.Errorf("unexpected action %v", res.Action)
}

// requireStatus sends the same request n times and fails on the first
// answer whose status is not want.
func requireStatus(t testing.TB, h *wasmhost.Host, hdrs wasmhost.Headers, n, want int, what string) {
	t.Helper()
	for i := range n {
		if o := do(t, h, hdrs); o.status != want {
			t.Fatalf("%s: request %d of %d: status %d %s, want %d", what, i+1, n, o.status, o.body, want)
		}
	}
}

// countAdmitted sends the same request n times, one after the other, and
// counts those forwarded.
func countAdmitted(t testing.TB, h *wasmhost.Host, hdrs wasmhost.Headers, n int) int {
	t.Helper()
	admitted := 0
	for range n {
		if do(t, h, hdrs).status == 200 {
			admitted++
		}
	}
	return admitted
}

// burstResult sorts the answers to a burst.
type burstResult struct {
	admitted      int      // forwarded
	quotaExceeded int      // Tyk's 403 "Quota exceeded"
	others        []string // anything else, as "status body"
}

// burst sends the same request from clients goroutines, each times in a
// row, and sorts the answers: concurrency across VMs is what exact limits
// must survive.
func burst(t testing.TB, h *wasmhost.Host, hdrs wasmhost.Headers, clients, each int) burstResult {
	var (
		mu  sync.Mutex
		res burstResult
		wg  sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				o, err := try(h, hdrs)
				mu.Lock()
				switch {
				case err != nil:
					res.others = append(res.others, "error: "+err.Error())
				case o.status == 200:
					res.admitted++
				case o.status == 403 && o.body == errorBody("Quota exceeded"):
					res.quotaExceeded++
				default:
					res.others = append(res.others, strconv.Itoa(o.status)+" "+o.body)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return res
}

// errorBody is the body of the filter's JSON error replies, laid out as
// Tyk lays it out.
func errorBody(msg string) string { return "{\n    \"error\": \"" + msg + "\"\n}" }

// metric is the value of the named counter or gauge (one metric per name
// across VMs, as in Envoy), 0 if no VM defined it. The filter hands its
// counts to the host once per tick, so metric ticks first (syncNow).
func metric(t testing.TB, h *wasmhost.Host, name string) int64 {
	t.Helper()
	syncNow(t, h)
	return hostMetric(h, name)
}

// hostMetric is the value the host holds now, without a tick.
func hostMetric(h *wasmhost.Host, name string) int64 {
	m, ok := h.Metric(name)
	if !ok {
		return 0
	}
	return m.Value
}
