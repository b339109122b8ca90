//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// The response cache and the header transforms in the real filter.wasm,
// with 4 VMs sharing one shared-data store as Envoy's workers do.

const cachedAPIJSON = `{"api_id":"api1","name":"API 1","org_id":"org1","active":true,
	"proxy":{"listen_path":"/api1/","target_url":"http://upstream"},
	"cache_options":{"enable_cache":true,"cache_timeout":60,"cache_all_safe_requests":true},
	"response_processors":[{"name":"header_injector","options":{"add_headers":{"x-served-by":"turnpike"},"remove_headers":["server"]}}],
	"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","global_headers":{"x-from-gateway":"1"}}}}}`

// fetch runs one request through the next VM; a forwarded request gets the
// upstream answer status/body (headers upstreamHeaders) through the
// filter's response callbacks.
func fetch(t *testing.T, h *wasmhost.Host, hdrs wasmhost.Headers, body string, upstreamHeaders ...[2]string) outcome {
	t.Helper()
	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(hdrs, true)
	if res.Action == wasmhost.ActionPause {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if res, err = s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	switch res.Action {
	case wasmhost.ActionLocalReply:
		return outcome{status: res.Reply.Status, headers: res.Reply.Headers, body: string(res.Reply.Body)}
	case wasmhost.ActionContinue:
		req := s.Request().Headers
		s.ResponseHeaders(append(wasmhost.Headers{{":status", "200"}, {"server", "upstream"}}, upstreamHeaders...), false)
		s.ResponseBody([]byte(body), true)
		return outcome{status: 200, headers: s.Response().Headers, body: string(s.Response().Body), req: req}
	}
	t.Fatalf("unexpected action %v", res.Action)
	return outcome{}
}

func headerIn(hs wasmhost.Headers, name string) string {
	for _, kv := range hs {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func TestResponseCacheSharedByVMs(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(cachedAPIJSON)
	sc.putKey("reader", session(""))
	h := start(t, sc.srv.URL, 4, "")

	first := fetch(t, h, request("/api1/data?page=1", "reader"), `{"n":1}`)
	if first.status != 200 || headerIn(first.headers, "x-tyk-cached-response") != "" {
		t.Fatalf("first request: %+v", first)
	}
	if headerIn(first.req, "x-from-gateway") != "1" {
		t.Errorf("global_headers not added upstream: %v", first.req)
	}
	if headerIn(first.headers, "x-served-by") != "turnpike" || headerIn(first.headers, "server") != "" {
		t.Errorf("header_injector not applied: %v", first.headers)
	}
	// Every VM serves it now, from shared data; the upstream is not asked.
	for i := range 8 {
		o := fetch(t, h, request("/api1/data?page=1", "reader"), "upstream must not be asked")
		if o.status != 200 || o.body != `{"n":1}` || headerIn(o.headers, "x-tyk-cached-response") != "1" ||
			headerIn(o.headers, "x-served-by") != "turnpike" || headerIn(o.headers, "x-ratelimit-limit") == "" {
			t.Fatalf("request %d: %+v", i, o)
		}
	}
	if n := metric(t, h, "turnpike.response_cache.hits"); n != 8 {
		t.Errorf("hits %d, want 8", n)
	}

	// DELETE /tyk/cache/api1: within a second no VM serves the old body
	// (the first request after it goes upstream, and is cached again).
	invalidated := time.Now()
	sc.invalidateCache("api1")
	within(t, h, time.Second, "invalidation", func() bool {
		for range 4 {
			if o := fetch(t, h, request("/api1/data?page=1", "reader"), `{"n":2}`); o.body != `{"n":2}` {
				return false
			}
		}
		return true
	})
	t.Logf("invalidated on every VM in %v", time.Since(invalidated).Round(time.Millisecond))

	// A revoked key is refused, never served the cached response.
	sc.deleteKey("reader")
	syncNow(t, h)
	requireStatus(t, h, request("/api1/data?page=1", "reader"), 8, 403, "revoked key")
}

// A batch request in the real filter.wasm: sub-requests decided one by one
// (the key's rate of 2 admits two of three), allowed ones sent to the
// API's upstream cluster by the host.
func TestBatchInTheVM(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "1")
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(up.Close)
	sc := newFakeSidecar(t)
	sc.putAPI(`{"api_id":"api1","org_id":"org1","active":true,"enable_batch_request_support":true,
		"proxy":{"listen_path":"/api1/","target_url":"http://upstream"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`)
	sc.putKey("batcher", session(`"rate":2,"per":60`))
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{
		WasmFile: filterWasm(t),
		PluginConfig: []byte(`{"sidecar":{"token":"test-token"},"sync_interval_ms":50,` +
			`"batch":{"upstream_clusters":{"api1":"api1-upstream"}}}`),
		Workers:  2,
		Clusters: map[string]string{"turnpike-sidecar": sc.srv.URL, "api1-upstream": up.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	syncNow(t, h)

	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(wasmhost.Headers{{":method", "POST"}, {":path", "/api1/tyk/batch/"}, {":authority", "gw"}}, false)
	if res.Action != wasmhost.ActionContinue {
		t.Fatalf("batch headers: %v", res.Action)
	}
	body := `{"requests":[` +
		`{"method":"GET","relative_url":"a?x=1","headers":{"Authorization":"batcher"}},` +
		`{"method":"DELETE","relative_url":"b","headers":{"Authorization":"batcher"}},` +
		`{"method":"GET","relative_url":"c","headers":{"Authorization":"batcher"}}]}`
	s.RequestBody([]byte(body), true)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if res, err = s.Wait(wctx); err != nil || res.Action != wasmhost.ActionLocalReply {
		t.Fatalf("batch answer: %v %v", res.Action, err)
	}
	var got []struct {
		Code    int                 `json:"code"`
		Headers map[string][]string `json:"headers"`
		Body    string              `json:"body"`
	}
	if err := json.Unmarshal(res.Reply.Body, &got); err != nil || len(got) != 3 {
		t.Fatalf("%v: %s", err, res.Reply.Body)
	}
	allowed, limited := 0, 0
	for _, g := range got {
		switch g.Code {
		case 200:
			allowed++
			if g.Headers["X-Upstream"][0] != "1" || !strings.Contains(g.Body, " /api1/") {
				t.Errorf("allowed sub-request: %+v", g)
			}
		case 429:
			limited++
		}
	}
	if allowed != 2 || limited != 1 {
		t.Fatalf("allowed %d, rate limited %d: %s", allowed, limited, res.Reply.Body)
	}
	if got[0].Body != "GET /api1/a?x=1" || got[1].Body != "DELETE /api1/b" {
		t.Errorf("upstream saw %q, %q", got[0].Body, got[1].Body)
	}
}
