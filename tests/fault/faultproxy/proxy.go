// Package faultproxy is a TCP proxy that injects network faults between a
// client and a server, for tests that run real processes: the client (the
// sidecar) dials the proxy instead of the server (Redis), and the test turns
// faults on and off while traffic flows.
//
// Faults:
//   - latency: every chunk the server sends is held for a fixed time before
//     the client gets it (replies arrive late; requests still pipeline, as
//     on a slow link);
//   - reset: every open connection is closed with a TCP RST (SO_LINGER 0),
//     and, while resetting is on, every new connection is reset as soon as
//     it is accepted, so the client sees "connection reset by peer".
//
// It is the standard library only: the faults the suite needs are these
// two, and a proxy the test owns makes them exact (see RATIONALE.md).
package faultproxy

import (
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from its loopback address to a target.
type Proxy struct {
	target string
	ln     net.Listener

	mu       sync.Mutex
	latency  time.Duration
	resetNew bool
	conns    map[net.Conn]struct{} // both ends of every open link
	accepted int64
	wg       sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port, which the client dials.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLatency holds every chunk from the server for d before forwarding it
// (0 = none). It applies to data read after the call, on open and new
// connections alike.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetReset turns resetting on or off. Turning it on resets every open
// connection at once; while on, new connections are reset when accepted.
func (p *Proxy) SetReset(on bool) {
	p.mu.Lock()
	p.resetNew = on
	p.mu.Unlock()
	if on {
		p.ResetAll()
	}
}

// ResetAll closes every open connection with a TCP RST and returns how many
// client connections it reset.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	// Every end gets SO_LINGER 0 before any is closed: closing one end
	// wakes its link, which closes the other, and that close must be a
	// reset too.
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns) / 2
}

// Conns is the number of client connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Accepted is the number of client connections accepted so far.
func (p *Proxy) Accepted() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		p.accepted++
		refuse := p.resetNew
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.link(c)
	}
}

// link connects client c to the target and copies both ways until either
// side closes; then both are closed.
func (p *Proxy) link(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		reset(client) // the target is down: the client sees a reset, as from a dead host's proxy
		return
	}
	p.mu.Lock()
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { // requests: forwarded at once
		_, _ = io.Copy(server, client)
		done <- struct{}{}
	}()
	go func() { // replies: delayed by the latency in force when read
		p.delayedCopy(client, server)
		done <- struct{}{}
	}()
	<-done
	// One direction ended: end the other too (a plain close; a reset
	// already happened when ResetAll did it).
	_ = client.Close()
	_ = server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// chunk is data read from the server and when it may be forwarded.
type chunk struct {
	data []byte
	due  time.Time
}

// delayedCopy copies src to dst, holding each chunk until its due time. A
// reader goroutine stamps chunks as they arrive, so a stream of replies is
// delayed, not serialized behind one another's delays.
func (p *Proxy) delayedCopy(dst, src net.Conn) {
	queue := make(chan chunk, 256)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				d := p.latency
				p.mu.Unlock()
				queue <- chunk{data: buf[:n], due: time.Now().Add(d)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if wait := time.Until(c.due); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			_ = src.Close() // unblock the reader; drain what it queued
			for range queue {
			}
			return
		}
	}
}

// reset closes c so that the peer gets a TCP RST, not a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
