package wasmbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildCachesByContent(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	p1, err := Build(ctx, "../testdata/rawabi", Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p1)
	if err != nil || !strings.HasPrefix(string(b), "\x00asm") {
		t.Fatalf("not a wasm module: %v", err)
	}
	// A fresh build (new process state) of unchanged sources resolves to the same cache entry.
	p2, err := build(ctx, mustAbs(t, "../testdata/rawabi"), Options{CacheDir: cache})
	if err != nil || p2 != p1 {
		t.Fatalf("second build %q %v, want cached %q", p2, err, p1)
	}
}

func TestBuildErrorsAreReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), dir, Options{CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "wasmbuild") {
		t.Fatalf("err = %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
