package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// child is one started binary. Its output is copied line by line to out
// with a "[name] " prefix so the interleaved logs stay readable.
type child struct {
	name   string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // exit status, valid after done
	copied sync.WaitGroup
}

// startChild starts bin with args and the extra environment. The child gets
// its own process group, so a Ctrl-C in the terminal reaches only the
// quickstart, which then stops the children in order (gateway before
// sidecar); see setProcAttr for what happens if the quickstart dies.
func startChild(name, bin string, args, env []string, out io.Writer) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = append(os.Environ(), env...)
	setProcAttr(c.cmd)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var mu sync.Mutex // one line at a time from both pipes
	for _, r := range []io.Reader{stdout, stderr} {
		c.copied.Add(1)
		go func() {
			defer c.copied.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(out, "[%s] %s\n", name, sc.Bytes())
				mu.Unlock()
			}
		}()
	}
	go func() {
		// Wait only after the pipes are drained, as os/exec requires.
		c.copied.Wait()
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM and waits up to grace for the exit, then kills. It
// reports a non-zero exit status or a kill as an error.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.exitError()
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %v after SIGTERM; killed", c.name, grace)
	}
}

func (c *child) exitError() error {
	if c.err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return fmt.Errorf("%s exited: %v", c.name, ee)
	}
	return fmt.Errorf("%s: %w", c.name, c.err)
}
