// Package loadgen is a closed-loop HTTP/1.1 load generator for the benchmarks: N connections,
// each sending its next request as soon as the previous answer is read, for a fixed time, with
// every latency recorded in a histogram.
//
// It speaks HTTP/1.1 directly on the socket (pre-serialized requests, a minimal response
// parser) instead of using net/http's client: on a 2-core machine the load generator shares
// the CPU with the system under test, and the less it spends per request the more of the
// machine the measured server gets. Responses must carry Content-Length or be chunked.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Request is one request template. Method defaults to GET; Path must start with "/".
type Request struct {
	Method string
	Path   string
	Header [][2]string
	Body   []byte
}

// Options describe one run.
type Options struct {
	// Addr is the server's host:port; Host the Host header (default Addr).
	Addr string
	Host string
	// Requests are sent in turn; connection i starts at request i, so with as many templates
	// as connections every connection cycles through all of them.
	Requests []Request
	// Connections is the number of concurrent clients (default 1).
	Connections int
	// Warmup runs load that is not recorded; Duration is the measured time after it.
	Warmup   time.Duration
	Duration time.Duration
	// Timeout bounds one request (default 10 s); a timed-out connection is reopened.
	Timeout time.Duration
}

// Result is what a run measured. Only requests that completed inside the measured window count.
type Result struct {
	Requests int64         // responses read
	Errors   int64         // connect, write, read or parse failures
	Status   map[int]int64 // responses by status code
	Elapsed  time.Duration // the measured window
	Latency  Histogram     // request written to response fully read
	// FirstError is the first failure, for the report (nil if none).
	FirstError error
}

// RPS is the measured throughput in responses per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run generates load until the warm-up and the measured duration have passed or ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Addr == "" {
		return nil, errors.New("loadgen: Addr is required")
	}
	if len(o.Requests) == 0 {
		return nil, errors.New("loadgen: no Requests")
	}
	if o.Duration <= 0 {
		return nil, fmt.Errorf("loadgen: Duration %v must be positive", o.Duration)
	}
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Host == "" {
		o.Host = o.Addr
	}
	wire := make([][]byte, len(o.Requests))
	for i, r := range o.Requests {
		b, err := serialize(o.Host, r)
		if err != nil {
			return nil, err
		}
		wire[i] = b
	}

	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	workers := make([]*worker, o.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{o: &o, wire: wire, next: i % len(wire), from: measureFrom, end: end, status: map[int]int64{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	res := &Result{Status: map[int]int64{}, Elapsed: o.Duration}
	if now := time.Now(); now.Before(end) { // cancelled early
		res.Elapsed = max(now.Sub(measureFrom), 0)
	}
	for _, w := range workers {
		res.Requests += w.requests
		res.Errors += w.errors
		for s, n := range w.status {
			res.Status[s] += n
		}
		res.Latency.Merge(&w.latency)
		if res.FirstError == nil {
			res.FirstError = w.firstErr
		}
	}
	return res, nil
}

func serialize(host string, r Request) ([]byte, error) {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	if len(r.Path) == 0 || r.Path[0] != '/' {
		return nil, fmt.Errorf("loadgen: path %q must start with /", r.Path)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, r.Path, host)
	for _, h := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if len(r.Body) > 0 || method == "POST" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes(), nil
}

type worker struct {
	o         *Options
	wire      [][]byte
	next      int
	from, end time.Time

	conn net.Conn
	br   *bufio.Reader

	requests, errors int64
	status           map[int]int64
	latency          Histogram
	firstErr         error
}

func (w *worker) run(ctx context.Context) {
	defer w.close()
	for ctx.Err() == nil {
		if w.conn == nil {
			d := net.Dialer{Timeout: w.o.Timeout}
			c, err := d.DialContext(ctx, "tcp", w.o.Addr)
			if err != nil {
				// A dial cut short by the end of the run is not a failure.
				if ctx.Err() == nil && time.Now().Before(w.end) {
					w.fail(err)
					time.Sleep(10 * time.Millisecond) // a refused connect must not spin the CPU
				}
				continue
			}
			w.conn, w.br = c, bufio.NewReaderSize(c, 16<<10)
		}
		req := w.wire[w.next]
		w.next = (w.next + 1) % len(w.wire)
		began := time.Now()
		_ = w.conn.SetDeadline(began.Add(w.o.Timeout))
		status, keep, err := w.roundTrip(req)
		done := time.Now()
		if err != nil {
			if ctx.Err() == nil && done.Before(w.end) {
				w.fail(err)
			}
			w.close()
			continue
		}
		if !done.Before(w.from) && done.Before(w.end) {
			w.requests++
			w.status[status]++
			w.latency.Record(done.Sub(began))
		}
		if !keep {
			w.close()
		}
	}
}

func (w *worker) fail(err error) {
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func (w *worker) close() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn, w.br = nil, nil
	}
}

func (w *worker) roundTrip(req []byte) (status int, keepAlive bool, err error) {
	if _, err := w.conn.Write(req); err != nil {
		return 0, false, err
	}
	return readResponse(w.br)
}

// readResponse reads one response and discards its body. It reports the status and whether the
// connection may be reused.
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("loadgen: bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("loadgen: bad status line %q", line)
	}
	keepAlive = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		h, err := readLine(br)
		if err != nil {
			return 0, false, err
		}
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("loadgen: bad header line %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("loadgen: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}
	noBody := status == 204 || status == 304 || (status >= 100 && status < 200)
	switch {
	case noBody:
	case chunked:
		err = discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
	default:
		return 0, false, errors.New("loadgen: response without Content-Length or chunked encoding")
	}
	return status, keepAlive, err
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("loadgen: bad chunk size %q", line)
		}
		if n == 0 { // trailers, then the final empty line
			for {
				t, err := readLine(br)
				if err != nil || len(t) == 0 {
					return err
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		crlf, err := readLine(br)
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return errors.New("loadgen: chunk not followed by CRLF")
		}
	}
}

// readLine returns one line without its CRLF; the slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errors.New("loadgen: header line too long")
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
