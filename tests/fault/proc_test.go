package fault

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a child process whose output is kept and shown when the test
// fails. It can be killed and started again with the same arguments (and
// so the same port).
type proc struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	logs   *logBuffer
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // exit status, valid after exited
}

func newProc(t testing.TB, name, bin string, args ...string) *proc {
	p := &proc{t: t, name: name, bin: bin, args: args, logs: &logBuffer{}}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s output (last 8 KiB):\n%s", p.name, p.logs.tail(8<<10))
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	fmt.Fprintf(p.logs, "=== start %s %s\n", p.bin, strings.Join(p.args, " "))
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
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

func (p *proc) running() bool {
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

// pid is the running process's id (0 when not running).
func (p *proc) pid() int {
	if !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill sends SIGKILL: a crash, no shutdown code runs.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	fmt.Fprintf(p.logs, "=== killed\n")
}

// stop sends SIGTERM and waits up to 20 s for the exit (then SIGKILL).
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.kill()
		p.t.Errorf("%s did not exit within 20 s of SIGTERM", p.name)
	}
	fmt.Fprintf(p.logs, "=== stopped: %v\n", p.err)
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
