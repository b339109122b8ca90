// Package host is the small surface of proxy-wasm that the filter's logic
// uses: the current stream's headers and local replies, outgoing calls,
// shared data, the clock, logs, counters and properties.
//
// The plugin package talks only to a Host, so its pipeline runs natively
// against a fake (hosttest.Fake) as well as in the VM against Proxy, the
// implementation over the proxy-wasm ABI. Like the ABI, the stream that
// header and reply methods act on is implicit: the context the host is
// calling, or the one set with SetContext.
package host

import (
	"errors"

	"github.com/turnpike-dev/turnpike/filter/internal/shm"
)

// Level is a log level, in the ABI's order.
type Level uint8

const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
	Critical
)

// CallResponse is the answer to an outgoing call. Status 0 means the call
// failed (reset, timeout, no connection).
type CallResponse struct {
	Status  int
	Headers [][2]string
	Body    []byte
}

// Header returns the value of a response header (case-insensitive name).
func (c *CallResponse) Header(name string) string {
	for _, kv := range c.Headers {
		if equalFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// Host is what the filter needs from the proxy. Shared data is shm.Store:
// Get's value is only valid during the current callback.
type Host interface {
	shm.Store

	// Now is the host's clock, in unix nanoseconds.
	Now() int64
	Log(level Level, msg string)

	// PluginConfig returns the plugin configuration (nil when there is none).
	PluginConfig() ([]byte, error)
	// SetTick sets the period of the plugin's OnTick.
	SetTick(ms uint32) error
	// SetContext makes later calls act on the stream or plugin context id.
	SetContext(id uint32) error

	// RequestHeader returns a request header of the current stream by
	// lower-case name ("" when absent). The result is a view of the
	// callback's memory: valid only until the callback returns.
	RequestHeader(name string) string
	SetRequestHeader(name, value string)
	RemoveRequestHeader(name string)
	SetResponseHeader(name string, value []byte)
	// RequestBody returns the first size bytes of the request body the
	// host buffered so far (a view, valid until the callback returns; OAuth
	// endpoints, batch requests).
	RequestBody(size int) ([]byte, error)
	// ResponseHeader returns a response header of the current stream, a
	// view like RequestHeader's; only meaningful once the response headers
	// arrived (OnHttpResponseHeaders).
	ResponseHeader(name string) string
	// Reply sends a local response instead of forwarding the request.
	Reply(status uint32, headers [][2]string, body []byte) error
	// Resume lets a paused request go upstream; Close resets it.
	Resume()
	Close()
	// Property returns a host property (Envoy attributes such as
	// connection.mtls); ok is false when the host has none.
	Property(path ...string) (value []byte, ok bool)

	// Call sends an HTTP request to a cluster of the host; done runs with
	// the answer, with the calling context as the current one. done is not
	// called when Call returns an error.
	Call(cluster string, headers [][2]string, body []byte, timeoutMS uint32, done func(*CallResponse)) error

	// Counter defines a counter metric; AddCounter adds to it.
	Counter(name string) uint32
	AddCounter(id uint32, n uint64)

	// The response side (response cache, header injection): the current
	// stream's response headers (":status" included, copies), removing
	// one, and the response body the current OnHttpResponseBody sees.
	ResponseHeaders() [][2]string
	RemoveResponseHeader(name string)
	ResponseBody(size int) ([]byte, error)
}

// ErrNoHost is what a fake returns for a capability it was not given.
var ErrNoHost = errors.New("host: not available")

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
