package wasmhost

import (
	"context"
	"fmt"
	"time"
)

// Action is what a stream callback (plus the host calls it made) decided for the direction it
// was running on.
type Action int

const (
	// ActionContinue: the data went past the filter.
	ActionContinue Action = iota
	// ActionPause: iteration is stopped until the filter resumes the stream (e.g. after an
	// http call) — see Stream.Wait.
	ActionPause
	// ActionLocalReply: the filter answered with proxy_send_local_response (or the VM failed
	// closed); Result.Reply has the response. The stream is finished.
	ActionLocalReply
	// ActionReset: the filter called proxy_close_stream, or asked for a local reply after the
	// response headers had already gone downstream. The stream is finished.
	ActionReset
)

func (a Action) String() string {
	switch a {
	case ActionContinue:
		return "continue"
	case ActionPause:
		return "pause"
	case ActionLocalReply:
		return "local-reply"
	case ActionReset:
		return "reset"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Result is the outcome of feeding a stream event.
type Result struct {
	Action Action
	Reply  *LocalReply // set when Action == ActionLocalReply
}

// LocalReply is a response the filter generated instead of the upstream's.
type LocalReply struct {
	Status     int
	Headers    Headers // lower-cased keys; content-type text/plain added for a body without one, as Envoy does
	Body       []byte
	Details    string // response code details, e.g. "wasm_fail_stream"
	GRPCStatus int32  // -1 when not a gRPC reply
}

// Message is one direction of a stream as it left the filter: headers (possibly mutated), the
// body released so far and trailers.
type Message struct {
	Headers  Headers
	Body     []byte
	Trailers Headers
}

// direction is the request or response half of a stream.
type direction struct {
	headers, trailers headerMap
	body              []byte // buffered body the filter sees in its body callback
	out               []byte // body released past the filter
	hdrSeen           bool
	hdrReleased       bool
	hdrPaused         bool
	stopAll           bool // paused on headers with StopAllIteration: later data is held before the filter
	bodyPaused        bool
	trlPaused         bool
	held              []byte
	heldBody, heldEOS bool
	heldTrailers      Headers
	hasHeldTrailers   bool
	eos               bool
}

func (d *direction) paused() bool { return d.hdrPaused || d.bodyPaused || d.trlPaused }

// Stream is one HTTP request/response pair on a VM (an Envoy stream context). Feed it events in
// protocol order; each call runs the corresponding callback and returns the Result. Methods are
// safe for concurrent use, but events of one stream should come from one goroutine.
type Stream struct {
	vm      *VM
	root    *rootCtx // the plugin the stream belongs to
	id      uint32
	created bool
	closed  bool
	start   time.Time

	req, resp   direction
	respStarted bool
	reply       *LocalReply
	reset       bool
	failOpen    bool
	props       map[string][]byte
	declared    map[string]propertyPrototype // declare_property from this stream: no effect, as in Envoy

	routeCacheCleared bool // the clear_route_cache foreign function was called

	// deferred actions of the current callback (Envoy runs them after the VM call returns)
	wantContinue [2]bool
	wantClose    [2]bool
	pendingReply *LocalReply
	queued       bool

	changed chan struct{} // created on demand by Wait, closed on the next state change
}

// ID is the stream context id (0 until the first callback created the context).
func (s *Stream) ID() uint32 {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.id
}

// RouteCacheCleared reports whether the filter called the clear_route_cache foreign function on
// this stream (Envoy then picks the route again with the headers as they are now).
func (s *Stream) RouteCacheCleared() bool {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.routeCacheCleared
}

// VM is the worker this stream runs on.
func (s *Stream) VM() *VM { return s.vm }

// SetProperty sets a property for this stream only (e.g. "source.address" = "10.0.0.1:5555"),
// overriding the host's computed value. Use before the first event.
func (s *Stream) SetProperty(path string, value []byte) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[path] = append([]byte(nil), value...)
}

// RequestHeaders runs proxy_on_request_headers.
func (s *Stream) RequestHeaders(headers Headers, endOfStream bool) Result {
	return s.onHeaders(false, headers, endOfStream)
}

// RequestBody runs proxy_on_request_body with chunk appended to the data the filter buffered.
// While the headers are paused (StopAllIteration) the chunk is held and delivered on resume.
func (s *Stream) RequestBody(chunk []byte, endOfStream bool) Result {
	return s.onBody(false, chunk, endOfStream)
}

// RequestTrailers runs proxy_on_request_trailers.
func (s *Stream) RequestTrailers(trailers Headers) Result { return s.onTrailers(false, trailers) }

// ResponseHeaders runs proxy_on_response_headers; headers should include ":status".
func (s *Stream) ResponseHeaders(headers Headers, endOfStream bool) Result {
	return s.onHeaders(true, headers, endOfStream)
}

// ResponseBody runs proxy_on_response_body.
func (s *Stream) ResponseBody(chunk []byte, endOfStream bool) Result {
	return s.onBody(true, chunk, endOfStream)
}

// ResponseTrailers runs proxy_on_response_trailers.
func (s *Stream) ResponseTrailers(trailers Headers) Result { return s.onTrailers(true, trailers) }

// Result is the stream's current state for the active direction (the response once response
// headers were fed, else the request).
func (s *Stream) Result() Result {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.result()
}

// Wait blocks until the active direction is no longer paused — resumed, answered locally, reset
// or failed — or ctx ends. This is how a caller waits for an http call to a real cluster.
func (s *Stream) Wait(ctx context.Context) (Result, error) {
	for {
		s.vm.mu.Lock()
		r := s.result()
		if r.Action != ActionPause {
			s.vm.mu.Unlock()
			return r, nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.vm.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
}

// Request returns the request as the filter left it.
func (s *Stream) Request() Message { return s.message(&s.req) }

// TakeRequestBody returns the request body released past the filter since the last take and
// drops it from the stream, so Request().Body no longer holds it: a proxy streams the body on
// chunk by chunk instead of keeping all of it.
func (s *Stream) TakeRequestBody() []byte { return s.take(&s.req) }

// TakeResponseBody is TakeRequestBody for the response.
func (s *Stream) TakeResponseBody() []byte { return s.take(&s.resp) }

func (s *Stream) take(d *direction) []byte {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	out := d.out
	d.out = nil
	return out
}

// Response returns the response as the filter left it.
func (s *Stream) Response() Message { return s.message(&s.resp) }

func (s *Stream) message(d *direction) Message {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return Message{
		Headers:  d.headers.pairs.Clone(),
		Body:     append([]byte(nil), d.out...),
		Trailers: d.trailers.pairs.Clone(),
	}
}

// HTTPCalls returns the pending http calls this stream dispatched.
func (s *Stream) HTTPCalls() []*HTTPCall {
	var out []*HTTPCall
	for _, c := range s.vm.HTTPCalls() {
		if c.Stream == s {
			out = append(out, c)
		}
	}
	return out
}

// Close ends the stream: proxy_on_done, proxy_on_log, proxy_on_delete (spec order). Pending http
// calls stay pending; their responses still reach the root context, as in Envoy.
func (s *Stream) Close() {
	vm := s.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.created && vm.dead == nil {
		vm.current = s.id
		vm.call(vm.fn.done, uint64(s.id))
		vm.current = s.id
		vm.call(vm.fn.log, uint64(s.id))
		vm.current = s.id
		vm.call(vm.fn.delete, uint64(s.id))
		vm.finish()
	}
	delete(vm.streams, s.id)
	s.notify()
}

func (s *Stream) dir(resp bool) *direction {
	if resp {
		return &s.resp
	}
	return &s.req
}

func (s *Stream) ended() bool { return s.reply != nil || s.reset || s.closed }

func (s *Stream) result() Result {
	switch {
	case s.reply != nil:
		return Result{Action: ActionLocalReply, Reply: s.reply}
	case s.reset:
		return Result{Action: ActionReset}
	}
	d := &s.req
	if s.respStarted {
		d = &s.resp
	}
	if d.paused() {
		if s.closed {
			return Result{Action: ActionReset} // closed while paused: the stream was abandoned
		}
		return Result{Action: ActionPause}
	}
	return Result{Action: ActionContinue}
}

func (s *Stream) notify() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// ensureContext creates the stream context lazily on the first event, as Envoy does.
func (s *Stream) ensureContext() bool {
	vm := s.vm
	if vm.dead != nil {
		s.failVM()
		return false
	}
	if s.created {
		return true
	}
	s.created = true
	s.start = time.Now()
	s.id = vm.allocID()
	vm.streams[s.id] = s
	vm.current = s.id
	_, err := vm.call(vm.fn.contextCreate, uint64(s.id), uint64(s.root.id))
	return err == nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (s *Stream) onHeaders(resp bool, h Headers, eos bool) Result {
	vm := s.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if s.ended() {
		return s.result()
	}
	d := s.dir(resp)
	if resp {
		s.respStarted = true
	}
	d.headers.pairs = lowerKeys(h)
	d.hdrSeen, d.eos = true, eos
	if s.failOpen {
		d.hdrReleased = true
		return s.result()
	}
	if s.ensureContext() {
		fn := vm.fn.reqHeaders
		if resp {
			fn = vm.fn.respHeaders
		}
		vm.current = s.id
		act, err := vm.call(fn, uint64(s.id), uint64(len(h)), b2u(eos))
		if err == nil {
			switch uint32(act) {
			case 0, 2: // Continue, ContinueAndEndStream
				d.hdrReleased = true
			default:
				d.hdrPaused = true
				d.stopAll = uint32(act) >= 3 || !vm.h.cfg.AllowOnHeadersStopIteration
			}
		}
		vm.finish()
	}
	s.notify()
	return s.result()
}

func (s *Stream) onBody(resp bool, chunk []byte, eos bool) Result {
	vm := s.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if s.ended() {
		return s.result()
	}
	d := s.dir(resp)
	switch {
	case s.failOpen:
		d.out = append(d.out, chunk...)
		d.eos = eos
	case d.hdrPaused && d.stopAll:
		d.held = append(d.held, chunk...)
		d.heldBody, d.heldEOS = true, eos
	case s.ensureContext():
		s.deliverBody(resp, chunk, eos)
		vm.finish()
	}
	s.notify()
	return s.result()
}

func (s *Stream) deliverBody(resp bool, chunk []byte, eos bool) {
	vm := s.vm
	d := s.dir(resp)
	d.body = append(d.body, chunk...)
	d.eos = eos
	fn := vm.fn.reqBody
	if resp {
		fn = vm.fn.respBody
	}
	vm.current = s.id
	act, err := vm.call(fn, uint64(s.id), uint64(len(d.body)), b2u(eos))
	if err != nil || s.ended() {
		return
	}
	if uint32(act) == 0 {
		if d.hdrPaused && !d.stopAll {
			// Envoy: Continue from the body after headers stopped with
			// StopIteration continues the headers too (commonContinue).
			d.hdrPaused, d.hdrReleased = false, true
		}
		d.release()
		return
	}
	// Envoy StopIterationAndBuffer: keep buffering; the next chunk is delivered with the
	// accumulated size.
	d.bodyPaused = true
}

// release moves the buffered body past the filter.
func (d *direction) release() {
	d.out = append(d.out, d.body...)
	d.body = d.body[:0]
	d.bodyPaused = false
}

func (s *Stream) onTrailers(resp bool, t Headers) Result {
	vm := s.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if s.ended() {
		return s.result()
	}
	d := s.dir(resp)
	switch {
	case s.failOpen:
		d.trailers.pairs = lowerKeys(t)
	case d.hdrPaused && d.stopAll:
		d.heldTrailers, d.hasHeldTrailers = lowerKeys(t), true
	case s.ensureContext():
		s.deliverTrailers(resp, t)
		vm.finish()
	}
	s.notify()
	return s.result()
}

func (s *Stream) deliverTrailers(resp bool, t Headers) {
	vm := s.vm
	d := s.dir(resp)
	d.trailers.pairs = lowerKeys(t)
	d.eos = true
	fn := vm.fn.reqTrailers
	if resp {
		fn = vm.fn.respTrailers
	}
	vm.current = s.id
	act, err := vm.call(fn, uint64(s.id), uint64(len(t)))
	if err != nil || s.ended() {
		return
	}
	if uint32(act) == 0 {
		d.release() // trailers end the data: buffered body goes with them
		d.trlPaused = false
		return
	}
	d.trlPaused = true
}

// touch queues the stream for applyDeferred after the current callback.
func (s *Stream) touch() {
	if !s.queued {
		s.queued = true
		s.vm.touched = append(s.vm.touched, s)
	}
}

// applyDeferred runs the actions the guest requested during a callback, in Envoy's spirit:
// local reply first (it ends the stream), then close, then continue.
func (s *Stream) applyDeferred() {
	s.queued = false
	if r := s.pendingReply; r != nil {
		s.pendingReply = nil
		if !s.ended() {
			if s.resp.hdrReleased {
				s.reset = true // too late to replace a response already sent downstream
			} else {
				s.reply = r
			}
		}
	}
	for i := range 2 {
		if s.wantClose[i] {
			s.wantClose[i] = false
			if !s.ended() {
				s.reset = true
			}
		}
	}
	for i := range 2 {
		if s.wantContinue[i] {
			s.wantContinue[i] = false
			s.resume(i == 1)
		}
	}
	s.notify()
}

// resume is Envoy's continueDecoding/continueEncoding.
func (s *Stream) resume(resp bool) {
	d := s.dir(resp)
	if s.ended() || s.vm.dead != nil {
		return
	}
	switch {
	case d.hdrPaused:
		d.hdrPaused = false
		d.hdrReleased = true
		if !d.stopAll {
			if d.bodyPaused { // continueDecoding sends the buffered body on with the headers
				d.release()
			}
			return
		}
		d.stopAll = false
		if d.heldBody {
			chunk := d.held
			d.held, d.heldBody = nil, false
			s.deliverBody(resp, chunk, d.heldEOS)
		}
		if d.hasHeldTrailers && !s.ended() && s.vm.dead == nil {
			t := d.heldTrailers
			d.heldTrailers, d.hasHeldTrailers = nil, false
			s.deliverTrailers(resp, t)
		}
	case d.bodyPaused || d.trlPaused:
		d.release()
		d.trlPaused = false
	}
}

// failVM applies the failure policy after the VM trapped: Envoy's fail-closed 503
// (details wasm_fail_stream), or pass-through when FailOpen.
func (s *Stream) failVM() {
	if s.ended() || s.failOpen {
		return
	}
	if s.vm.h.cfg.FailOpen {
		s.failOpen = true
		for _, d := range []*direction{&s.req, &s.resp} {
			d.hdrReleased = d.hdrSeen
			d.out = append(d.out, d.body...)
			d.out = append(d.out, d.held...)
			d.body, d.held = nil, nil
			if d.hasHeldTrailers {
				d.trailers.pairs = d.heldTrailers
			}
			d.hdrPaused, d.stopAll, d.bodyPaused, d.trlPaused = false, false, false, false
		}
	} else {
		s.reply = &LocalReply{Status: 503, Details: "wasm_fail_stream", GRPCStatus: -1}
	}
	s.notify()
}
