package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/internal/bins"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// quickstart is a running turnpike-quickstart binary.
type quickstart struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid after exited
	stdout  *lockedBuffer
	stderr  *lockedBuffer
	gateway string // host:port
	api     string
}

// Built once per test binary, in the layout `make bins` produces.
var binDir, wasmFile string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "turnpike-quickstart-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if _, err := bins.Build(ctx, dir, bins.Sidecar, bins.Gateway, bins.Quickstart); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if wasmFile, err = bins.FilterWasm(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	return m.Run()
}

func startQuickstart(t *testing.T, env []string, args ...string) *quickstart {
	t.Helper()
	q := &quickstart{
		exited:  make(chan struct{}),
		stdout:  &lockedBuffer{},
		stderr:  &lockedBuffer{},
		gateway: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		api:     "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
	}
	args = append([]string{"--gateway-listen", q.gateway, "--api-listen", q.api, "--wasm", wasmFile}, args...)
	q.cmd = exec.Command(filepath.Join(binDir, "turnpike-quickstart"), args...)
	q.cmd.Env = append(os.Environ(), env...)
	q.cmd.Stdout, q.cmd.Stderr = q.stdout, q.stderr
	if err := q.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		q.waitErr = q.cmd.Wait()
		close(q.exited)
	}()
	t.Cleanup(func() {
		_ = q.cmd.Process.Kill() // no-op after a clean exit
		<-q.exited
		if t.Failed() {
			t.Logf("quickstart stdout:\n%s\nquickstart stderr:\n%s", q.stdout, q.stderr)
		}
	})
	return q
}

// exports waits for the guide and returns its `export NAME=value` lines.
func (q *quickstart) exports(t *testing.T) map[string]string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // the first gateway start compiles filter.wasm
	for !strings.Contains(q.stdout.String(), "Press Ctrl-C to stop.") {
		if time.Now().After(deadline) {
			t.Fatal("the quickstart printed no guide within 3 minutes")
		}
		select {
		case <-q.exited:
			t.Fatalf("the quickstart exited: %v", q.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(q.stdout.String()))
	for sc.Scan() {
		if name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && strings.HasPrefix(sc.Text(), "export ") {
			vars[name] = value
		}
	}
	return vars
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code.
func (q *quickstart) interrupt(t *testing.T) int {
	t.Helper()
	if err := q.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.exited:
		return q.exitCode(t)
	case <-time.After(45 * time.Second):
		t.Fatal("the quickstart did not exit within 45 s of SIGINT")
		return -1
	}
}

// exitCode is the exit status once the process has exited.
func (q *quickstart) exitCode(t *testing.T) int {
	t.Helper()
	<-q.exited
	var ee *exec.ExitError
	if errors.As(q.waitErr, &ee) {
		return ee.ExitCode()
	}
	if q.waitErr != nil {
		t.Fatal(q.waitErr)
	}
	return 0
}

type reply struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, url, key string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestQuickstartScenariosAndCleanStop(t *testing.T) {
	// TURNPIKE_SECRET unset: the quickstart generates and prints one.
	q := startQuickstart(t, []string{"TURNPIKE_SECRET="})
	vars := q.exports(t)
	secret, key := vars["TURNPIKE_SECRET"], vars["KEY"]
	if len(secret) != 32 || !strings.HasPrefix(key, "tp_") {
		t.Fatalf("printed secret %q and key %q; want a 32-hex secret and a generated tp_ key", secret, key)
	}
	if !strings.Contains(q.stdout.String(), "TURNPIKE_SECRET was not set; generated one for this run.") {
		t.Errorf("the guide does not say the secret was generated:\n%s", q.stdout)
	}
	url := "http://" + q.gateway + demoPath

	// Every printed curl command names the gateway the test started.
	for _, s := range scenarios("$KEY") {
		if c := s.curl(displayAddr(q.gateway)); !strings.Contains(q.stdout.String(), c) {
			t.Errorf("the guide lacks %q", c)
		}
	}

	ss := scenarios(key)
	t.Run("200", func(t *testing.T) {
		r := get(t, url, ss[0].key)
		if r.status != ss[0].status {
			t.Fatalf("status %d, want %d: %s", r.status, ss[0].status, r.body)
		}
		var echo echoReply
		if err := json.Unmarshal([]byte(r.body), &echo); err != nil {
			t.Fatalf("echo body %q: %v", r.body, err)
		}
		if echo.Path != demoPath || echo.Method != "GET" {
			t.Errorf("upstream saw %s %s, want GET %s", echo.Method, echo.Path, demoPath)
		}
		if _, leaked := echo.Headers["Authorization"]; leaked {
			t.Errorf("the key reached the upstream (strip_credential is on in demo/plugin-config.json)")
		}
		// The demo policy's quota: 100 per hour, one used.
		for h, want := range map[string]string{"X-Ratelimit-Limit": "100", "X-Ratelimit-Remaining": "99"} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
	})
	t.Run("401", func(t *testing.T) {
		r := get(t, url, ss[1].key)
		if r.status != ss[1].status || r.body != tykError("Authorization field missing") {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("403", func(t *testing.T) {
		r := get(t, url, ss[2].key)
		if r.status != ss[2].status || r.body != tykError("Access to this API has been disallowed") {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("create a key and burst over the rate", func(t *testing.T) {
		// The printed Gateway API command, then the 429 scenario on that
		// fresh key: exactly the policy's 5 pass, the 6th is limited.
		req, _ := http.NewRequest(http.MethodPost, "http://"+q.api+"/tyk/keys", bytes.NewReader(demoKey))
		req.Header.Set("X-Tyk-Authorization", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var created struct{ Key, Status, Action string }
		err = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || created.Status != "ok" || created.Action != "added" || created.Key == "" {
			t.Fatalf("create key: %d %+v %v", resp.StatusCode, created, err)
		}
		burst := ss[3]
		var got []int
		var last reply
		for range burst.times {
			last = get(t, url, created.Key)
			got = append(got, last.status)
		}
		want := []int{200, 200, 200, 200, 200, burst.status}
		if !slices.Equal(got, want) {
			t.Fatalf("statuses %v, want %v", got, want)
		}
		if last.body != tykError("Rate Limit Exceeded") || last.header.Get("Retry-After") == "" {
			t.Errorf("429 body %q, Retry-After %q", last.body, last.header.Get("Retry-After"))
		}
	})

	if code := q.interrupt(t); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
	if !strings.Contains(q.stderr.String(), "[quickstart] stopped") {
		t.Errorf("no clean-stop message in stderr")
	}
	// The children are gone: their ports are free again.
	for _, addr := range []string{q.gateway, q.api} {
		if err := checkFree(addr); err != nil {
			t.Errorf("%s still in use after the quickstart exited: %v", addr, err)
		}
	}
}

func TestQuickstartRefusesBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	q := startQuickstart(t, nil, "--api-listen", busy.Addr().String())
	if code := q.exitCode(t); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	want := busy.Addr().String() + " is not free"
	if !strings.Contains(q.stderr.String(), want) || !strings.Contains(q.stderr.String(), "--api-listen") {
		t.Fatalf("stderr %q lacks %q and the flag to change", q.stderr, want)
	}
}

func TestDisplayAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:8080", "localhost:8080"},
		{":8090", "localhost:8090"},
		{"[::1]:8080", "localhost:8080"},
		{"10.0.0.5:80", "10.0.0.5:80"},
		{"not an address", "not an address"},
	} {
		if got := displayAddr(tc.in); got != tc.want {
			t.Errorf("displayAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPluginConfigCarriesToken(t *testing.T) {
	b, err := pluginConfig("tok-123")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Sidecar struct{ Cluster, Token string }
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Sidecar.Token != "tok-123" || cfg.Sidecar.Cluster != "turnpike-sidecar" {
		t.Fatalf("sidecar = %+v", cfg.Sidecar)
	}
}

// tykError is the filter's error body: Tyk's template, 4-space indent.
func tykError(msg string) string { return "{\n    \"error\": \"" + msg + "\"\n}" }

// lockedBuffer is an io.Writer safe for the exec copier and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With --redis the state is in that Redis: a second run against it still
// knows the first run's key, and seeding again is harmless.
func TestQuickstartWithRedisKeepsState(t *testing.T) {
	redis := testenv.StartRedis(t, testenv.RedisOptions{})
	env := []string{"TURNPIKE_SECRET=fixed-secret"}

	first := startQuickstart(t, env, "--redis", redis.URL())
	firstKey := first.exports(t)["KEY"]
	if code := first.interrupt(t); code != 0 {
		t.Fatalf("first run: exit code %d after SIGINT", code)
	}

	second := startQuickstart(t, env, "--redis", redis.URL())
	vars := second.exports(t)
	if vars["TURNPIKE_SECRET"] != "fixed-secret" || strings.Contains(second.stdout.String(), "generated one") {
		t.Fatalf("second run did not use TURNPIKE_SECRET: %v", vars)
	}
	if vars["KEY"] == firstKey {
		t.Fatalf("second run printed the first run's key %q; want a new one", firstKey)
	}
	for _, key := range []string{firstKey, vars["KEY"]} {
		if r := get(t, "http://"+second.gateway+demoPath, key); r.status != 200 {
			t.Errorf("key %q in the second run: %d %s", key, r.status, r.body)
		}
	}
	if code := second.interrupt(t); code != 0 {
		t.Fatalf("second run: exit code %d after SIGINT", code)
	}
}
