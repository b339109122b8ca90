// Package testenv starts the real processes that tests depend on.
//
// Tests run against a real redis-server, never a mock: Turnpike's quota
// exactness rests on Redis's Lua atomicity, which only the real server proves.
package testenv

import (
	"bufio"
	"context"
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
	r := &Redis{Port: FreePort(t), Dir: t.TempDir(), persist: opts.Persist, name: "redis", t: t}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Start (re)starts the server on the same port and directory.
func (r *Redis) Start() {
	r.t.Helper()
	bin, err := RedisBinary()
	if err != nil {
		r.t.Fatal(err)
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
		r.t.Fatalf("start redis-server: %v", err)
	}
	if err := waitPing(r.Addr(), 10*time.Second); err != nil {
		r.Stop()
		r.t.Fatalf("redis-server on %s did not answer: %v", r.Addr(), err)
	}
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
	_ = r.cmd.Wait()
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

// waitPing sends inline PINGs until the server answers +PONG.
func waitPing(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		last = ping(addr)
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
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
