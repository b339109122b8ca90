package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
)

// With --metrics-listen, /metrics is served only on its own listener and the
// main listener answers it 404; everything else stays on the main listener.
func TestMetricsListenSeparatesMetrics(t *testing.T) {
	cfg := config.Config{Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Secret: secret, FilterToken: token,
		MaxBodyBytes: 1024, RedisTimeout: time.Second, ConfigPoll: 20 * time.Millisecond, ShutdownTimeout: time.Second}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ln, metricsLn := listen(), listen()
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln, metricsLn) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return after cancel")
		}
		a.Close()
	}()

	get := func(ln net.Listener, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name string
		ln   net.Listener
		path string
		code int
		want string
	}{
		{"metrics on the metrics listener", metricsLn, "/metrics", 200, "turnpike_sidecar_ready"},
		{"no metrics on the main listener", ln, "/metrics", 404, ""},
		{"health on the main listener", ln, "/hello", 200, ""},
		{"nothing else on the metrics listener", metricsLn, "/hello", 404, ""},
		{"no Gateway API on the metrics listener", metricsLn, "/tyk/keys", 404, ""},
	} {
		code, body := get(c.ln, c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: GET %s = %d %.80q; want %d containing %q", c.name, c.path, code, body, c.code, c.want)
		}
	}
	if a.MetricsHandler() == nil {
		t.Error("MetricsHandler is nil with MetricsListen set")
	}
}

func TestRunReportsABadMetricsAddress(t *testing.T) {
	cfg := config.Config{Listen: "127.0.0.1:0", MetricsListen: "256.0.0.1:1", Secret: secret, FilterToken: token,
		MaxBodyBytes: 1024, RedisTimeout: time.Second, ConfigPoll: 20 * time.Millisecond, ShutdownTimeout: time.Second}
	err := Run(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("err = %v, want it to name --metrics-listen", err)
	}
}
