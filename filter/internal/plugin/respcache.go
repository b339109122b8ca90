package plugin

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// The response cache (Tyk's RedisCacheMiddleware and
// ResponseCacheMiddleware, cache_options), in proxy-wasm shared data
// (shm/respcache.go) so that all workers of a proxy share it.
//
// A cached response is served by the pipeline step "response cache",
// after authentication, access rights, rate limit and quota: a cache never
// bypasses access control, and a hit counts against the key's rate and
// quota like any request (as in Tyk). Entries are per key, as Tyk's: the
// cache key is the API, its cache generation, the key hash, the method,
// the path with its query, and the cache_by_headers values (stored whole
// in the entry and compared on read).
// Only GET, HEAD and OPTIONS are cached (entries for other methods would
// need the body in the key; the Gateway API refuses them).
//
// DELETE /tyk/cache/{apiID} bumps the API's generation in the sidecar's
// snapshot: every VM then computes new keys, so the old entries are never
// served again, and each VM empties the slots it wrote for the API.
// Expired entries are emptied by the VM that wrote them (swept every
// second) or by the first reader that finds them expired.

// outCacheHit is the outcome of a request answered from the cache.
const outCacheHit = "cache_hit"

// cachedResponseHeader marks a response served from the cache, as Tyk does.
const cachedResponseHeader = "x-tyk-cached-response"

// Tyk's upstream cache control headers.
const (
	upstreamCacheHeader    = "x-tyk-cache-action-set"
	upstreamCacheTTLHeader = "x-tyk-cache-action-set-ttl"
)

// defaultCacheTimeout is cache_options.cache_timeout when unset (seconds).
const defaultCacheTimeout = 60

// respState is what the request side leaves for the response side.
type respState struct {
	// forwarded: the request went upstream, so its response is the
	// upstream's (header transforms apply; local replies get none).
	forwarded bool
	cache     *cacheCapture
}

// cacheCapture is a cacheable request whose response is being captured.
type cacheCapture struct {
	key     []byte
	slot    uint32
	ttl     int64 // seconds
	codes   []float64
	status  uint16
	headers [][2]string
	body    []byte
	skip    bool // the response is not stored
}

// respCache is a VM's part of the cache: the slots it wrote (for the
// sweep and invalidation) and its counters.
type respCache struct {
	owned map[uint32]ownedEntry
	m     *cacheMetrics
}

type ownedEntry struct {
	key     []byte
	expires int64
	apiID   string
}

type cacheMetrics struct {
	hits, misses, stored, full, tooLarge, uncacheable *counter
}

func (r *Root) cacheState() *respCache {
	if r.rc.owned == nil {
		r.rc.owned = map[uint32]ownedEntry{}
		def := func(name string) *counter {
			c := newCounter(r.host, name)
			r.m.all = append(r.m.all, c)
			return c
		}
		r.rc.m = &cacheMetrics{
			hits: def("turnpike.response_cache.hits"), misses: def("turnpike.response_cache.misses"),
			stored: def("turnpike.response_cache.stored"), full: def("turnpike.response_cache.full"),
			tooLarge: def("turnpike.response_cache.too_large"), uncacheable: def("turnpike.response_cache.uncacheable"),
		}
	}
	return &r.rc
}

// serveFromCache is the pipeline step: a hit is answered here, a miss
// marks the request for capture.
func (h *httpContext) serveFromCache() verdict {
	r := h.root
	rc := &r.cfg.ResponseCache
	if !h.api.CacheOptions.EnableCache || rc.MaxBytes <= 0 || rc.Slots == 0 {
		return next
	}
	ttl, codes, ok := h.cachePolicy()
	if !ok {
		return next
	}
	st := r.cacheState()
	key := h.cacheKey()
	slot := shm.CacheSlot(key, rc.Slots)
	if e, found := shm.CacheGet(r.host, slot, key, h.now); found {
		st.m.hits.Increment(1)
		return h.replyCached(&e)
	}
	st.m.misses.Increment(1)
	h.resp.cache = &cacheCapture{key: bytes.Clone(key), slot: slot, ttl: ttl, codes: codes}
	return next
}

// cachePolicy says whether the request is cached, for how long and for
// which status codes: every safe request with cache_all_safe_requests,
// else the first matching extended_paths.cache / advance_cache_config
// entry (whose timeout and codes override cache_options').
func (h *httpContext) cachePolicy() (ttl int64, codes []float64, ok bool) {
	if h.method != "GET" && h.method != "HEAD" && h.method != "OPTIONS" {
		return 0, nil, false
	}
	co := &h.api.CacheOptions
	ttl, codes = co.CacheTimeout, co.CacheOnlyResponseCodes
	if ttl <= 0 {
		ttl = defaultCacheTimeout
	}
	if co.CacheAllSafeRequests {
		return ttl, codes, true
	}
	vr := h.rules()
	if vr == nil {
		return 0, nil, false
	}
	for _, p := range vr.cachePaths {
		if (p.method == "" || p.method == h.method) && matchPath(p.re, h.api, h.path) {
			if len(p.codes) > 0 {
				codes = p.codes
			}
			if p.timeout > 0 {
				ttl = p.timeout
			}
			return ttl, codes, true
		}
	}
	return 0, nil, false
}

// cacheKey is the entry's key: API, cache generation, key hash, method,
// path and query, and the cache_by_headers values, NUL-separated. It is
// encoded into the VM's scratch buffer (no allocation per request) and
// valid until the buffer's next use.
func (h *httpContext) cacheKey() []byte {
	r := h.root
	b := r.scratch[:0]
	b = append(append(b, h.api.APIID...), 0)
	b = append(strconv.AppendInt(b, r.snap.cacheGens[h.api.APIID], 10), 0)
	b = append(append(b, h.hash...), 0)
	b = append(append(b, h.method...), 0)
	b = append(append(b, h.path...), 0)
	for _, name := range h.api.CacheOptions.CacheByHeaders {
		n := strings.ToLower(name)
		b = append(append(b, n...), 0)
		b = append(append(b, h.host.RequestHeader(n)...), 0)
	}
	r.scratch = b
	return b
}

// replyCached answers with a cached response: its headers, the response
// header transforms, x-tyk-cached-response: 1 and the rate-limit headers
// of this request. An If-None-Match naming the entry's ETag gets 304.
func (h *httpContext) replyCached(e *shm.CacheEntry) verdict {
	headers := applyHeaderOps(e.Headers, h.responseHeaderOps())
	headers = append(headers, [2]string{cachedResponseHeader, "1"})
	headers = append(headers, h.limitHeaders()...)
	status, body := uint32(e.Status), e.Body
	if inm := h.host.RequestHeader("if-none-match"); inm != "" {
		for _, kv := range e.Headers {
			if kv[0] == "etag" && kv[1] != "" && strings.Contains(inm, kv[1]) {
				status, body = 304, nil
			}
		}
	}
	h.root.m.decision(outCacheHit)
	if err := h.host.Reply(status, headers, body); err != nil {
		h.root.log(host.Error, "sending a cached response: "+err.Error())
		h.host.Close()
	}
	return replied
}

// limitHeaders are the rate-limit headers OnHttpResponseHeaders adds to an
// authorized response, as a list (for a reply).
func (h *httpContext) limitHeaders() [][2]string {
	cfg := &h.root.cfg
	now := h.root.now()
	var out [][2]string
	switch cfg.RateLimitHeaders {
	case config.HeadersQuotas:
		limit, remaining, reset := h.quotaValues()
		out = append(out, [2]string{"x-ratelimit-limit", strconv.FormatInt(limit, 10)},
			[2]string{"x-ratelimit-remaining", strconv.FormatInt(max(remaining, 0), 10)},
			[2]string{"x-ratelimit-reset", strconv.FormatInt(reset, 10)})
	case config.HeadersRateLimits:
		if h.rated {
			out = append(out, h.rateHeaders(now)...)
		}
	}
	if cfg.IETFHeaders {
		if pol, state := h.ietfHeaders(now); pol != "" {
			out = append(out, [2]string{"ratelimit-policy", pol}, [2]string{"ratelimit", state})
		}
	}
	return out
}

// onResponseHeaders runs first on the response of a forwarded request:
// the cache captures the upstream's headers, then the response header
// transforms apply.
func (h *httpContext) onResponseHeaders(endOfStream bool) {
	if !h.resp.forwarded {
		return
	}
	if c := h.resp.cache; c != nil {
		h.captureHeaders(c)
		if endOfStream {
			h.storeCaptured(c)
		}
	}
	h.injectResponseHeaders()
	h.startResponseBodyTransform(endOfStream) // transform_body.go
}

// OnHttpResponseBody collects the body of a response being captured, chunk
// by chunk as it streams to the client (nothing is held back), up to
// response_cache.max_entry_bytes; a larger response passes uncached.
func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) proxywasm.Action {
	if h.tx.resp != nil {
		return h.transformResponseBody(bodySize, endOfStream) // transform_body.go
	}
	c := h.resp.cache
	if c == nil || c.skip {
		return proxywasm.ActionContinue
	}
	if bodySize > 0 {
		b, err := h.host.ResponseBody(bodySize)
		if err != nil || int64(len(c.body)+len(b)) > h.root.cfg.ResponseCache.MaxEntryBytes {
			h.root.cacheState().m.tooLarge.Increment(1)
			c.skip, c.body = true, nil
			return proxywasm.ActionContinue
		}
		c.body = append(c.body, b...)
	}
	if endOfStream {
		h.storeCaptured(c)
	}
	return proxywasm.ActionContinue
}

// hopHeaders are not stored: they describe one connection or one
// transfer, or are added per request (rate limits, the cached marker).
var hopHeaders = []string{"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
	"trailer", "transfer-encoding", "upgrade", "content-length", "date",
	"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-policy", "ratelimit",
	cachedResponseHeader}

// captureHeaders decides from the upstream's status and headers whether
// the response is stored, and for how long (Tyk's ResponseCacheMiddleware:
// cache_response_codes, then with enable_upstream_cache_control the
// x-tyk-cache-action-set[-ttl] headers, and here also Cache-Control and
// Expires).
func (h *httpContext) captureHeaders(c *cacheCapture) {
	all := h.host.ResponseHeaders()
	var status int
	get := func(name string) string {
		for _, kv := range all {
			if kv[0] == name {
				return kv[1]
			}
		}
		return ""
	}
	status, _ = strconv.Atoi(get(":status"))
	store := len(c.codes) == 0 || slices.Contains(c.codes, float64(status))
	co := &h.api.CacheOptions
	if co.EnableUpstreamCacheControl {
		ttlHeader := upstreamCacheTTLHeader
		if co.CacheControlTTLHeader != "" {
			ttlHeader = strings.ToLower(co.CacheControlTTLHeader)
		}
		if get(upstreamCacheHeader) != "" {
			store = true
		}
		if v := get(ttlHeader); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				c.ttl = n
			}
		} else if get(upstreamCacheHeader) == "" {
			if ttl, ok := httpCacheTTL(get("cache-control"), get("expires"), h.now); ok {
				c.ttl = ttl
			} else if ttl == 0 {
				store = false
			}
		}
	}
	if n, err := strconv.ParseInt(get("content-length"), 10, 64); err == nil && n > h.root.cfg.ResponseCache.MaxEntryBytes {
		h.root.cacheState().m.tooLarge.Increment(1)
		store = false
	}
	if !store || c.ttl <= 0 || status < 100 || status > 999 {
		if !store {
			h.root.cacheState().m.uncacheable.Increment(1)
		}
		c.skip = true
		return
	}
	c.status = uint16(status)
	for _, kv := range all {
		if kv[0] != "" && kv[0][0] != ':' && !slices.Contains(hopHeaders, kv[0]) {
			c.headers = append(c.headers, kv)
		}
	}
}

// httpCacheTTL reads an upstream's Cache-Control and Expires: ok with the
// TTL in seconds when they give one; ttl 0 and !ok when they forbid
// storing (no-store, no-cache, private, max-age=0, an Expires in the
// past); ttl -1 and !ok when they say nothing.
func httpCacheTTL(cacheControl, expires string, now int64) (ttl int64, ok bool) {
	maxAge, sMaxAge := int64(-1), int64(-1)
	for _, d := range strings.Split(strings.ToLower(cacheControl), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch name {
		case "no-store", "no-cache", "private":
			return 0, false
		case "max-age", "s-maxage":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil {
				continue
			}
			if name == "max-age" {
				maxAge = n
			} else {
				sMaxAge = n
			}
		}
	}
	switch {
	case sMaxAge >= 0:
		return sMaxAge, sMaxAge > 0
	case maxAge >= 0:
		return maxAge, maxAge > 0
	}
	if expires != "" {
		t, err := time.Parse(time.RFC1123, expires)
		if err != nil {
			return 0, false // an invalid Expires means "already expired" (RFC 9111 §5.3)
		}
		secs := (t.UnixNano() - now) / int64(time.Second)
		return max(secs, 0), secs > 0
	}
	return -1, false
}

// storeCaptured writes a fully captured response to its slot.
func (h *httpContext) storeCaptured(c *cacheCapture) {
	h.resp.cache = nil
	if c.skip {
		return
	}
	r := h.root
	st := r.cacheState()
	now := r.now()
	e := &shm.CacheEntry{Key: c.key, Expires: now + c.ttl*int64(time.Second), APIID: h.api.APIID,
		Status: c.status, Headers: c.headers, Body: c.body}
	enc := shm.AppendCacheEntry(make([]byte, 0, 64+len(c.body)), e)
	if int64(len(enc)) > r.cfg.ResponseCache.MaxEntryBytes {
		st.m.tooLarge.Increment(1)
		return
	}
	switch err := shm.CachePut(r.host, c.slot, enc, r.cfg.ResponseCache.MaxBytes); {
	case errors.Is(err, shm.ErrCacheFull):
		st.m.full.Increment(1)
	case err != nil:
		r.log(host.Warn, "storing a cached response: "+err.Error())
	default:
		st.m.stored.Increment(1)
		st.owned[c.slot] = ownedEntry{key: c.key, expires: e.Expires, apiID: h.api.APIID}
	}
}

// sweepCache empties the slots this VM wrote whose entries expired, so the
// cache's bytes follow what is live.
func (r *Root) sweepCache(now int64) {
	for slot, o := range r.rc.owned {
		if o.expires <= now {
			shm.CacheClear(r.host, slot, o.key)
			delete(r.rc.owned, slot)
		}
	}
}

// invalidateCaches empties the slots this VM wrote for APIs whose cache
// generation changed between two snapshots (DELETE /tyk/cache/{apiID}).
// Entries other VMs wrote are unreachable already (the generation is part
// of their key) and go when they expire.
func (r *Root) invalidateCaches(old, cur map[string]int64) {
	for slot, o := range r.rc.owned {
		if old[o.apiID] != cur[o.apiID] {
			shm.CacheClear(r.host, slot, o.key)
			delete(r.rc.owned, slot)
		}
	}
}

// cacheGenerations of a sync snapshot (nil-safe).
func cacheGenerations(s *snapshot) map[string]int64 {
	if s == nil {
		return nil
	}
	return s.cacheGens
}
