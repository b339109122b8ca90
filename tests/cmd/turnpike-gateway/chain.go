package main

import (
	"context"
	"net/http"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// exchange is one request through the filter chain: a stream per filter. Requests pass the
// filters in order, responses in reverse order (Envoy's decoder and encoder filter chains).
// Bodies stream: each chunk goes through the filters as it arrives, with end_of_stream on the
// last; a filter that returns StopIterationAndBuffer holds what it was given until it
// continues, and what the filters hold is bounded by maxBody.
type exchange struct {
	streams []*wasmhost.Stream
	maxBody int64
	held    [2][]int64 // per direction and filter: bytes fed in minus bytes released
}

// link is one filter of the chain: a plugin (root_id) of one of the gateway's hosts.
type link struct {
	host   int
	rootID string
}

// newExchange opens a stream per filter, all on the same worker (as one Envoy worker runs a
// request's whole filter chain), each with the route's properties.
func newExchange(hosts []*wasmhost.Host, chain []link, worker int, maxBody int64, props map[string][]byte) (*exchange, error) {
	x := &exchange{maxBody: maxBody}
	for _, l := range chain {
		h := hosts[l.host]
		s, err := h.VM(worker % h.NumVMs()).NewStreamFor(l.rootID)
		if err != nil {
			x.close()
			return nil, err
		}
		for k, v := range props {
			s.SetProperty(k, v)
		}
		x.streams = append(x.streams, s)
	}
	x.held[0] = make([]int64, len(chain))
	x.held[1] = make([]int64, len(chain))
	return x, nil
}

func (x *exchange) close() {
	for _, s := range x.streams {
		s.Close()
	}
}

// order lists the filter indexes in the order a direction passes them.
func (x *exchange) order(response bool) []int {
	idx := make([]int, len(x.streams))
	for i := range idx {
		idx[i] = i
		if response {
			idx[i] = len(idx) - 1 - i
		}
	}
	return idx
}

// headers runs the headers through the chain, each filter getting them as the previous one
// left them, and waits while a filter pauses them (an http call). It returns the headers as the
// last filter left them, or a final result (local reply, reset).
func (x *exchange) headers(ctx context.Context, response bool, h wasmhost.Headers, eos bool) (wasmhost.Headers, wasmhost.Result, error) {
	for _, i := range x.order(response) {
		s := x.streams[i]
		var res wasmhost.Result
		if response {
			res = s.ResponseHeaders(h, eos)
		} else {
			res = s.RequestHeaders(h, eos)
		}
		if res.Action == wasmhost.ActionPause {
			var err error
			if res, err = s.Wait(ctx); err != nil {
				return nil, res, err
			}
		}
		if final(res) {
			return nil, res, nil
		}
		if response {
			h = s.Response().Headers
		} else {
			h = s.Request().Headers
		}
	}
	return h, wasmhost.Result{}, nil
}

// body runs one chunk through the chain and returns what came out of the last filter. A filter
// that pauses before the end of the stream is buffering and gets the next chunk; at the end of
// the stream a pause means it waits for something (an http call) and is waited for. More than
// maxBody held by one filter ends the request as Envoy does: 413 for a request, 500 for a
// response.
func (x *exchange) body(ctx context.Context, response bool, chunk []byte, eos bool) ([]byte, wasmhost.Result, error) {
	data := chunk
	for _, i := range x.order(response) {
		if len(data) == 0 && !eos {
			return nil, wasmhost.Result{}, nil
		}
		s := x.streams[i]
		var res wasmhost.Result
		if response {
			res = s.ResponseBody(data, eos)
		} else {
			res = s.RequestBody(data, eos)
		}
		if res.Action == wasmhost.ActionPause && eos {
			var err error
			if res, err = s.Wait(ctx); err != nil {
				return nil, res, err
			}
		}
		if final(res) {
			return nil, res, nil
		}
		in := int64(len(data))
		if response {
			data = s.TakeResponseBody()
		} else {
			data = s.TakeRequestBody()
		}
		held := &x.held[b2i(response)][i]
		*held += in - int64(len(data))
		if *held > x.maxBody {
			if response {
				return nil, localReply(http.StatusInternalServerError, "buffer exceeded"), nil
			}
			return nil, localReply(http.StatusRequestEntityTooLarge, "Payload Too Large"), nil
		}
	}
	return data, wasmhost.Result{}, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func localReply(status int, body string) wasmhost.Result {
	return wasmhost.Result{Action: wasmhost.ActionLocalReply, Reply: &wasmhost.LocalReply{
		Status: status, Headers: wasmhost.Headers{{"content-type", "text/plain"}}, Body: []byte(body), GRPCStatus: -1}}
}
