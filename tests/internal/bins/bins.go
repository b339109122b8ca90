// Package bins builds Turnpike's binaries and filter.wasm for tests that run
// them as real processes, so those tests do not depend on `make build`
// having run (or on its output being current).
package bins

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

// Commands of this repository, as import paths.
const (
	Sidecar    = "github.com/turnpike-dev/turnpike/sidecar/cmd/turnpike-sidecar"
	Gateway    = "github.com/turnpike-dev/turnpike/tests/cmd/turnpike-gateway"
	Quickstart = "github.com/turnpike-dev/turnpike/tests/cmd/turnpike-quickstart"
)

// Build compiles the main packages pkgs into dir with one `go build` (the
// packages compile in parallel and share the build cache) and returns the
// path of each binary by package.
func Build(ctx context.Context, dir string, pkgs ...string) (map[string]string, error) {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, wasmbuild.GoTool(), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %v: %v\n%s", pkgs, err, out)
	}
	paths := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		paths[p] = filepath.Join(dir, filepath.Base(p))
		if _, err := os.Stat(paths[p]); err != nil {
			return nil, fmt.Errorf("go build %s: %w", p, err)
		}
	}
	return paths, nil
}

// FilterWasm builds filter.wasm (cached by source content across test
// runs) and returns its path.
func FilterWasm(ctx context.Context) (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	return wasmbuild.Build(ctx, filepath.Join(root, "filter"), wasmbuild.Options{})
}

// Suite is what RunSuite built: the sidecar, the gateway and filter.wasm.
type Suite struct{ Sidecar, Gateway, Wasm string }

// RunSuite is the TestMain of a suite that runs Turnpike as real processes
// (tests/e2e, tests/fault): it checks that redis-server is installed, builds
// the sidecar, the gateway and filter.wasm once into a temporary directory
// named after the suite, stores their paths in *into, runs the tests and
// returns the exit code.
func RunSuite(m *testing.M, name string, into *Suite) int {
	if _, err := testenv.RedisBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "turnpike-"+name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	paths, err := Build(ctx, dir, Sidecar, Gateway)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	into.Sidecar, into.Gateway = paths[Sidecar], paths[Gateway]
	if into.Wasm, err = FilterWasm(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
