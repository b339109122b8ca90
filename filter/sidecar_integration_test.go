//go:build !wasip1

package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// These tests run the real filter.wasm against the real turnpike-sidecar
// binary and a real redis-server: the end-to-end path of every request.

var sidecarBin struct {
	once gosync.Once
	dir  string
	path string
	err  error
}

// TestMain runs the suite in both WASI modes of the host (see wasiMode;
// benchmarks run once, in the default mode) and removes the sidecar binary
// built for this test run.
func TestMain(m *testing.M) {
	flag.Parse()
	modes := []wasmhost.WASIMode{wasmhost.WASICppHost533, wasmhost.WASIEnvoy133}
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		modes = modes[:1]
	}
	code := 0
	for _, mode := range modes {
		wasiMode = mode
		if testing.Verbose() {
			fmt.Printf("=== WASI mode %s\n", mode)
		}
		if c := m.Run(); c != 0 {
			fmt.Printf("--- FAIL: the suite in WASI mode %s\n", mode)
			code = c
		}
	}
	if sidecarBin.dir != "" {
		_ = os.RemoveAll(sidecarBin.dir)
	}
	os.Exit(code)
}

func buildSidecar(t testing.TB) string {
	t.Helper()
	sidecarBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "turnpike-sidecar-bin")
		if err != nil {
			sidecarBin.err = err
			return
		}
		sidecarBin.dir = dir
		sidecarBin.path = filepath.Join(dir, "turnpike-sidecar")
		out, err := exec.Command("go", "build", "-o", sidecarBin.path,
			"github.com/turnpike-dev/turnpike/sidecar/cmd/turnpike-sidecar").CombinedOutput()
		if err != nil {
			sidecarBin.err = err
			sidecarBin.path = string(out)
		}
	})
	if sidecarBin.err != nil {
		t.Fatalf("building turnpike-sidecar: %v\n%s", sidecarBin.err, sidecarBin.path)
	}
	return sidecarBin.path
}

const gatewaySecret = "gw-secret"

// realSidecar is a turnpike-sidecar process that a test can stop and
// start again on the same port.
type realSidecar struct {
	t    testing.TB
	args []string
	url  string
	cmd  *exec.Cmd
}

func startRealSidecar(t testing.TB, redisURL string) *realSidecar {
	t.Helper()
	port := testenv.FreePort(t)
	s := &realSidecar{
		t:   t,
		url: "http://127.0.0.1:" + strconv.Itoa(port),
		args: []string{
			"--listen", "127.0.0.1:" + strconv.Itoa(port), "--redis", redisURL,
			"--secret", gatewaySecret, "--filter-token", "test-token",
			"--config-poll", "50ms", "--log-level", "warn",
		},
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *realSidecar) start() {
	s.t.Helper()
	s.cmd = exec.Command(buildSidecar(s.t), s.args...)
	s.cmd.Stderr = testWriter{s.t}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.url + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sidecar not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *realSidecar) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// gw calls the Gateway API and fails the test on a non-2xx answer.
func (s *realSidecar) gw(method, path, body string) string {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("X-Tyk-Authorization", gatewaySecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return string(out)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestWithRealSidecarAndRedis(t *testing.T) {
	if _, err := testenv.RedisBinary(); err != nil {
		t.Fatal(err)
	}
	redis := testenv.StartBackend(t, testenv.RedisOptions{})
	sc := startRealSidecar(t, redis.URL())
	sc.gw("POST", "/tyk/apis", apiJSON)
	sc.gw("POST", "/tyk/policies", `{"id":"gold","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":-1,
		"access_rights":{"api1":{"api_id":"api1","api_name":"API 1","versions":["Default"]}}}`)
	sc.gw("POST", "/tyk/keys/rate-key-1", session(`"rate":10,"per":60,"quota_max":-1`))
	sc.gw("POST", "/tyk/keys/quota-key-1", session(`"quota_max":100,"quota_renewal_rate":3600`))
	sc.gw("POST", "/tyk/keys/doomed-key-1", session(`"quota_max":-1`))
	sc.gw("POST", "/tyk/keys/policy-key-1", `{"org_id":"org1","apply_policies":["gold"]}`)
	h := start(t, sc.url, 4, "")

	t.Run("missing and unknown keys", func(t *testing.T) {
		if o := do(t, h, request("/api1/x", "")); o.status != 401 {
			t.Fatalf("missing key: %d", o.status)
		}
		if o := do(t, h, request("/api1/x", "no-such-key-1")); o.status != 403 ||
			o.body != errorBody("Access to this API has been disallowed") {
			t.Fatalf("unknown key: %d %s", o.status, o.body)
		}
	})

	t.Run("rate 10 admits exactly 10 across 4 VMs", func(t *testing.T) {
		if n := burst(t, h, request("/api1/x", "rate-key-1"), 8, 5).admitted; n != 10 {
			t.Fatalf("admitted %d of 40, want exactly 10", n)
		}
	})

	t.Run("quota 100 admits exactly 100 across 4 VMs and 50 clients", func(t *testing.T) {
		r := burst(t, h, request("/api1/x", "quota-key-1"), 50, 3)
		if r.admitted != 100 || r.quotaExceeded != 50 || len(r.others) != 0 {
			t.Fatalf("admitted %d, exceeded %d, others %q; want 100, 50, none", r.admitted, r.quotaExceeded, r.others)
		}
	})

	t.Run("a deleted key is refused within one second", func(t *testing.T) {
		requireStatus(t, h, request("/api1/x", "doomed-key-1"), 4, 200, "before delete")
		sc.gw("DELETE", "/tyk/keys/doomed-key-1", "")
		took := within(t, h, time.Second, "revocation", func() bool {
			for range 4 { // every VM
				if do(t, h, request("/api1/x", "doomed-key-1")).status != 403 {
					return false
				}
			}
			return true
		})
		t.Logf("revoked on every VM after %v", took)
	})

	t.Run("a policy edit changes the limit within one second", func(t *testing.T) {
		if admitted := countAdmitted(t, h, request("/api1/x", "policy-key-1"), 6); admitted != 3 {
			t.Fatalf("policy rate 3: admitted %d of 6", admitted)
		}
		sc.gw("PUT", "/tyk/policies/gold", `{"id":"gold","org_id":"org1","active":true,"rate":5,"per":60,"quota_max":-1,
			"access_rights":{"api1":{"api_id":"api1","api_name":"API 1","versions":["Default"]}}}`)
		took := within(t, h, time.Second, "policy change", func() bool {
			return do(t, h, request("/api1/x", "policy-key-1")).status == 200
		})
		t.Logf("new limit applied after %v", took)
	})

	t.Run("sidecar stopped and restarted", func(t *testing.T) {
		sc.gw("POST", "/tyk/keys/late-key-1", session(`"quota_max":-1`))
		sc.gw("POST", "/tyk/keys/warm-key-1", session(`"quota_max":-1`))
		requireStatus(t, h, request("/api1/x", "warm-key-1"), 4, 200, "warm-up")
		sc.stop()
		syncNow(t, h)
		requireStatus(t, h, request("/api1/x", "warm-key-1"), 4, 200, "cached key with the sidecar down")
		o := do(t, h, request("/api1/x", "late-key-1"))
		if ra, _ := o.headers.Get("retry-after"); o.status != 503 || ra == "" {
			t.Fatalf("unknown key with the sidecar down: %d %v", o.status, o.headers)
		}
		requireStatus(t, h, request("/api1/x", "quota-key-1"), 1, 503, "quota with the sidecar down (closed)")
		sc.start()
		within(t, h, 5*time.Second, "recovery", func() bool {
			return do(t, h, request("/api1/x", "late-key-1")).status == 200
		})
		if metric(t, h, "turnpike.sidecar.failures.lookup") == 0 || metric(t, h, "turnpike.decision.unavailable") == 0 {
			t.Error("the outage is not visible in the metrics")
		}
	})
}
