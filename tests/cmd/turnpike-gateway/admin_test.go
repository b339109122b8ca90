package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The admin listener: /ready, and /stats/prometheus with the filter's metrics exactly as
// Envoy's admin renders Wasm metrics (prometheus.go): the three metric types in Envoy's order,
// no envoy_ prefix, no labels, Envoy's default histogram buckets and its bin-midpoint sum.
func TestGatewayAdmin(t *testing.T) {
	upstream, _ := echoUpstream(t)
	adminAddr := freeAddr(t)
	gw := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", upstream.URL, "--log-level", "warn",
		"--admin-listen", adminAddr, "--workers", "2")
	for range 3 {
		do(t, "GET", gw+"/abcdefghijk", "") // path_len records 12 three times
	}
	if code, body := get(t, "http://"+adminAddr+"/ready"); code != 200 || body != "LIVE\n" {
		t.Fatalf("/ready: %d %q", code, body)
	}
	_, text := get(t, "http://"+adminAddr+"/stats/prometheus")
	var buckets strings.Builder
	for _, le := range []string{"0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000",
		"10000", "30000", "60000", "300000", "600000", "1800000", "3600000"} {
		n := 3
		if le == "0.5" || le == "1" || le == "5" || le == "10" {
			n = 0
		}
		fmt.Fprintf(&buckets, "path_len_bucket{le=%q} %d\n", le, n)
	}
	want := "# TYPE requests_total counter\nrequests_total{} 3\n" +
		"# TYPE inflight gauge\ninflight{} 0\n" +
		"# TYPE path_len histogram\n" + buckets.String() +
		"path_len_bucket{le=\"+Inf\"} 3\npath_len_sum{} 37.5\npath_len_count{} 3\n"
	if text != want {
		t.Errorf("/stats/prometheus:\n%s\nwant:\n%s", text, want)
	}
}

// Shutdown drains: /ready turns 503 DRAINING, a request in flight completes, new connections
// are refused; every request gets one access log line.
func TestGatewayGracefulShutdownAndAccessLog(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	var once sync.Once
	upstream := newSlowUpstream(t, arrived, release, &once)
	adminAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--wasm", buildFilter(t, "headers"), "--upstream", upstream,
			"--admin-listen", adminAddr, "--log-level", "info"}, noEnv, lockedWriter{&mu, &logs}, func(a net.Addr) { addr <- a })
	}()
	gw := "http://" + (<-addr).String()

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(gw + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- resp.Status + " " + string(b)
	}()
	<-arrived
	cancel() // SIGTERM
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, body := get(t, "http://"+adminAddr+"/ready"); code == 503 && body == "DRAINING\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/ready never said DRAINING")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-slow; got != "200 OK slow done!" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=access") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "method=GET path=/slow status=200") ||
		!strings.Contains(lines[0], "upstream="+strings.TrimPrefix(upstream, "http://")) {
		t.Fatalf("access log lines %q", lines)
	}
}

func newSlowUpstream(t *testing.T, arrived, release chan struct{}, once *sync.Once) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release
		w.Write([]byte("slow done"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// --pprof adds Go's profiles to the admin listener; without it they are not served.
func TestAdminPprof(t *testing.T) {
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{false, http.StatusNotFound}, {true, http.StatusOK}} {
		srv := httptest.NewServer((&admin{pprof: tc.pprof}).handler())
		if code, _ := get(t, srv.URL+"/debug/pprof/cmdline"); code != tc.want {
			t.Errorf("pprof %v: /debug/pprof/cmdline %d, want %d", tc.pprof, code, tc.want)
		}
		srv.Close()
	}
}
