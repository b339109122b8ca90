package fault

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/internal/bins"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// Paths of the binaries and filter.wasm, built once in TestMain.
var built struct{ sidecar, gateway, wasm string }

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

func buildAndRun(m *testing.M) int {
	if _, err := testenv.RedisBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "turnpike-fault")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	paths, err := bins.Build(ctx, dir, bins.Sidecar, bins.Gateway)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	built.sidecar, built.gateway = paths[bins.Sidecar], paths[bins.Gateway]
	if built.wasm, err = bins.FilterWasm(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
