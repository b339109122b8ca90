package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

const (
	secret = "test-secret"
	token  = "test-filter-token"
)

// sidecar is one running instance behind an httptest server.
type sidecar struct {
	t   *testing.T
	app *App
	srv *httptest.Server
}

// start runs a sidecar on redisURL ("" = embedded) and waits until ready.
func start(t *testing.T, redisURL string, edit ...func(*config.Config)) *sidecar {
	t.Helper()
	s := launch(t, redisURL, edit...)
	deadline := time.Now().Add(10 * time.Second)
	for s.app.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready: %v", s.app.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

// launch runs a sidecar on redisURL without waiting for it to be ready.
func launch(t *testing.T, redisURL string, edit ...func(*config.Config)) *sidecar {
	t.Helper()
	cfg := config.Config{
		Listen: "unused", RedisURL: redisURL, Secret: secret, FilterToken: token, MaxBodyBytes: 1 << 20,
		ShutdownTimeout: time.Second, RedisTimeout: time.Second, ConfigPoll: 20 * time.Millisecond,
	}
	for _, e := range edit {
		e(&cfg)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	s := &sidecar{t: t, app: a, srv: httptest.NewServer(a.Handler())}
	t.Cleanup(func() { s.srv.Close(); cancel(); a.Close() })
	return s
}

// backends runs f against a real redis-server and against the embedded store.
func backends(t *testing.T, f func(t *testing.T, redisURL string)) {
	t.Run("redis-server", func(t *testing.T) {
		f(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	})
	t.Run("embedded", func(t *testing.T) { f(t, "") })
}

type reply struct {
	code   int
	body   []byte
	header http.Header
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request with the given auth header (name: value).
func (s *sidecar) do(method, path, body string, header ...string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b, resp.Header}
}

// tyk calls the Gateway API with the secret.
func (s *sidecar) tyk(method, path, body string) reply {
	s.t.Helper()
	return s.do(method, path, body, "X-Tyk-Authorization", secret)
}

// filter calls the Filter API with the token.
func (s *sidecar) filter(method, path, body string) reply {
	s.t.Helper()
	return s.do(method, path, body, "X-Turnpike-Filter-Token", token)
}

// expect checks status and, if want is non-empty, that the body contains it.
func expect(t *testing.T, what string, r reply, code int, want string) {
	t.Helper()
	if r.code != code || (want != "" && !bytes.Contains(r.body, []byte(want))) {
		t.Fatalf("%s: got %d %s; want %d containing %q", what, r.code, r.body, code, want)
	}
}
