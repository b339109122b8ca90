//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// These tests run the real filter.wasm (harness_test.go) against the
// in-memory fake sidecar (fakesidecar_test.go), which lets them control
// exactly what the Filter API answers and count what the filter asked.

const keylessAPIJSON = `{"api_id":"open","name":"Open","org_id":"org1","active":true,"use_keyless":true,
	"proxy":{"listen_path":"/open/"},"version_data":{"not_versioned":true}}`

func TestOutcomes(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putAPI(keylessAPIJSON)
	sc.putPolicy("inactive-pol", `{"id":"inactive-pol","org_id":"org1","active":true,"is_inactive":true,
		"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`)
	sc.putKey("good-key", session(`"quota_max":-1,"quota_remaining":7,"quota_renews":1234,"alias":"alice","apply_policies":[]`))
	sc.putKey("inactive-key", session(`"is_inactive":true`))
	sc.putKey("expired-key", session(`"expires":1000`))
	sc.putKey("other-api-key", `{"org_id":"org1","access_rights":{"api2":{"api_id":"api2","versions":["Default"]}}}`)
	sc.putKey("url-key", `{"org_id":"org1","access_rights":{"api1":{"api_id":"api1","versions":["Default"],
		"allowed_urls":[{"url":"/api1/allowed","methods":["GET"]}]}}}`)
	sc.putKey("policy-inactive-key", `{"org_id":"org1","apply_policies":["inactive-pol"]}`)
	sc.putKey("missing-policy-key", `{"org_id":"org1","apply_policies":["nope"]}`)
	generated, err := keys.Generate(strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	forged := generated[:len(generated)-1] + string(rune('A'+(generated[len(generated)-1]+1)%26))
	h := start(t, sc.srv.URL, 2, `,"identity_headers":true`)

	for _, tc := range []struct {
		name   string
		hdrs   wasmhost.Headers
		status int
		msg    string
		header [2]string // a header the answer must carry
	}{
		{"allowed", request("/api1/x", "good-key"), 200, "", [2]string{"x-ratelimit-remaining", "7"}},
		{"bearer stripped", request("/api1/x", "Bearer good-key"), 200, "", [2]string{"x-ratelimit-limit", "-1"}},
		{"missing key", request("/api1/x", ""), 401, "Authorization field missing",
			[2]string{"www-authenticate", `Bearer realm="turnpike"`}},
		{"unknown key", request("/api1/x", "no-such-key"), 403, "Access to this API has been disallowed", [2]string{}},
		{"too short", request("/api1/x", "ab"), 403, "Access to this API has been disallowed", [2]string{}},
		{"forged generated key", request("/api1/x", forged), 403, "Access to this API has been disallowed", [2]string{}},
		{"inactive", request("/api1/x", "inactive-key"), 403, "Key is inactive, please renew", [2]string{}},
		{"inactive by policy", request("/api1/x", "policy-inactive-key"), 403, "Key is inactive, please renew", [2]string{}},
		{"missing policy", request("/api1/x", "missing-policy-key"), 403, "Access to this API has been disallowed", [2]string{}},
		{"expired", request("/api1/x", "expired-key"), 401, "Key has expired, please renew", [2]string{}},
		{"other api", request("/api1/x", "other-api-key"), 403, "Access to this API has been disallowed", [2]string{}},
		{"allowed url", request("/api1/allowed", "url-key"), 200, "", [2]string{}},
		{"disallowed url", request("/api1/secret", "url-key"), 403, "Access to this resource has been disallowed", [2]string{}},
		{"keyless", request("/open/x", ""), 200, "", [2]string{}},
		{"unmatched passes", request("/elsewhere", ""), 200, "", [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := do(t, h, tc.hdrs)
			if o.status != tc.status {
				t.Fatalf("status %d (%s), want %d", o.status, o.body, tc.status)
			}
			if tc.msg != "" {
				if o.body != errorBody(tc.msg) {
					t.Errorf("body %q, want %q", o.body, errorBody(tc.msg))
				}
				if ct, _ := o.headers.Get("content-type"); ct != "application/json" {
					t.Errorf("content-type %q", ct)
				}
			}
			if tc.header[0] != "" {
				if v, _ := o.headers.Get(tc.header[0]); v != tc.header[1] {
					t.Errorf("%s = %q, want %q", tc.header[0], v, tc.header[1])
				}
			}
		})
	}

	t.Run("identity headers, never the raw key", func(t *testing.T) {
		hdrs := append(request("/api1/x", "good-key"), [2]string{"x-turnpike-key-hash", "spoofed"})
		o := do(t, h, hdrs)
		if got := o.req.Values("x-turnpike-key-hash"); len(got) != 1 || got[0] != keys.Hash("good-key") {
			t.Errorf("key hash header %v", got)
		}
		if v, _ := o.req.Get("x-turnpike-alias"); v != "alice" {
			t.Errorf("alias header %q", v)
		}
		for _, kv := range o.req {
			if kv[0] != "authorization" && strings.Contains(kv[1], "good-key") {
				t.Errorf("raw key leaked in %s", kv[0])
			}
		}
	})

	t.Run("unknown keys are negative-cached, forged keys never looked up", func(t *testing.T) {
		before := sc.lookupsOf("flood-key")
		for range 10 {
			if o := do(t, h, request("/api1/x", "flood-key")); o.status != 403 {
				t.Fatalf("status %d", o.status)
			}
		}
		// At most one lookup per VM; the negative cache answers the rest.
		if n := sc.lookupsOf("flood-key") - before; n < 1 || n > 2 {
			t.Errorf("%d lookups for one unknown key on 2 VMs", n)
		}
		if n := sc.lookupsOf(forged); n != 0 {
			t.Errorf("forged key looked up %d times", n)
		}
	})
	if n := metric(t, h, "turnpike.decision.allowed"); n < 4 {
		t.Errorf("allowed metric %d", n)
	}
	if n := metric(t, h, "turnpike.decision.missing_key"); n != 1 {
		t.Errorf("missing_key metric %d, want 1", n)
	}
}

func TestRejectUnmatchedAndStripCredential(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("good-key", session(""))
	h := start(t, sc.srv.URL, 1, `,"unmatched":"reject","strip_credential":true`)
	if o := do(t, h, request("/nowhere", "good-key")); o.status != 404 || o.body != errorBody("No API matches this request") {
		t.Fatalf("unmatched: %d %q", o.status, o.body)
	}
	o := do(t, h, request("/api1/x", "good-key"))
	if o.status != 200 {
		t.Fatalf("status %d %s", o.status, o.body)
	}
	if v, ok := o.req.Get("authorization"); ok {
		t.Fatalf("credential forwarded: %q", v)
	}
}

func TestBadConfigurationNamesTheField(t *testing.T) {
	var logs bytes.Buffer
	_, err := wasmhost.New(context.Background(), wasmhost.Config{
		WasmFile:     filterWasm(t),
		PluginConfig: []byte(`{"sidecar":{"token":"t"},"sync_interval_ms":"fast"}`),
		Clusters:     map[string]string{"turnpike-sidecar": ""},
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err == nil {
		t.Fatal("a bad configuration was accepted")
	}
	if want := "config: sync_interval_ms: must be an integer"; !strings.Contains(logs.String(), want) {
		t.Fatalf("logs do not name the field (%q):\n%s", want, logs.String())
	}
}

func TestRateLimitIsExactAcrossVMs(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	// A minute-long window: no refill while the burst runs.
	sc.putKey("rl-key", session(`"rate":10,"per":60`))
	h := start(t, sc.srv.URL, 4, "")
	// Warm every VM's cache first, so the burst below is all warm path.
	admitted, limited := 0, 0
	for i := range 40 {
		o := do(t, h, request("/api1/x", "rl-key"))
		switch o.status {
		case 200:
			admitted++
		case 429:
			limited++
			if o.body != errorBody("Rate Limit Exceeded") {
				t.Fatalf("429 body %q", o.body)
			}
			if ra, _ := o.headers.Get("retry-after"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After: %v", o.headers)
			}
		default:
			t.Fatalf("request %d: status %d %s", i, o.status, o.body)
		}
	}
	if admitted != 10 || limited != 30 {
		t.Fatalf("admitted %d, limited %d; want exactly 10 and 30", admitted, limited)
	}
	if n := metric(t, h, "turnpike.decision.rate_limited"); n != 30 {
		t.Errorf("rate_limited metric %d", n)
	}
}

func TestRateLimitConcurrentBurst(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("burst-key", session(`"rate":10,"per":60`))
	h := start(t, sc.srv.URL, 4, "")
	if n := burst(t, h, request("/api1/x", "burst-key"), 20, 5).admitted; n != 10 {
		t.Fatalf("admitted %d of 100 concurrent requests, want exactly 10", n)
	}
}

// An API's global_rate_limit is one bucket for every key of that API, on
// top of the keys' own limits (none here), exact across VMs.
func TestAPIGlobalRateLimitIsSharedByKeys(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(strings.Replace(apiJSON, `"active":true,`, `"active":true,"global_rate_limit":{"rate":5,"per":60},`, 1))
	sc.putKey("ga-key", session(""))
	sc.putKey("gb-key", session(""))
	h := start(t, sc.srv.URL, 4, "")
	admitted := 0
	for i := range 20 {
		o := do(t, h, request("/api1/x", []string{"ga-key", "gb-key"}[i%2]))
		switch o.status {
		case 200:
			admitted++
		case 429:
			if o.body != errorBody("API Rate Limit Exceeded") {
				t.Fatalf("429 body %q", o.body)
			}
			if ra, _ := o.headers.Get("retry-after"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After: %v", o.headers)
			}
		default:
			t.Fatalf("request %d: status %d %s", i, o.status, o.body)
		}
	}
	if admitted != 5 {
		t.Fatalf("admitted %d of 20 requests over two keys, want exactly 5", admitted)
	}
	if n := metric(t, h, "turnpike.decision.api_rate_limited"); n != 15 {
		t.Errorf("api_rate_limited metric %d, want 15", n)
	}
}

func TestQuotaIsExactAcrossVMsAndClients(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("q-key", session(`"quota_max":100,"quota_renewal_rate":3600`))
	h := start(t, sc.srv.URL, 4, "")
	r := burst(t, h, request("/api1/x", "q-key"), 50, 4)
	if len(r.others) > 0 {
		t.Fatalf("unexpected answers %q", r.others)
	}
	if r.admitted != 100 || r.quotaExceeded != 100 {
		t.Fatalf("admitted %d, exceeded %d; want exactly 100 and 100", r.admitted, r.quotaExceeded)
	}
	// Tyk's headers carry the quota after the request.
	sc.putKey("q2-key", session(`"quota_max":5,"quota_renewal_rate":3600`))
	o := do(t, h, request("/api1/x", "q2-key"))
	if l, _ := o.headers.Get("x-ratelimit-limit"); l != "5" {
		t.Errorf("X-RateLimit-Limit %q", l)
	}
	if r, _ := o.headers.Get("x-ratelimit-remaining"); r != "4" {
		t.Errorf("X-RateLimit-Remaining %q", r)
	}
}

func TestDeletedKeyIsRefusedWithinOneSecond(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("doomed", session(""))
	h := start(t, sc.srv.URL, 4, "")
	requireStatus(t, h, request("/api1/x", "doomed"), 8, 200, "before delete (cached on every VM)")
	deleted := time.Now()
	sc.deleteKey("doomed")
	syncNow(t, h)
	requireStatus(t, h, request("/api1/x", "doomed"), 8, 403, "after delete")
	if d := time.Since(deleted); d > time.Second {
		t.Fatalf("revocation took %v", d)
	}
}

func TestPolicyEditChangesTheLimit(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	pol := func(rate int) string {
		return `{"id":"p1","org_id":"org1","active":true,"rate":` + strconv.Itoa(rate) + `,"per":60,"quota_max":-1,
			"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`
	}
	sc.putPolicy("p1", pol(2))
	sc.putKey("pol-key", `{"org_id":"org1","apply_policies":["p1"]}`)
	h := start(t, sc.srv.URL, 2, "")
	hdrs := request("/api1/x", "pol-key")
	if got := countAdmitted(t, h, hdrs, 5); got != 2 {
		t.Fatalf("rate 2: admitted %d of 5", got)
	}
	lookups := sc.lookups.Load()
	edited := time.Now()
	sc.putPolicy("p1", pol(6))
	syncNow(t, h)
	// The bucket carries what was used over to the new rate: 2 used of 6.
	if got := countAdmitted(t, h, hdrs, 6); got != 4 {
		t.Fatalf("rate 6: admitted %d of 6, want 4", got)
	}
	if d := time.Since(edited); d > time.Second {
		t.Fatalf("policy change took %v", d)
	}
	if sc.lookups.Load() != lookups {
		t.Error("a policy edit refetched the key")
	}
}

func TestSidecarDownAndBack(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("cached-key", session(""))
	sc.putKey("quota-key", session(`"quota_max":50,"quota_renewal_rate":3600`))
	sc.putKey("later-key", session(""))
	h := start(t, sc.srv.URL, 2, "")
	requireStatus(t, h, request("/api1/x", "cached-key"), 2, 200, "warm-up")
	sc.down.Store(true)
	syncNow(t, h) // the sync poll fails too
	requireStatus(t, h, request("/api1/x", "cached-key"), 4, 200, "cached key while the sidecar is down")
	o := do(t, h, request("/api1/x", "later-key"))
	if o.status != 503 {
		t.Fatalf("unknown key while down: %d %s", o.status, o.body)
	}
	if ra, _ := o.headers.Get("retry-after"); ra != "1" {
		t.Errorf("503 Retry-After %q", ra)
	}
	requireStatus(t, h, request("/api1/x", "quota-key"), 1, 503, "quota key while down (closed)")
	if metric(t, h, "turnpike.sidecar.failures.sync") == 0 || metric(t, h, "turnpike.sidecar.failures.lookup") == 0 {
		t.Error("failures not counted")
	}
	sc.down.Store(false)
	syncNow(t, h)
	requireStatus(t, h, request("/api1/x", "later-key"), 1, 200, "after restart")
	requireStatus(t, h, request("/api1/x", "quota-key"), 1, 200, "quota after restart")
}

// TestOwnCreationDoesNotEvict: a key created while the filter runs appears
// in the next sync as changed; the sessions read after that change must stay
// cached, or the key would need a lookup (a 503 with the sidecar down)
// right after it was served.
func TestOwnCreationDoesNotEvict(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	h := start(t, sc.srv.URL, 2, "")
	syncNow(t, h) // every VM holds a feed cursor from before the key exists
	sc.putKey("new-key", session(""))
	requireStatus(t, h, request("/api1/x", "new-key"), 2, 200, "first use on each VM")
	lookups, shared := sc.lookupsOf("new-key"), metric(t, h, "turnpike.cache.shared_hits")
	syncNow(t, h) // the feed lists new-key as changed
	sc.down.Store(true)
	requireStatus(t, h, request("/api1/x", "new-key"), 4, 200, "cached key after its creation event")
	if got := sc.lookupsOf("new-key"); got != lookups {
		t.Errorf("the creation event evicted the key: %d lookups, want %d", got, lookups)
	}
	// Each VM still has its own copy: none fell back to shared data.
	if got := metric(t, h, "turnpike.cache.shared_hits"); got != shared {
		t.Errorf("VM caches evicted the key: %d shared-data hits, want %d", got, shared)
	}
	if got := metric(t, h, "turnpike.sync.evictions"); got != 0 {
		t.Errorf("turnpike.sync.evictions = %d, want 0", got)
	}
}

func TestQuotaOpenModeCountsLocally(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("open-key", session(`"quota_max":3,"quota_renewal_rate":3600`))
	h := start(t, sc.srv.URL, 2, `,"failure_mode":{"quota":"open"},"quota_exceeded_status":429`)
	requireStatus(t, h, request("/api1/x", "open-key"), 1, 200, "warm-up (caches the session)")
	sc.down.Store(true)
	statuses := []int{}
	for range 5 {
		statuses = append(statuses, do(t, h, request("/api1/x", "open-key")).status)
	}
	// The local count starts from zero: 3 admitted, then 429.
	if want := []int{200, 200, 200, 429, 429}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if metric(t, h, "turnpike.quota.local") != 5 {
		t.Errorf("quota.local = %d", metric(t, h, "turnpike.quota.local"))
	}
}

// TestMetricsReachTheHostOnTick: counters are gathered in the VM and added
// to the host's at the next tick (a host call per request saved), so the
// host lags by at most one tick and loses nothing.
func TestMetricsReachTheHostOnTick(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("counted-key", session(""))
	h := start(t, sc.srv.URL, 2, "")
	const name = "turnpike.decision.allowed"
	before := hostMetric(h, name)
	requireStatus(t, h, request("/api1/x", "counted-key"), 5, 200, "counted requests")
	if got := hostMetric(h, name); got != before {
		t.Errorf("before a tick the host has %d allowed, want the old %d", got, before)
	}
	syncNow(t, h)
	if got := hostMetric(h, name); got != before+5 {
		t.Errorf("after a tick the host has %d allowed, want %d", got, before+5)
	}
	syncNow(t, h) // a tick with nothing new adds nothing
	if got := hostMetric(h, name); got != before+5 {
		t.Errorf("after a second tick the host has %d allowed, want %d", got, before+5)
	}
}

func TestConcurrentMissesMakeOneLookup(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("popular", session(""))
	h := start(t, sc.srv.URL, 1, "")
	gate := make(chan struct{})
	sc.lookupGate = gate
	var streams []*wasmhost.Stream
	for range 5 {
		s := h.NewStream()
		if r := s.RequestHeaders(request("/api1/x", "popular"), true); r.Action != wasmhost.ActionPause {
			t.Fatalf("action %v, want pause", r.Action)
		}
		streams = append(streams, s)
	}
	// The second stream is gone before the answer: it must be skipped.
	streams[1].Close()
	close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, s := range streams {
		if i == 1 {
			continue
		}
		r, err := s.Wait(ctx)
		if err != nil || r.Action != wasmhost.ActionContinue {
			t.Fatalf("stream %d: %v %v", i, r.Action, err)
		}
		s.Close()
	}
	if n := sc.lookupsOf("popular"); n != 1 {
		t.Fatalf("%d lookups for 5 concurrent misses", n)
	}
	if err := h.VM(0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestJunkHeadersNeverTrap(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(`{"api_id":"v","name":"V","org_id":"org1","active":true,"proxy":{"listen_path":"/v/"},
		"auth":{"auth_header_name":"X-Key","use_param":true,"use_cookie":true},
		"version_data":{"not_versioned":false,"default_version":"","versions":{"v1":{"name":"v1"}}},
		"definition":{"location":"url-param","key":"ver"}}`)
	sc.putAPI(apiJSON)
	sc.putKey("good-key", session(""))
	h := start(t, sc.srv.URL, 2, `,"identity_headers":true,"strip_credential":true,"ietf_rate_limit_headers":true`)
	junk := []string{"", " ", "%", "%zz", "Bearer", "Bearer ", "bearer \x00", "\xff\xfe", "?", "&&==;;",
		strings.Repeat("a", 5000), "tp_" + strings.Repeat("Z", 28), "tp_", "/v/../..", "/v/?ver=v1&X-Key=%",
		"good-key; good-key", "=good-key", "\"", "\\", "a=b; X-Key=\"good-key\""}
	seed := uint64(1)
	next := func() string {
		seed = seed*6364136223846793005 + 1442695040888963407
		return junk[(seed>>33)%uint64(len(junk))]
	}
	for i := range 400 {
		hdrs := wasmhost.Headers{
			{":method", next()}, {":path", "/v/" + next()}, {":authority", next()},
			{"x-key", next()}, {"authorization", next()}, {"cookie", next()}, {"x-api-version", next()},
			{"x-turnpike-key-hash", next()},
		}
		if i%2 == 1 {
			hdrs[1][1] = "/api1/" + next()
		}
		o := do(t, h, hdrs)
		if o.status == 500 {
			t.Fatalf("request %d: 500 for %q", i, hdrs)
		}
	}
	for i := range h.NumVMs() {
		if err := h.VM(i).Err(); err != nil {
			t.Fatalf("VM %d trapped: %v", i, err)
		}
	}
}

func TestIdleBucketsAreSwept(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("idle-key", session(`"rate":100,"per":1`))
	h := start(t, sc.srv.URL, 2, "")
	requireStatus(t, h, request("/api1/x", "idle-key"), 4, 200, "filling the bucket")
	bucket := "tp/r/" + keys.Hash("idle-key") + "/"
	if v, _, ok := h.SharedData(bucket); !ok || len(v) != 16 {
		t.Fatalf("bucket not in shared data: %v %d", ok, len(v))
	}
	// Idle for a second (the minimum idle time) and full again: the next
	// sweep empties it.
	took := within(t, h, 5*time.Second, "idle bucket swept", func() bool {
		v, _, _ := h.SharedData(bucket)
		return len(v) == 0
	})
	t.Logf("swept after %v", took)
	// An emptied bucket is a full bucket.
	requireStatus(t, h, request("/api1/x", "idle-key"), 1, 200, "after sweep")
}

// BenchmarkWarmPath measures one request on the warm path (session cached,
// rate limit in shared data, no quota): no sidecar call.
func BenchmarkWarmPath(b *testing.B) {
	sc := newFakeSidecar(b)
	sc.putAPI(apiJSON)
	sc.putKey("bench-key", session(`"rate":1000000000,"per":1`))
	h := start(b, sc.srv.URL, 1, "")
	hdrs := request("/api1/x", "bench-key")
	do(b, h, hdrs)
	benchWarmNoCalls(b, h, sc, hdrs)
}

// The path the filter authorizes is the path that goes upstream (issue:
// /demo/../api3/x with a key for demo only was forwarded with the .. intact).
func TestPathIsNormalizedBeforeItIsAuthorized(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putAPI(strings.NewReplacer(`"api1"`, `"api2"`, `/api1/`, `/api2/`).Replace(apiJSON))
	sc.putKey("good-key", session(""))
	h := start(t, sc.srv.URL, 1, "")
	if o := do(t, h, request("/api1/../api2/x", "good-key")); o.status != 403 {
		t.Fatalf("climbing into api2: %d %s", o.status, o.body)
	}
	o := do(t, h, request("/api1//x/./y/%7e?q=/../", "good-key"))
	if p, _ := o.req.Get(":path"); o.status != 200 || p != "/api1/x/y/~?q=/../" {
		t.Fatalf("normalized: %d %q", o.status, p)
	}
	for _, bad := range []string{"/api1/..%2Fapi2/x", "/api1/../../x", "/api1/%zz"} {
		if o := do(t, h, request(bad, "good-key")); o.status != 400 || !strings.Contains(o.body, `"error"`) {
			t.Errorf("%s: %d %q", bad, o.status, o.body)
		}
	}
}

// An API whose auth method Turnpike does not enforce never falls back to a
// plain key (issue: on a basic-auth API "Authorization: bob" got 200, on an
// HMAC API "Authorization: <key id>" got 200). Such APIs reach the filter
// as static definitions or as data written before the Gateway API refused
// them.
func TestUnenforcedAuthMethodsAreNeverAPlainKey(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putKey("bob", session(""))
	sc.putKey("hmac-key-id", session(""))
	static := func(id, field string) string {
		return `{"api_id":"` + id + `","org_id":"org1","active":true,` + field + `,"proxy":{"listen_path":"/` + id + `/"},` +
			`"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	}
	h := start(t, sc.srv.URL, 1, `,"apis":[`+static("api1", `"use_go_plugin_auth":true`)+`,`+
		static("hmac", `"enable_coprocess_auth":true`)+`]`)
	for _, tc := range []struct{ path, auth string }{
		{"/api1/x", "bob"}, {"/api1/x", "Basic Ym9iOnNlY3JldA=="}, {"/hmac/x", "hmac-key-id"},
	} {
		if o := do(t, h, request(tc.path, tc.auth)); o.status != 403 || o.body != errorBody("Access to this API has been disallowed") {
			t.Errorf("%s with %q: %d %s", tc.path, tc.auth, o.status, o.body)
		}
	}
	logged := 0
	for _, l := range h.Logs() {
		if strings.Contains(l.Message, "Turnpike does not enforce that authentication method") {
			logged++
		}
	}
	if logged != 2 {
		t.Errorf("%d log lines about refused APIs, want one per API", logged)
	}
}
