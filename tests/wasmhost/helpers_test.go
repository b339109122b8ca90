package wasmhost_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

var (
	modulesMu sync.Mutex
	modules   = map[string][]byte{}
)

// filter builds testdata/<name> once per process (and once per source change across runs).
func filter(t testing.TB, name string) []byte {
	t.Helper()
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if b, ok := modules[name]; ok {
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, filepath.Join("testdata", name), wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	modules[name] = b
	return b
}

// newHost loads the named test filter and closes the host when the test ends.
func newHost(t testing.TB, name string, cfg wasmhost.Config) *wasmhost.Host {
	t.Helper()
	cfg.Wasm = filter(t, name)
	h, err := wasmhost.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func get(path string, extra ...[2]string) wasmhost.Headers {
	h := wasmhost.Headers{{":method", "GET"}, {":path", path}, {":authority", "example.com"}, {":scheme", "http"}}
	return append(h, extra...)
}

func mustHeader(t testing.TB, h wasmhost.Headers, key, want string) {
	t.Helper()
	if got, ok := h.Get(key); !ok || got != want {
		t.Fatalf("header %s = %q (present %v), want %q; headers %q", key, got, ok, want, h)
	}
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// buildCommand builds testdata/<name> as a WASI command (exports _start).
func buildCommand(t testing.TB, name string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, filepath.Join("testdata", name), wasmbuild.Options{Command: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
