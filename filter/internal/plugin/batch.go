package plugin

import (
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/pathnorm"
	"github.com/valyala/fastjson"
)

// Batch requests (Tyk's BatchRequestHandler, enable_batch_request_support):
// POST /{listen_path}/tyk/batch/ with
//
//	{"requests":[{"method","headers":{},"body","relative_url"}],"suppress_parallel_execution":bool}
//
// is answered by the filter with the array of
// {"relative_url","code","headers":{name:[values]},"body"}, in request
// order. The batch itself needs no key; each sub-request is a request of
// its own: it runs through the pipeline on a sub-request context (its own
// key, policies, access rights, rate limit and quota, cache and header
// transforms), so three sub-requests with one key count three times, and a
// denied one carries the filter's 401/403/429 and error body. Allowed
// sub-requests go to the API's upstream with proxy_http_call, to the
// cluster batch.upstream_clusters names for the API; in parallel unless
// suppress_parallel_execution.
//
// A relative_url is a path under the API's listen path: after
// normalization it must stay under it and the sub-request must match the
// same API, else that sub-request gets 400 — a batch can reach no other
// API and no other host. The body is at most batch.max_body_bytes and the
// batch at most batch.max_requests sub-requests (400 beyond).
//
// The body is read in OnHttpRequestBody: the headers of a batch request
// continue (so the host delivers the body), the body is held until it is
// complete, and the answer replaces the request. In Envoy the router may
// have opened the upstream request by then; the local reply resets it.

// Tyk's batch error messages.
const (
	msgBatchMalformed = "Batch request malformed"
)

// batchPath is the batch endpoint under a listen path.
const batchPath = "tyk/batch"

// batchState is a batch request being answered (on the parent context).
type batchState struct {
	api        *model.APIDefinition
	cluster    string
	authority  string
	body       []byte
	items      []batchItem
	results    []batchResult
	pending    int
	next       int
	sequential bool
	children   map[uint32]bool
	done       bool
}

type batchItem struct {
	method, relURL, body string
	headers              [][2]string
}

type batchResult struct {
	code    int
	headers [][2]string
	body    []byte
}

// batchCtx links a batch request and its sub-requests.
type batchCtx struct {
	state    *batchState // on the batch request
	parent   *httpContext
	parentID uint32 // on a sub-request: the batch request's context
	index    int
	sub      *subHost
}

// isBatch reports whether the request is a batch request for api.
func (h *httpContext) isBatch(api *model.APIDefinition) bool {
	if !api.EnableBatchRequestSupport || h.method != "POST" {
		return false
	}
	p := strings.TrimSuffix(stripQuery(h.path), "/")
	lp := api.Proxy.ListenPath
	if !strings.HasSuffix(lp, "/") {
		lp += "/"
	}
	return p == lp+batchPath
}

func stripQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// startBatch takes a batch request over: its body is read by
// OnHttpRequestBody. A batch without a body is malformed.
func (h *httpContext) startBatch() verdict {
	r := h.root
	if h.bx.parentID != 0 {
		// A sub-request naming the batch endpoint: batches do not nest.
		return h.batchError(400, msgBatchMalformed)
	}
	cluster := r.cfg.Batch.UpstreamClusters[h.api.APIID]
	if cluster == "" {
		r.log(host.Error, "batch request for API "+strconv.Quote(h.api.APIID)+
			" refused: no upstream cluster for it in batch.upstream_clusters")
		return h.batchError(500, "Batch requests are not configured for this API")
	}
	if !h.bodyFollows {
		return h.batchError(400, msgBatchMalformed)
	}
	authority := h.authority
	if host := targetHost(h.api.Proxy.TargetURL); host != "" {
		authority = host
	}
	h.bx.state = &batchState{api: h.api, cluster: cluster, authority: strings.Clone(authority), children: map[uint32]bool{}}
	h.detach()
	r.streams[h.id] = h // lives on: its body and sub-requests come later
	r.m.decision(outBatch)
	return forward
}

// targetHost is the host[:port] of an http(s) target_url ("" if it has
// none). Read by hand: net/url would add to filter.wasm for one field.
func targetHost(target string) string {
	_, rest, ok := strings.Cut(target, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:] // userinfo is not part of the authority sent
	}
	return rest
}

// outBatch counts batch requests; each sub-request counts as a request.
const outBatch = "batch"

// batchError answers the batch request itself, with Tyk's API error
// envelope.
func (h *httpContext) batchError(status uint32, msg string) verdict {
	body := append(model.AppendString([]byte(`{"status":"error","message":`), msg), '}')
	if err := h.host.Reply(status, [][2]string{{"content-type", "application/json"}}, body); err != nil {
		h.host.Close()
	}
	return replied
}

// batchBody collects a batch request's body (held by the host
// until it is complete) and, at its end, starts the sub-requests.
func (h *httpContext) batchBody(bodySize int, endOfStream bool) proxywasm.Action {
	b := h.bx.state
	if int64(bodySize) > h.root.cfg.Batch.MaxBodyBytes {
		b.done = true
		h.batchError(400, "Batch request too large: the body limit is "+strconv.FormatInt(h.root.cfg.Batch.MaxBodyBytes, 10)+" bytes")
		return proxywasm.ActionPause
	}
	if !endOfStream {
		return proxywasm.ActionPause // buffer until the whole body is there
	}
	body, err := h.host.RequestBody(bodySize)
	if err != nil {
		b.done = true
		h.batchError(400, msgBatchMalformed)
		return proxywasm.ActionPause
	}
	if msg := b.parse(body, h.root.cfg.Batch.MaxRequests); msg != "" {
		b.done = true
		h.batchError(400, msg)
		return proxywasm.ActionPause
	}
	h.now = h.root.now()
	if len(b.items) == 0 {
		h.finishBatch()
		return proxywasm.ActionPause
	}
	if b.sequential {
		h.startItem(0)
	} else {
		for i := range b.items {
			if b.done {
				break
			}
			h.startItem(i)
		}
	}
	return proxywasm.ActionPause
}

// parse reads the batch body; the result is "" or the 400 message.
func (b *batchState) parse(body []byte, maxRequests int) string {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return msgBatchMalformed
	}
	reqs := v.GetArray("requests")
	if len(reqs) > maxRequests {
		return "Batch request too large: at most " + strconv.Itoa(maxRequests) + " requests"
	}
	b.sequential = v.GetBool("suppress_parallel_execution")
	for _, rv := range reqs {
		if rv.Type() != fastjson.TypeObject {
			return msgBatchMalformed
		}
		it := batchItem{
			method: strings.ToUpper(string(rv.GetStringBytes("method"))),
			relURL: string(rv.GetStringBytes("relative_url")),
			body:   string(rv.GetStringBytes("body")),
		}
		if it.method == "" {
			it.method = "GET"
		}
		if o := rv.GetObject("headers"); o != nil {
			o.Visit(func(k []byte, hv *fastjson.Value) {
				name := strings.ToLower(string(k))
				// The sub-request's host, method and path are the batch's to
				// set; hop-by-hop headers describe another connection.
				if name == "" || name[0] == ':' || name == "host" || name == "content-length" || name == "transfer-encoding" {
					return
				}
				it.headers = append(it.headers, [2]string{name, string(hv.GetStringBytes())})
			})
		}
		b.items = append(b.items, it)
	}
	b.results = make([]batchResult, len(b.items))
	b.pending = len(b.items)
	return ""
}

// startItem runs sub-request i through the pipeline on a context of its
// own.
func (h *httpContext) startItem(i int) {
	r := h.root
	b := h.bx.state
	b.next = i + 1
	it := &b.items[i]
	path, ok := h.subPath(it.relURL)
	if !ok {
		h.itemDone(i, batchResult{code: 400, body: model.AppendError(nil, "relative_url must be a path under the API")})
		return
	}
	r.subSeq++
	id := subContextBase + r.subSeq
	sub := &subHost{Host: r.host, headers: append([][2]string{{":method", it.method}, {":path", path},
		{":authority", h.authority}}, it.headers...)}
	child := &httpContext{root: r, host: sub, id: id}
	child.bx = batchCtx{parent: h, parentID: h.id, index: i, sub: sub}
	sub.ctx = child
	r.streams[id] = child
	b.children[id] = true
	if child.OnHttpRequestHeaders(len(sub.headers), it.body == "") == proxywasm.ActionContinue {
		sub.Resume() // allowed at once
	}
	// Otherwise replied (the result is recorded) or waiting for the
	// sidecar: its resume ends in subHost.Reply or subHost.Resume.
}

// subContextBase numbers sub-request contexts above any id the host
// gives out, so they never collide with a real stream in r.streams.
const subContextBase = 1 << 31

// contextOf is the host context a (sub-)request's callbacks run in: a
// sub-request has none of its own, so its batch request's.
func (r *Root) contextOf(id uint32) uint32 {
	if h := r.streams[id]; h != nil && h.bx.parentID != 0 {
		return h.bx.parentID
	}
	return id
}

// subPath is the sub-request's :path: relative_url under the listen path,
// which normalization must not leave.
func (h *httpContext) subPath(rel string) (string, bool) {
	if strings.Contains(rel, "://") || strings.HasPrefix(rel, "//") || strings.ContainsAny(rel, "\\") {
		return "", false
	}
	lp := h.api.Proxy.ListenPath
	if !strings.HasSuffix(lp, "/") {
		lp += "/"
	}
	p := lp + strings.TrimPrefix(rel, "/")
	norm, _, err := pathnorm.Normalize(p)
	if err != nil || !strings.HasPrefix(stripQuery(norm)+"/", lp) {
		return "", false
	}
	return p, true
}

// forwardSub sends an allowed sub-request to the API's upstream.
func (h *httpContext) forwardSub() {
	parent := h.bx.parent
	b := parent.bx.state
	i := h.bx.index
	if h.api != b.api {
		// Matched another API (a longer listen path under this one): its
		// upstream is not this cluster's, so it is not sent.
		h.subDone(batchResult{code: 400, body: model.AppendError(nil, "relative_url must be a path under the API")})
		return
	}
	var hdrs [][2]string
	for _, kv := range h.bx.sub.headers {
		switch kv[0] {
		case HeaderAPIID:
			continue
		case ":authority":
			kv[1] = b.authority
		}
		hdrs = append(hdrs, kv)
	}
	h.resp.cache = nil // sub-responses are not stored: they do not stream through the filter
	err := h.root.host.Call(b.cluster, hdrs, []byte(b.items[i].body), h.root.cfg.Batch.TimeoutMS,
		func(ans *host.CallResponse) {
			// The answer is a view of VM memory valid during this callback:
			// the batch answers later, so it is copied.
			res := batchResult{code: ans.Status, body: append([]byte(nil), ans.Body...)}
			if ans.Status != 0 {
				var headers [][2]string
				for _, kv := range ans.Headers {
					if kv[0] != "" && kv[0][0] != ':' {
						headers = append(headers, [2]string{strings.Clone(kv[0]), strings.Clone(kv[1])})
					}
				}
				headers = applyHeaderOps(headers, h.responseHeaderOps())
				if h.authorized {
					headers = append(headers, h.limitHeaders()...)
				}
				res.headers = headers
			}
			h.subDone(res)
		})
	if err != nil {
		h.root.log(host.Warn, "batch sub-request to cluster "+strconv.Quote(b.cluster)+" failed: "+err.Error())
		h.subDone(batchResult{})
	}
}

// subDone records a sub-request's result.
func (h *httpContext) subDone(res batchResult) {
	r := h.root
	delete(r.streams, h.id)
	parent := h.bx.parent
	if b := parent.bx.state; b != nil {
		delete(b.children, h.id)
		parent.itemDone(h.bx.index, res)
	}
}

// itemDone records result i; the last one answers the batch, and in
// sequential mode each starts the next.
func (h *httpContext) itemDone(i int, res batchResult) {
	b := h.bx.state
	if b == nil || b.done {
		return
	}
	b.results[i] = res
	b.pending--
	if b.pending == 0 {
		h.finishBatch()
		return
	}
	if b.sequential && b.next < len(b.items) {
		h.startItem(b.next)
	}
}

// finishBatch answers the batch request with every result, in request
// order (Tyk's order is completion order; the seed says it is not
// guaranteed either way).
func (h *httpContext) finishBatch() {
	b := h.bx.state
	b.done = true
	out := []byte{'['}
	for i, res := range b.results {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"relative_url":`...)
		out = model.AppendString(out, b.items[i].relURL)
		out = append(out, `,"code":`...)
		out = strconv.AppendInt(out, int64(res.code), 10)
		out = append(out, `,"headers":`...)
		out = appendHeaderMap(out, res.headers)
		out = append(out, `,"body":`...)
		out = model.AppendString(out, string(res.body))
		out = append(out, '}')
	}
	out = append(out, ']')
	_ = h.root.host.SetContext(h.id)
	if err := h.root.host.Reply(200, [][2]string{{"content-type", "application/json"}}, out); err != nil {
		h.root.log(host.Error, "sending a batch answer: "+err.Error())
		h.root.host.Close()
	}
}

// appendHeaderMap writes headers as Go's http.Header does: canonical names,
// each with its list of values; null when there are none.
func appendHeaderMap(dst []byte, headers [][2]string) []byte {
	if headers == nil {
		return append(dst, "null"...)
	}
	var names []string
	values := map[string][]string{}
	for _, kv := range headers {
		n := canonicalHeader(kv[0])
		if _, ok := values[n]; !ok {
			names = append(names, n)
		}
		values[n] = append(values[n], kv[1])
	}
	dst = append(dst, '{')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, n)
		dst = append(dst, ":["...)
		for j, v := range values[n] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = model.AppendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// canonicalHeader is Go's canonical MIME header key: x-tyk-test is
// X-Tyk-Test.
func canonicalHeader(n string) string {
	b := []byte(n)
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return string(b)
}

// endBatch forgets a batch whose stream ended: its sub-requests' answers
// arriving later find nothing to resume.
func (h *httpContext) endBatch() {
	if b := h.bx.state; b != nil {
		b.done = true
		for id := range b.children {
			delete(h.root.streams, id)
		}
	}
}

// subHost is the host a sub-request's pipeline sees: its request headers
// are the sub-request's, a reply is its result, resuming it sends it
// upstream. Everything else (shared data, calls, clock) is the real host.
type subHost struct {
	host.Host
	ctx     *httpContext
	headers [][2]string
	ended   bool
}

func (s *subHost) RequestHeader(name string) string {
	for _, kv := range s.headers {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func (s *subHost) SetRequestHeader(name, value string) {
	for i, kv := range s.headers {
		if kv[0] == name {
			s.headers[i][1] = value
			return
		}
	}
	s.headers = append(s.headers, [2]string{name, value})
}

func (s *subHost) RemoveRequestHeader(name string) {
	out := s.headers[:0]
	for _, kv := range s.headers {
		if kv[0] != name {
			out = append(out, kv)
		}
	}
	s.headers = out
}

// Reply is the sub-request's answer: a denial, or a cached response.
func (s *subHost) Reply(status uint32, headers [][2]string, body []byte) error {
	if s.ended {
		return nil
	}
	s.ended = true
	s.ctx.subDone(batchResult{code: int(status), headers: headers, body: append([]byte(nil), body...)})
	return nil
}

// Resume: the sub-request paused for the sidecar and is now allowed.
func (s *subHost) Resume() {
	if !s.ended {
		s.ended = true
		s.ctx.forwardSub()
	}
}

// Close: the sub-request failed unexpectedly.
func (s *subHost) Close() {
	if !s.ended {
		s.ended = true
		s.ctx.subDone(batchResult{})
	}
}

// A sub-request has no response stream of its own.
func (s *subHost) SetResponseHeader(string, []byte) {}
func (s *subHost) RemoveResponseHeader(string)      {}
func (s *subHost) ResponseHeaders() [][2]string     { return nil }
func (s *subHost) ResponseBody(int) ([]byte, error) { return nil, host.ErrNoHost }
func (s *subHost) RequestBody(int) ([]byte, error)  { return nil, host.ErrNoHost }
