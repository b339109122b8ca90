package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/pathnorm"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// gateway runs every request through the filter (request and response callbacks), proxies what
// the filter lets through to the upstream and serves the filter's local replies. Each request
// holds a VM only while a callback runs: a stream paused on an http call frees its VM for others.
type gateway struct {
	host      *wasmhost.Host
	upstream  *url.URL // nil: requests for no API with a target_url get a 503
	routes    *routes  // per-API upstreams, by the x-turnpike-api-id the filter set
	transport http.RoundTripper
	log       *slog.Logger
	maxBody   int64
}

// hopByHop headers are connection-scoped and never forwarded (RFC 9110 §7.6.1).
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"te": true, "trailer": true, "upgrade": true, "content-length": true,
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	path, err := requestPath(r)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	s := g.host.NewStream()
	defer s.Close()
	s.SetProperty("source.address", []byte(r.RemoteAddr))
	if la, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.SetProperty("destination.address", []byte(la.String()))
	}

	res := s.RequestHeaders(requestHeaders(r, path), len(body) == 0)
	if len(body) > 0 && !final(res) {
		res = s.RequestBody(body, true) // held by the host while headers are paused
	}
	if res, err = s.Wait(ctx); err != nil {
		return // client gone
	}
	if g.finish(w, res) {
		return
	}

	status, headers, respBody := g.forward(ctx, s.Request())
	res = s.ResponseHeaders(append(wasmhost.Headers{{":status", strconv.Itoa(status)}}, headers...), len(respBody) == 0)
	if len(respBody) > 0 && !final(res) {
		res = s.ResponseBody(respBody, true)
	}
	if res, err = s.Wait(ctx); err != nil {
		return
	}
	if g.finish(w, res) {
		return
	}
	resp := s.Response()
	writeResponse(w, resp.Headers, resp.Body)
}

func final(r wasmhost.Result) bool {
	return r.Action == wasmhost.ActionLocalReply || r.Action == wasmhost.ActionReset
}

// finish serves a local reply or aborts a reset stream; it reports whether the request is done.
func (g *gateway) finish(w http.ResponseWriter, res wasmhost.Result) bool {
	switch res.Action {
	case wasmhost.ActionLocalReply:
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
// lower-cased headers, plus the x-request-id and x-forwarded-proto Envoy adds.
func requestHeaders(r *http.Request, path string) wasmhost.Headers {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := wasmhost.Headers{
		{":method", r.Method}, {":path", path}, {":authority", r.Host}, {":scheme", scheme},
	}
	h = append(h, sortedPairs(r.Header)...)
	if r.Header.Get("X-Request-Id") == "" {
		h = append(h, [2]string{"x-request-id", requestID()})
	}
	if r.Header.Get("X-Forwarded-Proto") == "" {
		h = append(h, [2]string{"x-forwarded-proto", scheme})
	}
	return h
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

// forward sends the request as the filter left it. Failures become the responses Envoy's router
// would generate, and those still go through the filter's response callbacks.
func (g *gateway) forward(ctx context.Context, m wasmhost.Message) (int, wasmhost.Headers, []byte) {
	method, _ := m.Headers.Get(":method")
	path, _ := m.Headers.Get(":path")
	authority, _ := m.Headers.Get(":authority")
	if !strings.HasPrefix(path, "/") {
		return envoyReply(http.StatusBadRequest, "invalid :path")
	}
	var target *url.URL
	if apiID, _ := m.Headers.Get(headerAPIID); apiID != "" && g.routes != nil {
		if rt, ok := g.routes.lookup(ctx, apiID); ok && rt.target != nil {
			target = rt.upstreamURL(path)
			if !rt.preserveHost { // Tyk sends the target's host unless preserve_host_header
				authority = rt.target.Host
			}
		}
	}
	if target == nil {
		if g.upstream == nil {
			return envoyReply(http.StatusServiceUnavailable, "no healthy upstream")
		}
		rel, err := url.Parse(path)
		if err != nil {
			return envoyReply(http.StatusBadRequest, "invalid :path")
		}
		// The path goes upstream byte for byte as the filter left it (RawPath), not decoded and
		// re-encoded: %2C must not turn into ',' after the filter authorized the path.
		u := *g.upstream
		u.Path = strings.TrimRight(g.upstream.Path, "/") + rel.Path
		u.RawPath = strings.TrimRight(g.upstream.EscapedPath(), "/") + rel.EscapedPath()
		u.RawQuery = rel.RawQuery
		target = &u
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(m.Body))
	if err != nil {
		return envoyReply(http.StatusBadRequest, err.Error())
	}
	req.Host = authority
	for _, p := range m.Headers {
		if !strings.HasPrefix(p[0], ":") && !hopByHop[p[0]] && p[0] != "host" && p[0] != headerAPIID {
			req.Header.Add(p[0], p[1])
		}
	}
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		g.log.Debug("upstream request failed", "error", err)
		return envoyReply(http.StatusServiceUnavailable,
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, g.maxBody+1))
	if err != nil || int64(len(body)) > g.maxBody {
		if err == nil {
			err = errors.New("response body over the limit")
		}
		g.log.Debug("upstream response failed", "error", err)
		return envoyReply(http.StatusBadGateway, "upstream reset")
	}
	return resp.StatusCode, sortedPairs(resp.Header), body
}

func envoyReply(status int, body string) (int, wasmhost.Headers, []byte) {
	return status, wasmhost.Headers{{"content-type", "text/plain"}}, []byte(body)
}

func writeResponse(w http.ResponseWriter, h wasmhost.Headers, body []byte) {
	status := http.StatusOK
	if s, ok := h.Get(":status"); ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 999 {
			status = n
		}
	}
	out := w.Header()
	for _, p := range h {
		if !strings.HasPrefix(p[0], ":") && !hopByHop[p[0]] {
			out.Add(p[0], p[1])
		}
	}
	out.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
