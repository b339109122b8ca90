// Package wasmbuild compiles a Go main package into a proxy-wasm module (a WASI reactor:
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) for tests, caching the result by the
// content of every non-standard-library source file the package depends on, so repeated test runs
// do not pay for linking again.
package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Options tune a build. The zero value builds a reactor into the default cache directory.
type Options struct {
	// CacheDir holds built modules; default os.UserCacheDir()/turnpike-wasmbuild (or a temp dir
	// if there is no user cache directory).
	CacheDir string
	// Command builds a WASI command (exports _start) instead of a reactor.
	Command bool
	// Env is added to the go command's environment (e.g. GOFLAGS).
	Env []string
}

var (
	mu       sync.Mutex
	inFlight = map[string]*result{} // dir+mode -> one build per process
)

type result struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package in dir (a directory inside a Go module, e.g. a testdata
// filter) and returns the path of the .wasm file. Concurrent calls for the same package share one
// build.
func Build(ctx context.Context, dir string, opts Options) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s|%v", abs, opts.Command)
	mu.Lock()
	r, ok := inFlight[key]
	if !ok {
		r = &result{}
		inFlight[key] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.path, r.err = build(ctx, abs, opts) })
	return r.path, r.err
}

func build(ctx context.Context, dir string, opts Options) (string, error) {
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "turnpike-wasmbuild")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	sum, err := sourceHash(ctx, dir, opts)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, filepath.Base(dir)+"-"+sum[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	args := []string{"build", "-o", out + ".tmp"}
	if !opts.Command {
		args = append(args, "-buildmode=c-shared")
	}
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, GoTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(wasmEnv(), opts.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("wasmbuild: go build %s: %v\n%s", dir, err, stderr.String())
	}
	// Rename makes the cache entry appear atomically for parallel test processes.
	if err := os.Rename(out+".tmp", out); err != nil {
		return "", err
	}
	return out, nil
}

// GoTool is the go command of the toolchain running the tests (so a test
// binary builds with its own Go version), or "go" from PATH.
func GoTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func wasmEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

type listedPackage struct {
	Dir        string
	ImportPath string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Error      *struct{ Err string }
}

// sourceHash hashes the toolchain version, the build mode and every file of every
// non-standard package in the import graph; a change in a dependency (e.g. the proxy-wasm
// bindings) therefore triggers a rebuild.
func sourceHash(ctx context.Context, dir string, opts Options) (string, error) {
	cmd := exec.CommandContext(ctx, GoTool(), "list", "-deps", "-json=Dir,ImportPath,Standard,GoFiles,EmbedFiles,Error", ".")
	cmd.Dir = dir
	cmd.Env = append(wasmEnv(), opts.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("wasmbuild: go list %s: %v\n%s", dir, err, stderr.String())
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%v|%q\n", runtime.Version(), opts.Command, opts.Env)
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", err
		}
		if p.Error != nil {
			return "", fmt.Errorf("wasmbuild: package %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Standard {
			continue
		}
		fmt.Fprintf(h, "pkg %s\n", p.ImportPath)
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "file %s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
