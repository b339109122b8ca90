package plugin

import (
	"strconv"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

const (
	cacheAPI = `{"api_id":"c","org_id":"org1","active":true,"proxy":{"listen_path":"/c/"},
		"cache_options":{"enable_cache":true,"cache_timeout":30,"cache_all_safe_requests":true,"cache_by_headers":["Accept"]},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	cachePathsAPI = `{"api_id":"cp","org_id":"org1","active":true,"proxy":{"listen_path":"/cp/"},
		"cache_options":{"enable_cache":true,"cache_response_codes":[200],"enable_upstream_cache_control":true},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","use_extended_paths":true,
		"extended_paths":{"cache":["/list"],"advance_cache_config":[{"method":"GET","path":"/items/{id}","timeout":5,"cache_response_codes":[200,404]}]}}}}}`
	cacheSession = `{"org_id":"org1","access_rights":{"c":{"api_id":"c","versions":["Default"]},"cp":{"api_id":"cp","versions":["Default"]}}}`
)

func cacheSnapshot(gens string) string {
	s := `{"policies":{},"apis":[` + cacheAPI + `,` + cachePathsAPI + `],"orgs":{}`
	if gens != "" {
		s += `,"cache_generations":` + gens
	}
	return s + `}`
}

// upstream answers a forwarded request with status, headers and body, as
// the host runs the response callbacks.
func (fx *fixture) upstream(s *hosttest.Stream, status int, body string, headers ...string) {
	fx.t.Helper()
	_ = fx.f.SetContext(s.ID)
	s.ResponseHeaders[":status"] = strconv.Itoa(status)
	for i := 0; i+1 < len(headers); i += 2 {
		s.ResponseHeaders[headers[i]] = headers[i+1]
	}
	h := fx.streams[s.ID]
	h.OnHttpResponseHeaders(len(s.ResponseHeaders), body == "")
	if body != "" {
		// Two chunks, as a streaming host delivers them.
		half := len(body) / 2
		s.ResponseBody = body[:half]
		h.OnHttpResponseBody(half, false)
		s.ResponseBody = body[half:]
		h.OnHttpResponseBody(len(body)-half, true)
	}
}

// get sends a GET through the pipeline for key, answering a lookup with
// the cache session when one is asked for.
func (fx *fixture) get(path, key string, more ...string) *hosttest.Stream {
	fx.t.Helper()
	s := fx.do(path, key, "", more...)
	if s.Reply == nil && !s.Resumed && fx.f.Pending("/turnpike/v1/sessions/"+keys.Hash(key)) != nil {
		fx.lookup(key, 200, cacheSession)
		if s.Reply == nil {
			s.Resumed = true
		}
	}
	return s
}

func TestResponseCacheHitAfterAccessControl(t *testing.T) {
	fx := newFixture(t, "", cacheSnapshot(""))
	first := fx.get("/c/items?x=1", "key-a")
	if status(first) != 200 || first.Reply != nil {
		t.Fatalf("first request: %d %+v", status(first), first.Reply)
	}
	fx.upstream(first, 200, `{"items":[1,2]}`, "content-type", "application/json", "etag", `"v1"`, "connection", "close")

	hit := fx.get("/c/items?x=1", "key-a")
	if hit.Reply == nil || hit.Reply.Status != 200 || hit.Reply.Body != `{"items":[1,2]}` {
		t.Fatalf("no cached reply: %+v", hit.Reply)
	}
	h := hit.Reply.Headers
	if h[cachedResponseHeader] != "1" || h["content-type"] != "application/json" || h["connection"] != "" || h["x-ratelimit-limit"] == "" {
		t.Errorf("cached reply headers %v", h)
	}
	if fx.f.Counters["turnpike.decision.cache_hit"] == 0 {
		fx.r.m.flush()
	}
	if fx.f.Counters["turnpike.decision.cache_hit"] != 1 {
		t.Errorf("cache_hit counted %d", fx.f.Counters["turnpike.decision.cache_hit"])
	}
	// If-None-Match with the entry's ETag: 304 without a body.
	if nm := fx.get("/c/items?x=1", "key-a", "if-none-match", `"v1"`); nm.Reply == nil || nm.Reply.Status != 304 || nm.Reply.Body != "" {
		t.Errorf("If-None-Match: %+v", nm.Reply)
	}
	// Another query, another Accept, another key: misses.
	for _, miss := range []*hosttest.Stream{
		fx.get("/c/items?x=2", "key-a"), fx.get("/c/items?x=1", "key-a", "accept", "text/xml"), fx.get("/c/items?x=1", "key-b"),
	} {
		if miss.Reply != nil {
			t.Errorf("served from another entry: %+v", miss.Reply)
		}
	}
	// A revoked key gets 403, never the cached response.
	fx.f.Clock += int64(fx.r.cfg.SyncIntervalMS) * int64(time.Millisecond)
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"2-0","keys":["` + keys.Hash("key-a") + `"]}`)
	revoked := fx.do("/c/items?x=1", "key-a", "404")
	if status(revoked) != 403 || revoked.Reply.Headers[cachedResponseHeader] != "" {
		t.Fatalf("revoked key: %d %+v", status(revoked), revoked.Reply)
	}
}

func TestResponseCacheExpiryAndInvalidation(t *testing.T) {
	fx := newFixture(t, "", cacheSnapshot(""))
	fill := func() {
		t.Helper()
		s := fx.get("/c/a", "key-a")
		if s.Reply != nil {
			t.Fatalf("expected a miss, got %+v", s.Reply)
		}
		fx.upstream(s, 200, "body-a")
	}
	fill()
	if shm.CacheBytes(fx.f) == 0 {
		t.Fatal("nothing stored")
	}
	if s := fx.get("/c/a", "key-a"); s.Reply == nil {
		t.Fatal("no hit")
	}
	// 30 s later the entry has expired; the sweep releases its bytes.
	fx.f.Clock += 31 * int64(time.Second)
	fx.r.OnTick()
	if n := shm.CacheBytes(fx.f); n != 0 {
		t.Fatalf("%d bytes after expiry", n)
	}
	fill()
	// DELETE /tyk/cache/c: the snapshot's generation changes.
	fx.f.Clock += int64(fx.r.cfg.SyncIntervalMS) * int64(time.Millisecond)
	fx.r.OnTick()
	fx.sync(`{"version":"v2","cursor":"1-0","keys":[],"snapshot":` + cacheSnapshot(`{"c":1}`) + `}`)
	if n := shm.CacheBytes(fx.f); n != 0 {
		t.Fatalf("%d bytes after invalidation", n)
	}
	if s := fx.get("/c/a", "key-a"); s.Reply != nil {
		t.Fatalf("served after invalidation: %+v", s.Reply)
	}
}

func TestResponseCacheWhatIsStored(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		headers []string
		cached  bool
	}{
		{"cached path", "GET", "/cp/list", 200, nil, true},
		{"uncached path", "GET", "/cp/other", 200, nil, false},
		{"code not listed", "GET", "/cp/list", 500, nil, false},
		{"advance entry with its own codes", "GET", "/cp/items/7", 404, nil, true},
		{"not a safe method", "POST", "/cp/list", 200, nil, false},
		{"no-store", "GET", "/cp/list", 200, []string{"cache-control", "no-store"}, false},
		{"max-age=0", "GET", "/cp/list", 200, []string{"cache-control", "max-age=0"}, false},
		{"max-age", "GET", "/cp/list", 200, []string{"cache-control", "public, max-age=10"}, true},
		{"Tyk action header overrides the codes", "GET", "/cp/list", 500, []string{"x-tyk-cache-action-set", "1"}, true},
		{"too large", "GET", "/cp/list", 200, []string{"content-length", "99999999"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, "", cacheSnapshot(""))
			send := func() *hosttest.Stream {
				s := fx.get(tt.path, "key-a", ":method", tt.method)
				return s
			}
			s := send()
			if s.Reply != nil {
				t.Fatalf("first request answered: %+v", s.Reply)
			}
			fx.upstream(s, tt.status, "body", tt.headers...)
			if again := send(); (again.Reply != nil) != tt.cached {
				t.Fatalf("cached %v, want %v", again.Reply != nil, tt.cached)
			}
		})
	}
}

func TestHTTPCacheTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	tests := []struct {
		cc, expires string
		ttl         int64
		ok          bool
	}{
		{"", "", -1, false},
		{"max-age=60", "", 60, true},
		{"max-age=60, s-maxage=5", "", 5, true},
		{"private, max-age=60", "", 0, false},
		{"no-cache", "", 0, false},
		{"", "Thu, 01 Jan 2026 00:01:40 GMT", 100, true},
		{"", "Wed, 31 Dec 2025 00:00:00 GMT", 0, false},
		{"", "junk", 0, false},
	}
	for _, tt := range tests {
		if ttl, ok := httpCacheTTL(tt.cc, tt.expires, now); ttl != tt.ttl || ok != tt.ok {
			t.Errorf("%q %q: %d %v, want %d %v", tt.cc, tt.expires, ttl, ok, tt.ttl, tt.ok)
		}
	}
}

func TestVersionName(t *testing.T) {
	api := func(doc string) *model.APIDefinition {
		a, err := model.DecodeAPIDefinition([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		doc, requested, want string
	}{
		{`{"version_data":{"not_versioned":true,"versions":{"Default":{}}}}`, "x", "Default"},
		{`{"version_data":{"not_versioned":true,"versions":{"only":{}}}}`, "", "only"},
		{`{"version_data":{"default_version":"v1","versions":{"v1":{},"v2":{}}}}`, "", "v1"},
		{`{"version_data":{"default_version":"v1","versions":{"v1":{},"v2":{}}}}`, "v2", "v2"},
		{`{"version_data":{"default_version":"v1","fallback_to_default":true,"versions":{"v1":{}}}}`, "v9", "v1"},
	}
	for _, tt := range tests {
		if got := versionName(api(tt.doc), tt.requested); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.doc, tt.requested, got, tt.want)
		}
	}
}
