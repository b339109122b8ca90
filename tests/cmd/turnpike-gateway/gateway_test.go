package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/flagenv"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

func buildFilter(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := wasmbuild.Build(ctx, filepath.Join("..", "..", "wasmhost", "testdata", name), wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startGateway runs the command in-process on a free port and stops it (gracefully) at cleanup.
func startGateway(t *testing.T, args ...string) string {
	t.Helper()
	url, _ := startGatewayLogs(t, args...)
	return url
}

// startGatewayLogs is startGateway that also returns a function reading the gateway's log.
func startGatewayLogs(t *testing.T, args ...string) (string, func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), noEnv, lockedWriter{&mu, &logs}, func(a net.Addr) { addr <- a })
	}()
	readLogs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
		return "http://" + a.String(), readLogs
	case err := <-done:
		cancel()
		t.Fatalf("gateway exited: %v\n%s", err, readLogs())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("gateway did not start")
	}
	return "", nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func do(t *testing.T, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" { // Go's client sends req.Host, not a Host header
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// echoUpstream answers with what it received: the request headers as x-echo-* response headers
// and the request body; "/fail" answers 500.
func echoUpstream(t *testing.T) (*httptest.Server, *int) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		if r.URL.Path == "/mask" {
			http.Error(w, "boom", 500)
			return
		}
		for k, v := range r.Header {
			w.Header()["X-Echo-"+k] = v
		}
		w.Header().Set("X-Echo-Path", r.URL.RequestURI())
		w.Header().Set("Server", "echo")
		io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestGatewayRunsFilterBothWays(t *testing.T) {
	upstream, hits := echoUpstream(t)
	cfg := filepath.Join(t.TempDir(), "plugin.conf")
	if err := os.WriteFile(cfg, []byte("from-file"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", upstream.URL, "--plugin-config", cfg, "--workers", "2", "--log-level", "warn")

	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		wantBody                 string
		wantHdr                  map[string]string
		absentHdr                []string
	}{
		{name: "mutated both ways", method: "GET", path: "/a?q=1", hdr: []string{"X-Remove", "1", "X-Replace", "old"}, status: 200, wantBody: "", // no body: no body callback, as in Envoy
			wantHdr:   map[string]string{"X-Echo-X-Added": "yes", "X-Echo-X-Replace": "new", "X-Echo-X-Plugin-Config": "from-file", "X-Echo-Path": "/a?q=1", "X-Response-Added": "1"},
			absentHdr: []string{"X-Echo-X-Remove", "Server"}},
		{name: "request body rewritten", method: "POST", path: "/body", body: "hello", status: 200, wantBody: "HELLO!"},
		{name: "local reply", method: "GET", path: "/deny", status: 403, wantBody: `{"error":"denied"}`,
			wantHdr: map[string]string{"X-Deny-Reason": "test", "Content-Type": "application/json"}},
		{name: "response replaced", method: "GET", path: "/mask", status: 502, wantBody: "masked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, gw+tt.path, tt.body, tt.hdr...)
			if resp.StatusCode != tt.status || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.wantBody)
			}
			for k, v := range tt.wantHdr {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.absentHdr {
				if v := resp.Header.Get(k); v != "" {
					t.Errorf("header %s = %q, want absent", k, v)
				}
			}
		})
	}
	if *hits != 3 { // /deny never reached the upstream
		t.Fatalf("upstream hits = %d, want 3", *hits)
	}
}

// The gateway normalizes the path before the filter runs, as Envoy does with normalize_path and
// merge_slashes: the filter decides on, and the upstream gets, the normalized path; a path that
// cannot be normalized safely is answered 400 and reaches neither.
func TestGatewayNormalizesPath(t *testing.T) {
	upstream, hits := echoUpstream(t)
	gw := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", upstream.URL, "--log-level", "warn")

	tests := []struct {
		path     string
		status   int
		wantPath string // the path the upstream got
		wantBody string
	}{
		{path: "/x/../deny", status: 403, wantBody: `{"error":"denied"}`}, // the filter saw /deny
		{path: "//deny", status: 403, wantBody: `{"error":"denied"}`},
		{path: "/a/%2e%2E/deny", status: 403, wantBody: `{"error":"denied"}`},
		{path: "/a/./b//c/..?q=/../", status: 200, wantPath: "/a/b/?q=/../"},
		{path: "/%7euser/caf%c3%a9", status: 200, wantPath: "/~user/caf%C3%A9"},
		{path: "/a%2Cb/c,d", status: 200, wantPath: "/a%2Cb/c,d"}, // forwarded byte for byte
		{path: "/a/b", status: 200, wantPath: "/a/b"},
		{path: "/demo/../../api3/x", status: 400, wantBody: `{"error":"path climbs above the root with .."}`},
		{path: "/demo/%2e%2e/%2e%2e/api3", status: 400, wantBody: `{"error":"path climbs above the root with .."}`},
		{path: "/demo/..%2Fapi3", status: 400, wantBody: `{"error":"path contains an encoded slash (%2F)"}`},
		{path: "/demo/..%5capi3", status: 400, wantBody: `{"error":"path contains a backslash (raw or %5C)"}`},
		{path: "/demo/%00", status: 400, wantBody: `{"error":"path contains a NUL byte (raw or %00)"}`},
		{path: "/demo/..;/api3", status: 400, wantBody: `{"error":"path contains a dot segment with parameters (..;)"}`},
	}
	wantHits := 0
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := do(t, "GET", gw+tt.path, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if tt.status == 400 {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content-type %q", ct)
				}
			}
			if got := resp.Header.Get("X-Echo-Path"); got != tt.wantPath {
				t.Errorf("upstream got path %q, want %q", got, tt.wantPath)
			}
		})
		if tt.status == 200 {
			wantHits++
		}
	}

	// A raw fragment (Go's client never sends one): the filter would see /api3#/demo/x, which
	// matches no API, while the upstream would get /api3.
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api3#/demo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(raw, []byte("HTTP/1.1 400 ")) || !bytes.HasSuffix(raw, []byte(`{"error":"path contains a fragment (#)"}`)) {
		t.Errorf("fragment: got %q", raw)
	}

	if *hits != wantHits {
		t.Fatalf("upstream hits = %d, want %d", *hits, wantHits)
	}
}

// With one worker, a request paused on a slow http call must not block the next request.
func TestGatewayPausedStreamFreesWorker(t *testing.T) {
	upstream, _ := echoUpstream(t)
	release, arrived := make(chan struct{}), make(chan struct{})
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/check/slow" {
			close(arrived)
			<-release
		}
		w.Write([]byte("user-" + strings.TrimPrefix(r.URL.Path, "/check/")))
	}))
	defer auth.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	gw := startGateway(t, "--wasm", buildFilter(t, "callout"), "--upstream", upstream.URL, "--cluster", "auth="+auth.URL, "--workers", "1")

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(gw + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		slow <- resp.Header.Get("X-Echo-X-Auth")
	}()
	// Once the slow request's call is at the auth server, its stream is paused on the only VM.
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("slow call never reached the auth server")
	}
	resp, _ := do(t, "GET", gw+"/fast", "")
	if got := resp.Header.Get("X-Echo-X-Auth"); resp.StatusCode != 200 || got != "user-fast" {
		t.Fatalf("fast request: %d x-auth %q", resp.StatusCode, got)
	}
	if got := resp.Header.Get("X-Callout-Filter"); got != "1" {
		t.Fatalf("response callbacks did not run: %q", got)
	}
	close(release)
	select {
	case got := <-slow:
		if got != "user-slow" {
			t.Fatalf("slow request: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow request never finished")
	}
}

func TestGatewayFlags(t *testing.T) {
	wasm := buildFilter(t, "headers")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing wasm", nil, "--wasm is required"},
		{"bad cluster", []string{"--wasm", wasm, "--cluster", "auth"}, "want NAME=URL"},
		{"bad cluster url", []string{"--wasm", wasm, "--cluster", "auth=ftp://x"}, "want an http(s) URL"},
		{"bad workers", []string{"--wasm", wasm, "--workers", "0"}, "need at least 1"},
		{"bad log level", []string{"--wasm", wasm, "--log-level", "loud"}, "--log-level"},
		{"bad upstream", []string{"--wasm", wasm, "--upstream", "localhost:80"}, "--upstream"},
		{"bad pool size", []string{"--wasm", wasm, "--max-idle-conns-per-host", "0"}, "need at least 1"},
		{"bad upstream ca", []string{"--wasm", wasm, "--upstream-ca", writeTemp(t, "not pem")}, "no PEM certificate"},
		{"cert without key", []string{"--wasm", wasm, "--tls-cert", "c.pem"}, "go together"},
		{"client ca without tls", []string{"--wasm", wasm, "--client-ca", "ca.pem"}, "--client-ca needs --tls-cert"},
		{"wasm and config", []string{"--wasm", wasm, "--config", "x.yaml"}, "exclude each other"},
		{"bad wasi mode", []string{"--wasm", wasm, "--wasi-mode", "x"}, "--wasi-mode"},
		{"missing file", []string{"--wasm", "/nonexistent.wasm"}, "no such file"},
		{"plugin rejects config", []string{"--wasm", wasm, "--plugin-config", writeTemp(t, "fail-configure")}, "proxy_on_configure returned false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"--listen", "127.0.0.1:0"}, tt.args...), noEnv, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func noEnv(string) string { return "" }

// Every flag has a TURNPIKE_GATEWAY_* variable; a flag on the command line wins.
func TestGatewayEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o *options)
		wantErr string
	}{
		{name: "variables set the options",
			env: map[string]string{"TURNPIKE_GATEWAY_WASM": "f.wasm", "TURNPIKE_GATEWAY_LISTEN": ":9",
				"TURNPIKE_GATEWAY_WORKERS": "3", "TURNPIKE_GATEWAY_FAIL_OPEN": "true",
				"TURNPIKE_GATEWAY_CLUSTER": "auth=http://a:1,quota=http://q:2", "TURNPIKE_GATEWAY_MAX_BODY": "10"},
			check: func(t *testing.T, o *options) {
				if o.wasm != "f.wasm" || o.listen != ":9" || o.workers != 3 || !o.failOpen || o.maxBody != 10 ||
					o.clusters.String() != "auth=http://a:1,quota=http://q:2" {
					t.Errorf("options %+v", o)
				}
			}},
		{name: "flags win", args: []string{"--workers", "5", "--cluster", "x=http://x:1"},
			env: map[string]string{"TURNPIKE_GATEWAY_WASM": "f.wasm", "TURNPIKE_GATEWAY_WORKERS": "3",
				"TURNPIKE_GATEWAY_CLUSTER": "auth=http://a:1"},
			check: func(t *testing.T, o *options) {
				if o.workers != 5 || o.clusters.String() != "x=http://x:1" {
					t.Errorf("workers %d, clusters %s", o.workers, o.clusters)
				}
			}},
		{name: "bad variable", env: map[string]string{"TURNPIKE_GATEWAY_WASM": "f.wasm", "TURNPIKE_GATEWAY_WORKERS": "0"},
			wantErr: "--workers 0: need at least 1"},
		{name: "bad cluster variable", env: map[string]string{"TURNPIKE_GATEWAY_WASM": "f.wasm", "TURNPIKE_GATEWAY_CLUSTER": "auth"},
			wantErr: "want NAME=URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestGatewayHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, noEnv, &out); !errors.Is(err, flagenv.ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	s := settings(&options{clusters: clusterFlag{}})
	for _, st := range s.Settings {
		if want := "--" + st.Name; !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
		if want := "TURNPIKE_GATEWAY_" + strings.ToUpper(strings.ReplaceAll(st.Name, "-", "_")); !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
