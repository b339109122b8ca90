package host

import (
	"errors"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// Proxy is Host over the proxy-wasm ABI: each method is one host call (or
// two, for a call's answer). It has no state.
type Proxy struct{}

var _ Host = Proxy{}

func (Proxy) Get(key string) ([]byte, uint32, error) {
	v, cas, err := proxywasm.GetSharedData(key)
	if errors.Is(err, proxywasm.ErrNotFound) {
		return nil, 0, shm.ErrNotFound
	}
	return v, cas, err
}

func (Proxy) Set(key string, value []byte, cas uint32) error {
	err := proxywasm.SetSharedData(key, value, cas)
	if errors.Is(err, proxywasm.ErrCasMismatch) {
		return shm.ErrCASMismatch
	}
	return err
}

func (Proxy) Now() int64 {
	t, err := proxywasm.GetCurrentTimeNanoseconds()
	if err != nil {
		return time.Now().UnixNano()
	}
	return t
}

func (Proxy) Log(level Level, msg string) {
	switch level {
	case Trace:
		proxywasm.LogTrace(msg)
	case Debug:
		proxywasm.LogDebug(msg)
	case Info:
		proxywasm.LogInfo(msg)
	case Warn:
		proxywasm.LogWarn(msg)
	case Error:
		proxywasm.LogError(msg)
	default:
		proxywasm.LogCritical(msg)
	}
}

func (Proxy) PluginConfig() ([]byte, error) {
	data, err := proxywasm.GetPluginConfiguration()
	if errors.Is(err, proxywasm.ErrNotFound) {
		return nil, nil
	}
	return data, err
}

func (Proxy) SetTick(ms uint32) error       { return proxywasm.SetTickPeriodMilliSeconds(ms) }
func (Proxy) SetContext(id uint32) error    { return proxywasm.SetEffectiveContext(id) }
func (Proxy) RequestHeader(n string) string { v, _ := proxywasm.GetHttpRequestHeaderView(n); return v }
func (Proxy) SetRequestHeader(n, v string)  { _ = proxywasm.ReplaceHttpRequestHeader(n, v) }
func (Proxy) RemoveRequestHeader(n string)  { _ = proxywasm.RemoveHttpRequestHeader(n) }
func (Proxy) SetResponseHeader(n string, v []byte) {
	_ = proxywasm.ReplaceHttpResponseHeaderBytes(n, v)
}

func (Proxy) ResponseHeaders() [][2]string {
	h, _ := proxywasm.GetHttpResponseHeaders()
	return h
}
func (Proxy) RemoveResponseHeader(n string) { _ = proxywasm.RemoveHttpResponseHeader(n) }
func (Proxy) ResponseBody(size int) ([]byte, error) {
	return proxywasm.GetHttpResponseBody(0, size)
}

func (Proxy) RequestBody(size int) ([]byte, error) {
	return proxywasm.GetHttpRequestBody(0, size)
}

// ReplaceRequestBody and ReplaceResponseBody replace the whole body the
// host buffered (body transforms; plugin.bodyReplacer).
func (Proxy) ReplaceRequestBody(b []byte) error  { return proxywasm.ReplaceHttpRequestBody(b) }
func (Proxy) ReplaceResponseBody(b []byte) error { return proxywasm.ReplaceHttpResponseBody(b) }

func (Proxy) ResponseHeader(n string) string {
	v, _ := proxywasm.GetHttpResponseHeaderView(n)
	return v
}

func (Proxy) Reply(status uint32, headers [][2]string, body []byte) error {
	return proxywasm.SendHttpResponse(status, headers, body, -1)
}

func (Proxy) Resume() { _ = proxywasm.ResumeHttpRequest() }
func (Proxy) Close()  { _ = proxywasm.CloseHttpRequest() }

func (Proxy) Property(path ...string) ([]byte, bool) {
	v, err := proxywasm.GetProperty(path)
	return v, err == nil
}

func (Proxy) Call(cluster string, headers [][2]string, body []byte, timeoutMS uint32, done func(*CallResponse)) error {
	_, err := proxywasm.DispatchHttpCall(cluster, headers, body, nil, timeoutMS,
		func(numHeaders, bodySize, _ int) { done(callResponse(numHeaders, bodySize)) })
	return err
}

// callResponse reads the answer of the call whose callback is running.
func callResponse(numHeaders, bodySize int) *CallResponse {
	resp := &CallResponse{}
	if numHeaders == 0 {
		return resp
	}
	headers, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return resp
	}
	resp.Headers = headers
	for _, kv := range headers {
		if kv[0] == ":status" {
			resp.Status, _ = strconv.Atoi(kv[1])
		}
	}
	if bodySize > 0 {
		if b, err := proxywasm.GetHttpCallResponseBody(0, bodySize); err == nil {
			resp.Body = b
		}
	}
	return resp
}

func (Proxy) Counter(name string) uint32 { return uint32(proxywasm.DefineCounterMetric(name)) }
func (Proxy) AddCounter(id uint32, n uint64) {
	proxywasm.MetricCounter(id).Increment(n)
}
