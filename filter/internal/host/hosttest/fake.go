// Package hosttest is a fake host.Host for native tests of the filter's
// logic: streams with request headers, local replies, pending calls the
// test answers, shared data with compare-and-swap, a settable clock, logs
// and counters. It is single-threaded, like a VM.
package hosttest

import (
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
)

// Stream is one request as the fake host holds it.
type Stream struct {
	ID              uint32
	RequestHeaders  map[string]string
	ResponseHeaders map[string]string
	// ResponseBody is the body chunk OnHttpResponseBody sees; RequestBody
	// the request body OnHttpRequestBody sees.
	ResponseBody string
	RequestBody  string
	// Reply is the local response sent, nil if none.
	Reply   *Reply
	Resumed bool
	Closed  bool
}

// Reply is a local response.
type Reply struct {
	Status  uint32
	Headers map[string]string
	Body    string
}

// Call is an outgoing call waiting for the test to answer it.
type Call struct {
	Cluster string
	Headers map[string]string
	Body    string
	Timeout uint32
	// Context is the context current when the call was sent; its answer
	// runs with it current again.
	Context uint32
	done    func(*host.CallResponse)
}

// Path is the call's :path.
func (c *Call) Path() string { return c.Headers[":path"] }

type entry struct {
	value []byte
	cas   uint32
}

// Fake implements host.Host.
type Fake struct {
	Clock    int64
	Config   []byte
	Tick     uint32
	Props    map[string][]byte // properties by path joined with "."
	Logs     []string          // "level: message"
	Counters map[string]uint64
	Streams  map[uint32]*Stream
	Calls    []*Call
	// FailCalls makes Call fail at once, as a host without the cluster does.
	FailCalls bool
	// FailShared makes shared-data writes fail.
	FailShared bool

	current uint32
	shared  map[string]entry
	cas     uint32
	names   []string // counter names by id-1
}

var _ host.Host = (*Fake)(nil)

// New returns a fake host whose clock starts at now (unix ns).
func New(now int64) *Fake {
	return &Fake{Clock: now, Props: map[string][]byte{}, Counters: map[string]uint64{},
		Streams: map[uint32]*Stream{}, shared: map[string]entry{}}
}

// Stream makes id the current context with the given request headers
// (lower-case names), creating it.
func (f *Fake) Stream(id uint32, headers map[string]string) *Stream {
	s := &Stream{ID: id, RequestHeaders: map[string]string{}, ResponseHeaders: map[string]string{}}
	for k, v := range headers {
		s.RequestHeaders[k] = v
	}
	f.Streams[id] = s
	f.current = id
	return s
}

// Answer delivers the answer of call c and removes it from the pending
// calls; status 0 is a failed call.
func (f *Fake) Answer(c *Call, status int, headers map[string]string, body string) {
	for i, p := range f.Calls {
		if p == c {
			f.Calls = append(f.Calls[:i], f.Calls[i+1:]...)
			break
		}
	}
	resp := &host.CallResponse{Status: status}
	if status != 0 {
		resp.Headers = append(resp.Headers, [2]string{":status", strconv.Itoa(status)})
		for k, v := range headers {
			resp.Headers = append(resp.Headers, [2]string{k, v})
		}
		resp.Body = []byte(body)
	}
	f.current = c.Context
	c.done(resp)
}

// Pending returns the first pending call whose path starts with prefix.
func (f *Fake) Pending(prefix string) *Call {
	for _, c := range f.Calls {
		if strings.HasPrefix(c.Path(), prefix) {
			return c
		}
	}
	return nil
}

// Shared returns a shared-data value.
func (f *Fake) Shared(key string) ([]byte, bool) {
	e, ok := f.shared[key]
	return e.value, ok
}

func (f *Fake) stream() *Stream {
	s := f.Streams[f.current]
	if s == nil {
		s = &Stream{ID: f.current, RequestHeaders: map[string]string{}, ResponseHeaders: map[string]string{}}
		f.Streams[f.current] = s
	}
	return s
}

func (f *Fake) Get(key string) ([]byte, uint32, error) {
	e, ok := f.shared[key]
	if !ok {
		return nil, 0, shm.ErrNotFound
	}
	return e.value, e.cas, nil
}

// Set follows Envoy's rules: cas 0 writes unconditionally, a missing key is
// inserted whatever the cas, otherwise the cas must match.
func (f *Fake) Set(key string, value []byte, cas uint32) error {
	if f.FailShared {
		return host.ErrNoHost
	}
	if e, ok := f.shared[key]; ok && cas != 0 && cas != e.cas {
		return shm.ErrCASMismatch
	}
	f.cas++
	f.shared[key] = entry{value: append([]byte(nil), value...), cas: f.cas}
	return nil
}

func (f *Fake) Now() int64 { return f.Clock }

func (f *Fake) Log(level host.Level, msg string) {
	f.Logs = append(f.Logs, [...]string{"trace", "debug", "info", "warn", "error", "critical"}[level]+": "+msg)
}

// Logged reports whether a log line contains s.
func (f *Fake) Logged(s string) bool {
	for _, l := range f.Logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func (f *Fake) PluginConfig() ([]byte, error) { return f.Config, nil }
func (f *Fake) SetTick(ms uint32) error       { f.Tick = ms; return nil }
func (f *Fake) SetContext(id uint32) error    { f.current = id; return nil }

// Current is the current context id.
func (f *Fake) Current() uint32 { return f.current }

func (f *Fake) RequestHeader(name string) string        { return f.stream().RequestHeaders[name] }
func (f *Fake) SetRequestHeader(name, value string)     { f.stream().RequestHeaders[name] = value }
func (f *Fake) RemoveRequestHeader(name string)         { delete(f.stream().RequestHeaders, name) }
func (f *Fake) SetResponseHeader(name string, v []byte) { f.stream().ResponseHeaders[name] = string(v) }
func (f *Fake) ResponseHeader(name string) string       { return f.stream().ResponseHeaders[name] }

func (f *Fake) ResponseHeaders() [][2]string {
	var h [][2]string
	for k, v := range f.stream().ResponseHeaders {
		h = append(h, [2]string{k, v})
	}
	return h
}
func (f *Fake) RemoveResponseHeader(name string) { delete(f.stream().ResponseHeaders, name) }
func (f *Fake) ResponseBody(size int) ([]byte, error) {
	b := f.stream().ResponseBody
	return []byte(b[:min(size, len(b))]), nil
}

func (f *Fake) RequestBody(size int) ([]byte, error) {
	b := f.stream().RequestBody
	return []byte(b[:min(size, len(b))]), nil
}

// ReplaceRequestBody and ReplaceResponseBody replace the stream's body.
func (f *Fake) ReplaceRequestBody(b []byte) error  { f.stream().RequestBody = string(b); return nil }
func (f *Fake) ReplaceResponseBody(b []byte) error { f.stream().ResponseBody = string(b); return nil }

func (f *Fake) Reply(status uint32, headers [][2]string, body []byte) error {
	r := &Reply{Status: status, Headers: map[string]string{}, Body: string(body)}
	for _, kv := range headers {
		r.Headers[kv[0]] = kv[1]
	}
	f.stream().Reply = r
	return nil
}

func (f *Fake) Resume() { f.stream().Resumed = true }
func (f *Fake) Close()  { f.stream().Closed = true }

func (f *Fake) Property(path ...string) ([]byte, bool) {
	v, ok := f.Props[strings.Join(path, ".")]
	return v, ok
}

func (f *Fake) Call(cluster string, headers [][2]string, body []byte, timeoutMS uint32, done func(*host.CallResponse)) error {
	if f.FailCalls {
		return host.ErrNoHost
	}
	c := &Call{Cluster: cluster, Headers: map[string]string{}, Body: string(body), Timeout: timeoutMS,
		Context: f.current, done: done}
	for _, kv := range headers {
		c.Headers[kv[0]] = kv[1]
	}
	f.Calls = append(f.Calls, c)
	return nil
}

func (f *Fake) Counter(name string) uint32 {
	f.names = append(f.names, name)
	return uint32(len(f.names))
}

func (f *Fake) AddCounter(id uint32, n uint64) {
	if id >= 1 && int(id) <= len(f.names) {
		f.Counters[f.names[id-1]] += n
	}
}
