package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/turnpike-dev/turnpike/shared/pathnorm"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// gateway runs every request through the filter chain (request and response callbacks),
// proxies what the filters let through to the upstream and serves the filters' local replies.
// Each request holds a VM only while a callback runs: a stream paused on an http call frees its
// VM for others. Bodies stream through the filters chunk by chunk (see exchange).
type gateway struct {
	hosts     []*wasmhost.Host // one per VM configuration; a host may run several plugins
	chain     []link           // the filter chain, in request order
	next      atomic.Uint32    // round-robin over workers
	config    *fileConfig      // routes with per-route metadata; nil without --config
	upstream  *url.URL         // nil: requests for no API with a target_url get a 503
	routes    *routes          // per-API upstreams, by the x-turnpike-api-id the filter set
	transport http.RoundTripper
	log       *slog.Logger
	maxBody   int64
}

// hopByHop headers are connection-scoped and never forwarded (RFC 9110 §7.6.1). Content-Length
// is not among them: filters see it, as in Envoy; the gateway sets it itself on what it sends.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"te": true, "trailer": true, "upgrade": true,
}

// holdLimit is how much of a body the gateway collects before it starts sending it on: a body
// that ends within it goes out with its exact Content-Length (the filters may have changed its
// size); a longer one, or one of unknown length, streams with chunked transfer encoding.
const holdLimit = 64 << 10

func (g *gateway) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &accessWriter{ResponseWriter: rw}
	start := time.Now()
	defer func() {
		// One access log line per request, also for a reset (status 0) or a panic.
		g.log.Info("access", "method", r.Method, "path", r.RequestURI, "status", w.status,
			"duration", time.Since(start).Round(time.Microsecond), "upstream", w.upstream, "api_id", w.apiID,
			"local_reply", w.localReply, "bytes", w.bytes)
	}()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	path, err := requestPath(r)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	var props map[string][]byte
	if rt := g.config.route(path); rt != nil {
		props = rt.props
	}
	x, err := newExchange(g.hosts, g.chain, int(g.next.Add(1)-1), g.maxBody, props)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer x.close()
	conn := connectionProperties(r.TLS)
	for _, s := range x.streams {
		s.SetProperty("source.address", []byte(r.RemoteAddr))
		if la, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok {
			s.SetProperty("destination.address", []byte(la.String()))
		}
		for k, v := range conn {
			s.SetProperty(k, v)
		}
	}

	noBody := r.ContentLength == 0
	_, res, err := x.headers(ctx, false, requestHeaders(r, path), noBody)
	if err != nil {
		return // client gone
	}
	if g.finish(w, res, false) {
		return
	}

	// The request body, chunk by chunk through the chain, then to the upstream.
	up := &upstreamCall{g: g, ctx: ctx, log: w}
	if noBody {
		up.start(x, nil, true)
	} else {
		var pending []byte
		stopped := false
		err := readChunks(r.Body, r.ContentLength, func(chunk []byte, eos bool) bool {
			out, res, err := x.body(ctx, false, chunk, eos)
			if err != nil || final(res) {
				stopped = true
				up.abort()
				if err == nil {
					g.finish(w, res, false)
				}
				return false
			}
			pending = append(pending, out...)
			if !up.started() && (eos || len(pending) > holdLimit || r.ContentLength < 0) {
				up.start(x, pending, eos)
				pending = nil
			} else if up.started() && len(pending) > 0 {
				up.write(pending)
				pending = pending[:0]
			}
			return !eos
		})
		if err != nil || stopped {
			up.abort()
			return // client gone, or answered above
		}
		up.closeBody()
	}

	status, respHeaders, body, length := up.result()
	if body != nil {
		defer body.Close()
	}
	respHeaders = append(wasmhost.Headers{{":status", strconv.Itoa(status)}}, respHeaders...)
	respHeaders, res, err = x.headers(ctx, true, respHeaders, length == 0)
	if err != nil {
		return
	}
	if g.finish(w, res, false) {
		return
	}
	if length == 0 {
		writeHeaders(w, respHeaders, keepLength)
		return
	}

	// The response body, chunk by chunk through the chain in reverse, then to the client.
	var pending []byte
	wrote := false
	readErr := readChunks(body, length, func(chunk []byte, eos bool) bool {
		out, res, err := x.body(ctx, true, chunk, eos)
		if err != nil {
			return false
		}
		if final(res) {
			g.finish(w, res, wrote)
			return false
		}
		pending = append(pending, out...)
		if !wrote && (eos || len(pending) > holdLimit || length < 0) {
			n := int64(-1)
			if eos {
				n = int64(len(pending))
			}
			writeHeaders(w, respHeaders, n)
			wrote = true
		}
		if wrote && len(pending) > 0 {
			if _, err := w.Write(pending); err != nil {
				return false
			}
			pending = pending[:0]
			if !eos {
				w.Flush()
			}
		}
		return !eos
	})
	if readErr != nil {
		g.log.Debug("upstream response body failed", "error", readErr)
		if wrote {
			panic(http.ErrAbortHandler) // the client sees the truncation, as with Envoy's reset
		}
		writeResponse(w, wasmhost.Headers{{":status", "502"}, {"content-type", "text/plain"}}, []byte("upstream reset"))
	}
}

// connectionProperties are Envoy's connection attributes of a TLS connection, as a filter reads
// them with proxy_get_property (Envoy's CEL connection.* attributes, source/extensions/filters/
// common/expr/context.cc): mtls (1 byte), requested_server_name, tls_version ("TLSv1.3"),
// subject/dns_san/uri_san of the peer certificate (RFC 2253 subject, first SAN),
// sha256_peer_certificate_digest (lower-case hex). Without TLS there are none (mtls is false).
func connectionProperties(cs *tls.ConnectionState) map[string][]byte {
	if cs == nil {
		return nil
	}
	p := map[string][]byte{
		"connection.requested_server_name": []byte(cs.ServerName),
		"connection.tls_version":           []byte(tlsVersion(cs.Version)),
		"connection.mtls":                  {0},
	}
	if len(cs.PeerCertificates) > 0 {
		peer := cs.PeerCertificates[0]
		digest := sha256.Sum256(peer.Raw)
		p["connection.mtls"] = []byte{1}
		p["connection.subject_peer_certificate"] = []byte(peer.Subject.String())
		p["connection.sha256_peer_certificate_digest"] = []byte(hex.EncodeToString(digest[:]))
		if len(peer.DNSNames) > 0 {
			p["connection.dns_san_peer_certificate"] = []byte(peer.DNSNames[0])
		}
		if len(peer.URIs) > 0 {
			p["connection.uri_san_peer_certificate"] = []byte(peer.URIs[0].String())
		}
	}
	return p
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return ""
}

// accessWriter records what the access log line reports.
type accessWriter struct {
	http.ResponseWriter
	status     int
	bytes      int64
	upstream   string // host the request went to
	apiID      string // the API the filter matched (x-turnpike-api-id)
	localReply bool
}

func (a *accessWriter) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	n, err := a.ResponseWriter.Write(b)
	a.bytes += int64(n)
	return n, err
}

func (a *accessWriter) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// chunkBufs recycles read buffers: a 32 KiB allocation per request and direction would be most
// of the gateway's garbage. A buffer is reused only after fn returned: the filter host copies
// what it is given.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readChunks reads r in chunks of what is available (at most 32 KiB) and hands each to fn with
// end_of_stream set on the last: at EOF, or once the declared length (>= 0) is read, so a body
// usually ends with data rather than with an empty chunk. fn returns false to stop. The error is
// a read error other than EOF.
func readChunks(r io.Reader, length int64, fn func(chunk []byte, eos bool) bool) error {
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if err != nil && err != io.EOF {
			return err
		}
		eos := err == io.EOF || (length >= 0 && total >= length)
		if (n > 0 || eos) && !fn(buf[:n], eos) {
			return nil
		}
		if eos {
			return nil
		}
	}
}

func final(r wasmhost.Result) bool {
	return r.Action == wasmhost.ActionLocalReply || r.Action == wasmhost.ActionReset
}

// finish serves a local reply or aborts a reset stream; it reports whether the request is done.
// A local reply after the response headers went to the client can only reset the stream.
func (g *gateway) finish(w http.ResponseWriter, res wasmhost.Result, headersSent bool) bool {
	switch res.Action {
	case wasmhost.ActionLocalReply:
		if headersSent {
			panic(http.ErrAbortHandler)
		}
		if aw, ok := w.(*accessWriter); ok {
			aw.localReply = true
		}
		h := append(wasmhost.Headers{{":status", strconv.Itoa(res.Reply.Status)}}, res.Reply.Headers...)
		writeResponse(w, h, res.Reply.Body)
		return true
	case wasmhost.ActionReset:
		panic(http.ErrAbortHandler) // closes the connection without a response, like a stream reset
	}
	return false
}

// requestPath returns the :path the filter sees and the upstream gets: the request target
// normalized as Envoy's HTTP connection manager does with normalize_path and merge_slashes (see
// shared/pathnorm), so the filter authorizes the path the upstream serves. The target is taken as
// the client sent it; an absolute-form target ("GET http://host/a") becomes origin-form first, as
// Envoy's codec does. A path that cannot be normalized safely is an error: the request is refused
// before the filter runs.
func requestPath(r *http.Request) (string, error) {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") && target != "*" {
		target = r.URL.RequestURI()
	}
	path, _, err := pathnorm.Normalize(target)
	return path, err
}

// writeJSONError answers with {"error": msg}, the body Envoy-side local replies use.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// requestHeaders builds the proxy-wasm view of r with the given :path: pseudo-headers first, then
// lower-cased headers, plus the x-request-id and x-forwarded-proto Envoy adds, and the peer's address
// appended to x-forwarded-for, as Envoy does with use_remote_address (and Go's ReverseProxy, nginx):
// the upstream sees the hops, and the filter finds the client's address among the headers it
// already read instead of asking for the source.address property (analytics records).
func requestHeaders(r *http.Request, path string) wasmhost.Headers {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := wasmhost.Headers{
		{":method", r.Method}, {":path", path}, {":authority", r.Host}, {":scheme", scheme},
	}
	h = append(h, sortedPairs(r.Header)...)
	if peer, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h = appendForwardedFor(h, peer)
	}
	if r.Header.Get("X-Request-Id") == "" {
		h = append(h, [2]string{"x-request-id", requestID()})
	}
	if r.Header.Get("X-Forwarded-Proto") == "" {
		h = append(h, [2]string{"x-forwarded-proto", scheme})
	}
	return h
}

// appendForwardedFor appends peer to the request's x-forwarded-for: to its last value, or as the
// header's first value when the client sent none.
func appendForwardedFor(h wasmhost.Headers, peer string) wasmhost.Headers {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i][0] == "x-forwarded-for" {
			h[i][1] += ", " + peer
			return h
		}
	}
	return append(h, [2]string{"x-forwarded-for", peer})
}

func sortedPairs(hdr http.Header) wasmhost.Headers {
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out wasmhost.Headers
	for _, k := range keys {
		lk := strings.ToLower(k)
		if hopByHop[lk] {
			continue
		}
		for _, v := range hdr[k] {
			out = append(out, [2]string{lk, v})
		}
	}
	return out
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // UUID v4
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// upstreamCall is the request to the upstream. It starts once the request headers went through
// the filters and either the whole body did too (it then goes with its exact Content-Length) or
// more than holdLimit of it (it then streams). Failures become the responses Envoy's router
// would generate, and those still go through the filters' response callbacks.
type upstreamCall struct {
	g      *gateway
	log    *accessWriter
	ctx    context.Context
	cancel context.CancelFunc
	pw     *io.PipeWriter
	done   chan struct{}

	status  int
	headers wasmhost.Headers
	body    io.ReadCloser
	length  int64 // of body; -1 unknown
}

func (u *upstreamCall) started() bool { return u.done != nil }

// start sends the request as the last filter left it, with body (all of it when complete, else
// the first part of a body that write and closeBody continue).
func (u *upstreamCall) start(x *exchange, body []byte, complete bool) {
	u.done = make(chan struct{})
	m := x.streams[len(x.streams)-1].Request()
	u.log.apiID, _ = m.Headers.Get(headerAPIID)
	req, status := u.g.upstreamRequest(u.ctx, m.Headers)
	if req != nil {
		u.log.upstream = req.URL.Host
	}
	if req == nil {
		u.status, u.headers, u.body, u.length = envoyReply(status.code, status.msg)
		close(u.done)
		return
	}
	var ctx context.Context
	ctx, u.cancel = context.WithCancel(u.ctx)
	req = req.WithContext(ctx)
	switch {
	case complete:
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if len(body) == 0 {
			req.Body = http.NoBody
		}
	default:
		pr, pw := io.Pipe()
		u.pw = pw
		req.Body, req.ContentLength = pr, -1 // chunked: the filters may change the length
	}
	go func() {
		defer close(u.done)
		resp, err := u.g.transport.RoundTrip(req)
		if err != nil {
			u.g.log.Debug("upstream request failed", "error", err)
			u.status, u.headers, u.body, u.length = envoyReply(http.StatusServiceUnavailable,
				"upstream connect error or disconnect/reset before headers. reset reason: connection failure")
			return
		}
		u.status, u.headers, u.body, u.length = resp.StatusCode, sortedPairs(resp.Header), resp.Body, resp.ContentLength
		if req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
			u.length = 0
		}
	}()
	if !complete {
		u.write(body)
	}
}

// write sends more of a streaming body; after the upstream gave up on it, writes are dropped.
func (u *upstreamCall) write(b []byte) {
	if u.pw != nil && len(b) > 0 {
		_, _ = u.pw.Write(b)
	}
}

func (u *upstreamCall) closeBody() {
	if u.pw != nil {
		_ = u.pw.Close()
	}
}

// abort gives up on the upstream request (the filters answered, or the client left).
func (u *upstreamCall) abort() {
	if u.cancel != nil {
		u.cancel()
	}
	if u.pw != nil {
		_ = u.pw.CloseWithError(context.Canceled)
	}
}

// result waits for the upstream's answer: status, headers, body and its length (-1 unknown).
func (u *upstreamCall) result() (int, wasmhost.Headers, io.ReadCloser, int64) {
	<-u.done
	return u.status, u.headers, u.body, u.length
}

type failure struct {
	code int
	msg  string
}

// upstreamRequest builds the request to the upstream from the headers the filters left: the
// API's target_url when the filter marked an API that has one (x-turnpike-api-id), else
// --upstream. The header itself never goes upstream.
func (g *gateway) upstreamRequest(ctx context.Context, h wasmhost.Headers) (*http.Request, failure) {
	method, _ := h.Get(":method")
	path, _ := h.Get(":path")
	authority, _ := h.Get(":authority")
	if !strings.HasPrefix(path, "/") {
		return nil, failure{http.StatusBadRequest, "invalid :path"}
	}
	var target *url.URL
	if apiID, _ := h.Get(headerAPIID); apiID != "" && g.routes != nil {
		if rt, ok := g.routes.lookup(ctx, apiID); ok && rt.target != nil {
			target = rt.upstreamURL(path)
			if !rt.preserveHost { // Tyk sends the target's host unless preserve_host_header
				authority = rt.target.Host
			}
		}
	}
	if target == nil {
		if g.upstream == nil {
			return nil, failure{http.StatusServiceUnavailable, "no healthy upstream"}
		}
		rel, err := url.Parse(path)
		if err != nil {
			return nil, failure{http.StatusBadRequest, "invalid :path"}
		}
		// The path goes upstream byte for byte as the filter left it (RawPath), not decoded and
		// re-encoded: %2C must not turn into ',' after the filter authorized the path.
		u := *g.upstream
		u.Path = strings.TrimRight(g.upstream.Path, "/") + rel.Path
		u.RawPath = strings.TrimRight(g.upstream.EscapedPath(), "/") + rel.EscapedPath()
		u.RawQuery = rel.RawQuery
		target = &u
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), http.NoBody)
	if err != nil {
		return nil, failure{http.StatusBadRequest, err.Error()}
	}
	req.Host = authority
	for _, p := range h {
		if !strings.HasPrefix(p[0], ":") && !hopByHop[p[0]] && p[0] != "host" && p[0] != "content-length" && p[0] != headerAPIID {
			req.Header.Add(p[0], p[1])
		}
	}
	return req, failure{}
}

// envoyReply is a response Envoy's router generates (no upstream, connect failure).
func envoyReply(status int, body string) (int, wasmhost.Headers, io.ReadCloser, int64) {
	return status, wasmhost.Headers{{"content-type", "text/plain"}, {"content-length", strconv.Itoa(len(body))}},
		io.NopCloser(strings.NewReader(body)), int64(len(body))
}

// keepLength: writeHeaders sends the Content-Length the headers carry (HEAD, 204, 304).
const keepLength = -2

// writeHeaders sends the status and headers. n >= 0 sets Content-Length to n; -1 sends none
// (chunked); keepLength keeps the one in h.
func writeHeaders(w http.ResponseWriter, h wasmhost.Headers, n int64) {
	status := http.StatusOK
	if s, ok := h.Get(":status"); ok {
		if v, err := strconv.Atoi(s); err == nil && v >= 100 && v <= 999 {
			status = v
		}
	}
	out := w.Header()
	for _, p := range h {
		if strings.HasPrefix(p[0], ":") || hopByHop[p[0]] || (p[0] == "content-length" && n != keepLength) {
			continue
		}
		out.Add(p[0], p[1])
	}
	if n >= 0 {
		out.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.WriteHeader(status)
}

// writeResponse sends a complete response.
func writeResponse(w http.ResponseWriter, h wasmhost.Headers, body []byte) {
	writeHeaders(w, h, int64(len(body)))
	_, _ = w.Write(body)
}
