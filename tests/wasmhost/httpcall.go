package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HTTPCall is a proxy_http_call the plugin dispatched. Calls to clusters with a URL are sent by
// the host; calls to clusters declared with an empty URL wait for the test to Respond or Fail.
type HTTPCall struct {
	ID       uint32
	Cluster  string
	Headers  Headers // as sent by the plugin, keys lower-cased
	Body     []byte
	Trailers Headers
	Timeout  time.Duration // 0 = no timeout (Envoy)
	// Stream is the stream whose context was effective when the call was made; nil for calls
	// made from the root context (ticks, queue callbacks).
	Stream *Stream

	vm    *VM
	root  *rootCtx // the root context that made the call gets the response
	done  bool
	timer *time.Timer
}

type callResponse struct {
	headers, trailers headerMap
	body              []byte
	failed            bool
}

// Errors from answering a call.
var (
	ErrCallDone = errors.New("wasmhost: http call already completed")
	ErrVMFailed = errors.New("wasmhost: VM failed")
)

// VM is the worker that made the call.
func (c *HTTPCall) VM() *VM { return c.vm }

// Respond delivers a response: proxy_on_http_call_response(root, id, #headers, body size,
// #trailers) with ":status" first among the headers. It returns after the callback and the
// actions it deferred ran; read the originating stream's Result afterwards.
func (c *HTTPCall) Respond(status int, headers Headers, body []byte) error {
	return c.answer(response(status, headers, body))
}

// Fail delivers Envoy's reset: num_headers = 0 and proxy_get_status = (11, "reset").
func (c *HTTPCall) Fail() error { return c.answer(&callResponse{failed: true}) }

// TimeOut delivers what Envoy delivers when the call's timeout fires: a 504 response with body
// "upstream request timeout".
func (c *HTTPCall) TimeOut() error { return c.answer(timeoutResponse()) }

func (c *HTTPCall) answer(r *callResponse) error {
	vm := c.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.dead != nil {
		return ErrVMFailed
	}
	if c.done {
		return ErrCallDone
	}
	vm.deliver(c, r)
	return nil
}

func (c *HTTPCall) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

func response(status int, headers Headers, body []byte) *callResponse {
	r := &callResponse{body: append([]byte(nil), body...)}
	r.headers.pairs = append(r.headers.pairs, [2]string{":status", strconv.Itoa(status)})
	for _, p := range lowerKeys(headers) {
		if p[0] != ":status" {
			r.headers.pairs = append(r.headers.pairs, p)
		}
	}
	return r
}

func timeoutResponse() *callResponse {
	body := "upstream request timeout"
	return response(http.StatusGatewayTimeout, Headers{
		{"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"},
	}, []byte(body))
}

func connectFailureResponse() *callResponse {
	body := "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	return response(http.StatusServiceUnavailable, Headers{
		{"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"},
	}, []byte(body))
}

// deliver runs the response callback on the root context; vm.mu is held.
func (vm *VM) deliver(c *HTTPCall, r *callResponse) {
	if c.done {
		return
	}
	c.done = true
	c.stopTimer()
	delete(vm.calls, c.ID)
	if vm.dead != nil {
		return
	}
	vm.callResp = r
	vm.status, vm.statusMsg = 0, ""
	nh := len(r.headers.pairs)
	if r.failed {
		vm.status, vm.statusMsg, nh = 11, "reset", 0
	}
	root := c.root
	if root == nil {
		root = vm.roots[0]
	}
	vm.current = root.id
	vm.call(vm.fn.httpCallResponse, uint64(root.id), uint64(c.ID), uint64(nh), uint64(len(r.body)), uint64(len(r.trailers.pairs)))
	vm.callResp = nil
	vm.finish()
}

// startCall arms the timeout of a test-answered call or sends a call to a real cluster; vm.mu
// is held.
func (vm *VM) startCall(c *HTTPCall, baseURL string) {
	if baseURL != "" {
		vm.h.work.add()
		go vm.send(c, baseURL)
		return
	}
	if c.Timeout > 0 {
		c.timer = time.AfterFunc(c.Timeout, func() {
			vm.post(func() { vm.deliver(c, timeoutResponse()) })
		})
	}
}

// send performs the call over HTTP and posts the response to the VM's event loop. Failures are
// mapped the way Envoy surfaces them: timeout -> 504 response, connection failure -> 503
// response, anything after the headers (or a body over the limit) -> reset.
func (vm *VM) send(c *HTTPCall, baseURL string) {
	defer vm.h.work.done()
	ctx := vm.h.callCtx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	r := vm.roundTrip(ctx, c, baseURL)
	if vm.h.callCtx.Err() != nil {
		return // host closing
	}
	vm.post(func() { vm.deliver(c, r) })
}

func (vm *VM) roundTrip(ctx context.Context, c *HTTPCall, baseURL string) *callResponse {
	method, _ := c.Headers.Get(":method")
	path, _ := c.Headers.Get(":path")
	authority, _ := c.Headers.Get(":authority")
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(baseURL, "/")+path, bytes.NewReader(c.Body))
	if err != nil {
		return &callResponse{failed: true}
	}
	req.Host = authority
	for _, p := range c.Headers {
		if !strings.HasPrefix(p[0], ":") && p[0] != "content-length" && p[0] != "host" {
			req.Header.Add(p[0], p[1])
		}
	}
	resp, err := vm.h.cfg.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timeoutResponse()
		}
		return connectFailureResponse()
	}
	defer resp.Body.Close()
	limit := vm.h.cfg.HTTPCallBodyLimit
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timeoutResponse()
		}
		return &callResponse{failed: true}
	}
	if int64(len(body)) > limit {
		return &callResponse{failed: true}
	}
	out := &callResponse{body: body}
	out.headers.pairs = append(out.headers.pairs, [2]string{":status", strconv.Itoa(resp.StatusCode)})
	out.headers.pairs = append(out.headers.pairs, sortedPairs(resp.Header)...)
	out.trailers.pairs = sortedPairs(resp.Trailer)
	return out
}

func sortedPairs(h http.Header) Headers {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out Headers
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, [2]string{strings.ToLower(k), v})
		}
	}
	return out
}
