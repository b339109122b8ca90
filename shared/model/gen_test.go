package model

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesUpToDate runs the generator into a temporary directory
// and fails when its output differs from the committed *_gen.go files: run
// `go generate ./shared/model` after changing types.go or the generator.
func TestGeneratedFilesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/modelgen", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("modelgen: %v\n%s", err, out)
	}
	generated, _ := filepath.Glob(filepath.Join(dir, "*_gen.go"))
	committed, _ := filepath.Glob("*_gen.go")
	if len(generated) == 0 || len(generated) != len(committed) {
		t.Fatalf("generator wrote %d files, %d committed", len(generated), len(committed))
	}
	for _, path := range generated {
		name := filepath.Base(path)
		want, _ := os.ReadFile(path)
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale (%v): run go generate ./shared/model", name, err)
		}
	}
}
