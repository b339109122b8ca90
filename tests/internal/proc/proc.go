// Package proc runs Turnpike's binaries as real processes for the e2e and
// fault suites: start, crash (SIGKILL), stop (SIGTERM), with their output kept
// for the failure report.
package proc

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopWait is how long Stop waits for an exit after SIGTERM before it kills.
const stopWait = 20 * time.Second

// logTail is how much of a process's output a failed test prints.
const logTail = 8 << 10

// Proc is one process, started and restarted with the same arguments. It is
// killed when the test ends, and its output is logged if the test failed.
type Proc struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	logs   logBuffer
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // exit status, valid after exited
}

// New returns a process that Start runs as `bin args...`; name is what the
// failure report calls it.
func New(t testing.TB, name, bin string, args ...string) *Proc {
	p := &Proc{t: t, name: name, bin: bin, args: args}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s output (last %d KiB):\n%s", p.name, logTail>>10, p.logs.tail(logTail))
		}
	})
	return p
}

// Start runs the process (again, after Kill or Stop) and fails the test if
// it cannot be started.
func (p *Proc) Start() {
	p.t.Helper()
	fmt.Fprintf(&p.logs, "=== start %s %s\n", p.bin, strings.Join(p.args, " "))
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	p.exited = exited
	cmd := p.cmd
	go func() {
		p.err = cmd.Wait()
		close(exited)
	}()
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is the exit status of the last run (nil while running or never started).
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// Pid is the running process's id (0 when not running).
func (p *Proc) Pid() int {
	if !p.Running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL: a crash, no shutdown code runs.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	fmt.Fprintf(&p.logs, "=== killed\n")
}

// Stop sends SIGTERM and waits up to 20 s for the exit, then kills the
// process and fails the test. It returns the exit status (nil for status 0,
// or when the process was not running).
func (p *Proc) Stop() error {
	p.t.Helper()
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopWait):
		p.Kill()
		p.t.Errorf("%s did not exit within %v of SIGTERM", p.name, stopWait)
	}
	fmt.Fprintf(&p.logs, "=== stopped: %v\n", p.err)
	return p.err
}

// WaitOK polls GET url until it answers 200, failing the test if the
// process exits first or after limit; it returns the time taken.
func (p *Proc) WaitOK(client *http.Client, url string, limit time.Duration) time.Duration {
	p.t.Helper()
	return Eventually(p.t, limit, p.name+" ready", func() error {
		if !p.Running() {
			p.t.Fatalf("%s exited: %v", p.name, p.Err())
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return nil
	})
}

// Eventually polls cond every 20 ms until it returns nil and fails the test
// with the last error after limit. It returns the time taken.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects a process's output for the failure report.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
