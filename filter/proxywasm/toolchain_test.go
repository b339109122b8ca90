package proxywasm

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// These tests ask the Go toolchain about the wasip1 build of this package:
// what they check is invisible to native unit tests and easy to lose in an
// innocent-looking edit.

func wasmGo(t *testing.T, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not in PATH")
	}
	cmd := exec.Command(goBin, args...)
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Out-parameter locals of host calls must stay on the stack: an escaping
// out-parameter costs a heap allocation per host call (//go:noescape on the
// imports prevents it).
func TestWasmHostCallsDoNotHeapAllocateOutParams(t *testing.T) {
	out := wasmGo(t, "build", "-gcflags=-m", "-o", "/dev/null", ".")
	moved := regexp.MustCompile(`(?m)^.*moved to heap.*$`).FindAllString(out, -1)
	if len(moved) > 0 {
		t.Fatalf("locals moved to heap in the wasip1 build:\n%s", strings.Join(moved, "\n"))
	}
	if !strings.Contains(out, "does not escape") {
		t.Fatal("no escape analysis output: did -gcflags=-m apply?")
	}
}
