package e2e

import (
	"github.com/turnpike-dev/turnpike/tests/internal/proc"

	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// secondGateway starts another turnpike-gateway (its own proxy, so its own
// shared data and response cache) whose filter talks to sidecar replica 1,
// and returns its base URL.
func (e *env) secondGateway() string { return e.extraGateway("") }

// extraGateway starts a turnpike-gateway on replica 1 with extra plugin
// configuration (a fragment starting with a comma), and an "upstream"
// cluster reaching the test's upstream (for batch sub-requests).
func (e *env) extraGateway(plugin string) string {
	e.t.Helper()
	cfgFile := e.t.TempDir() + "/plugin-config.json"
	cfg := `{"sidecar":{"token":"` + filterToken + `","timeout_ms":1000,"sync_timeout_ms":1000},"sync_interval_ms":50` + plugin + `}`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	port := testenv.FreePort(e.t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	gw := proc.New(e.t, "gateway2", built.Gateway,
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--wasm", built.Wasm, "--plugin-config", cfgFile,
		"--upstream", e.upstream.URL, "--cluster", "turnpike-sidecar="+e.sidecarURLs[1],
		"--cluster", "upstream="+e.upstream.URL, "--workers", "2", "--log-level", "warn")
	gw.Start()
	e.eventually(60*time.Second, "gateway2 ready", func() error {
		resp, err := e.client.Get(url + "/no-api-here/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("unmatched request: %d", resp.StatusCode)
		}
		return nil
	})
	return url
}

// getFrom sends GET path with key to the gateway at base.
func (e *env) getFrom(base, path, key string) reply {
	e.t.Helper()
	saved := e.gatewayURL
	e.gatewayURL = base
	defer func() { e.gatewayURL = saved }()
	return e.get(path, key)
}

// The response cache end to end: served only to keys that pass access
// control, shared by a proxy's workers, per proxy, emptied at every proxy
// by DELETE /tyk/cache/{apiID} within a second, expired after its timeout;
// and the header transforms applied on the way.
func TestResponseCacheEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	gw2 := e.secondGateway()
	// The version's global_headers go to the upstream (the echo shows them).
	e.addAPI(`{"api_id":"cached","name":"cached","org_id":"org1","active":true,` +
		`"proxy":{"listen_path":"/cached/"},` +
		`"cache_options":{"enable_cache":true,"cache_timeout":3,"cache_all_safe_requests":true},` +
		`"response_processors":[{"name":"header_injector","options":{"add_headers":{"X-Served-By":"turnpike"}}}],` +
		`"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","global_headers":{"X-From-Gateway":"1"}}}}}`)
	e.settle()
	key := e.createKey(`{"org_id":"org1",` + rights("cached") + `}`)
	e.within(propagation, "/cached/x", key, 200, "")

	fresh := func(base string) reply {
		t.Helper()
		before := e.upstreamHit.Load()
		r := e.getFrom(base, "/cached/items?page=1", key)
		if r.status != 200 || r.header.Get("X-Tyk-Cached-Response") != "" || e.upstreamHit.Load() != before+1 {
			t.Fatalf("want a fresh response: %s %v", r, r.header)
		}
		return r
	}
	cached := func(base string, want reply) {
		t.Helper()
		before := e.upstreamHit.Load()
		r := e.getFrom(base, "/cached/items?page=1", key)
		if r.status != 200 || r.header.Get("X-Tyk-Cached-Response") != "1" || r.body != want.body || e.upstreamHit.Load() != before {
			t.Fatalf("want the cached response: %s %v", r, r.header)
		}
		if r.header.Get("X-Served-By") != "turnpike" || r.header.Get("X-Ratelimit-Limit") == "" {
			t.Errorf("cached response headers: %v", r.header)
		}
	}
	first := fresh(e.gatewayURL)
	var echoed struct{ Headers http.Header }
	if err := json.Unmarshal([]byte(first.body), &echoed); err != nil || echoed.Headers.Get("X-From-Gateway") != "1" {
		t.Errorf("global_headers did not reach the upstream: %v %s", err, first.body)
	}
	if first.header.Get("X-Served-By") != "turnpike" {
		t.Errorf("header_injector: %v", first.header)
	}
	for range 8 { // every worker VM of the gateway serves it
		cached(e.gatewayURL, first)
	}
	second := fresh(gw2) // another proxy, another cache
	cached(gw2, second)

	// DELETE /tyk/cache/cached, through replica 1: both proxies miss within
	// a second.
	if r := e.api(http.MethodDelete, "/tyk/cache/cached", ""); r.status != 200 || r.body != `{"status":"ok","message":"cache invalidated"}`+"\n" {
		t.Fatalf("DELETE /tyk/cache: %s", r)
	}
	for _, base := range []string{e.gatewayURL, gw2} {
		took := e.eventually(propagation, "invalidation at "+base, func() error {
			if r := e.getFrom(base, "/cached/items?page=1", key); r.header.Get("X-Tyk-Cached-Response") != "" {
				return fmt.Errorf("still cached")
			}
			return nil
		})
		t.Logf("%s: invalidated within %v", base, took.Round(time.Millisecond))
	}

	// Expiry: after cache_timeout (3 s) the entry is not served.
	r := e.get("/cached/expiring", key)
	cachedAgain := e.get("/cached/expiring", key)
	if r.status != 200 || cachedAgain.header.Get("X-Tyk-Cached-Response") != "1" {
		t.Fatalf("not cached: %s / %v", r, cachedAgain.header)
	}
	time.Sleep(3100 * time.Millisecond)
	for range 4 {
		if r := e.get("/cached/expiring", key); r.header.Get("X-Tyk-Cached-Response") != "" && r.body == cachedAgain.body {
			t.Fatalf("expired entry served: %v", r.header)
		}
	}

	// A revoked key is refused, never served what is cached for it.
	cached(e.gatewayURL, e.get("/cached/items?page=1", key))
	e.mustAPI(http.MethodDelete, "/tyk/keys/"+key, "")
	e.within(propagation, "/cached/items?page=1", key, 403, "Access to this API has been disallowed")
}
