package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader) (time.Duration, error) {
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := r.ReadString('\n')
	if err == nil && line != "ping\n" {
		err = errors.New("bad echo " + line)
	}
	return time.Since(start), err
}

func TestLatencyAndReset(t *testing.T) {
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r); err != nil {
		t.Fatalf("no fault: %v", err)
	}

	p.SetLatency(200 * time.Millisecond)
	d, err := roundTrip(c, r)
	if err != nil || d < 200*time.Millisecond {
		t.Fatalf("with 200ms latency: %v after %v, want an echo after >= 200ms", err, d)
	}
	p.SetLatency(0)

	if n := p.ResetAll(); n != 1 {
		t.Fatalf("ResetAll reset %d connections, want 1", n)
	}
	if _, err := roundTrip(c, r); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after a reset: %v, want ECONNRESET", err)
	}

	p.SetReset(true)
	// The reset may come before the dial returns (it fails then) or after.
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c2.Close()
		_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := roundTrip(c2, bufio.NewReader(c2)); err == nil {
			t.Fatal("a new connection worked while resetting is on")
		}
	}
	p.SetReset(false)
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_ = c3.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := roundTrip(c3, bufio.NewReader(c3)); err != nil {
		t.Fatalf("after resetting is off: %v", err)
	}
	// Reset links are forgotten once their goroutines have ended.
	for deadline := time.Now().Add(5 * time.Second); p.Conns() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Conns = %d, want 1 (the last one)", p.Conns())
		}
	}
}
