// Package testenv starts the real processes that tests depend on.
//
// Tests run against a real redis-server, never a mock: Turnpike's quota
// exactness rests on Redis's Lua atomicity, which only the real server proves.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server process owned by a test.
type Redis struct {
	Port    int
	Dir     string // working directory; holds the AOF when Persist is set
	persist bool
	extra   []string // more redis-server arguments (cluster mode)
	conf    string   // a config file to start with --sentinel (a Sentinel)
	name    string   // log prefix
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	t       testing.TB
}

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// Persist turns on the append-only file (fsync always), so a Stop and
	// Start keep every acknowledged write.
	Persist bool
}

// RedisBinary finds redis-server, or explains how to install it.
func RedisBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("redis-server not found: install it with `apt-get install -y redis-server` " +
		"(as root) or `make deps`; the tests use a real Redis")
}

// StartRedis starts redis-server on a free loopback port and stops it when
// the test ends.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	r := &Redis{Dir: t.TempDir(), persist: opts.Persist, name: "redis", t: t}
	r.startFresh(FreePort)
	t.Cleanup(r.Stop)
	return r
}

// startFresh starts a new server on a port from freePort, and on another
// one if that port was taken between FreePort and the server's bind (tests
// of other packages start servers at the same time).
func (r *Redis) startFresh(freePort func(testing.TB) int) {
	r.t.Helper()
	var err error
	for range 5 {
		r.Port = freePort(r.t)
		if err = r.start(); err == nil {
			return
		}
	}
	r.t.Fatal(err)
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Start (re)starts the server on the same port and directory.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// start runs the server and waits until it answers on its port. It fails
// if the server exits first (its port was taken) or if whatever answers
// there is another process: a test must never use another test's server.
func (r *Redis) start() error {
	bin, err := RedisBinary()
	if err != nil {
		return err
	}
	var args []string
	if r.conf != "" {
		// A Sentinel: everything is in its config file, which it rewrites.
		args = []string{r.conf, "--sentinel"}
	} else {
		args = []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.Dir,
			"--save", "", "--daemonize", "no", "--loglevel", "warning"}
		if r.persist {
			args = append(args, "--appendonly", "yes", "--appendfsync", "always")
		} else {
			args = append(args, "--appendonly", "no")
		}
		args = append(args, r.extra...)
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Stdout = &logWriter{t: r.t, prefix: r.name + ": "}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %v", err)
	}
	exited, cmd := make(chan struct{}), r.cmd
	r.exited = exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := r.waitReady(10 * time.Second); err != nil {
		r.Stop()
		return fmt.Errorf("%s on %s did not start: %v", r.name, r.Addr(), err)
	}
	return nil
}

// Running reports whether the process was started and not stopped.
func (r *Redis) Running() bool { return r.cmd != nil }

// Stop kills the server (SIGKILL: with Persist, fsync-always AOF keeps
// every acknowledged write, which is what the restart tests check).
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady asks the server for its process id (inline INFO server) until
// the answer is r's own process.
func (r *Redis) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pid, err := serverPID(r.Addr())
		select {
		case <-r.exited:
			return errors.New("it exited (port taken?)")
		default:
		}
		switch {
		case err == nil && pid == r.cmd.Process.Pid:
			// Ours; ready once it has loaded its data (PING answers
			// -LOADING until then).
			if err = ping(r.Addr()); err == nil {
				return nil
			}
		case err == nil:
			err = fmt.Errorf("another server (pid %d) answers on that port", pid)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// serverPID returns the process_id a Redis server (or Sentinel) at addr
// reports in INFO server.
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(line, "-") {
			return 0, fmt.Errorf("INFO server: %s", strings.TrimSpace(line))
		}
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
}

// RepoRoot is the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

type logWriter struct {
	t      testing.TB
	prefix string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
