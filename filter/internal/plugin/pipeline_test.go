package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

func TestPipelineOutcomes(t *testing.T) {
	fx := newFixture(t, `,"identity_headers":true`, testSnapshot)
	for _, tc := range []struct {
		name, path, key, session string
		more                     []string
		status                   uint32
		msg                      string
	}{
		{"allowed", "/api1/x", "good-key", testSession(`"alias":"al"`), nil, 200, ""},
		{"allowed, cached", "/api1/y", "good-key", "", nil, 200, ""},
		{"bearer", "/api1/x", "Bearer good-key", "", nil, 200, ""},
		{"missing key", "/api1/x", "", "", nil, 401, "Authorization field missing"},
		{"too short", "/api1/x", "ab", "", nil, 403, "Access to this API has been disallowed"},
		{"unknown", "/api1/x", "nobody-key", "404", nil, 403, "Access to this API has been disallowed"},
		{"unknown, negative cache", "/api1/x", "nobody-key", "", nil, 403, "Access to this API has been disallowed"},
		{"inactive", "/api1/x", "inactive-key", testSession(`"is_inactive":true`), nil, 403, "Key is inactive, please renew"},
		{"expired", "/api1/x", "expired-key", testSession(`"expires":1000`), nil, 401, "Key has expired, please renew"},
		{"policy", "/api1/x", "pol-key", `{"org_id":"org1","apply_policies":["p1"]}`, nil, 200, ""},
		{"inactive org", "/api1/x", "dead-org-key", `{"org_id":"dead-org","access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`,
			nil, 403, "organisation access has been disabled"},
		{"keyless", "/open/x", "", "", nil, 200, ""},
		{"unmatched passes", "/elsewhere", "", "", nil, 200, ""},
		{"version missing", "/v/x", "good-key", "", nil, 403, "Version information not found"},
		{"version unknown", "/v/x", "good-key", "", []string{"x-api-version", "v9"}, 403, "This API version does not seem to exist"},
		{"global rate limit, first", "/g/x", "good-key", "", nil, 200, ""},
		{"global rate limit, second", "/g/x", "good-key", "", nil, 429, "API Rate Limit Exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fx.do(tc.path, tc.key, tc.session, tc.more...)
			if got := status(s); got != tc.status {
				t.Fatalf("status %d, want %d (reply %+v)", got, tc.status, s.Reply)
			}
			if tc.msg != "" && !strings.Contains(s.Reply.Body, tc.msg) {
				t.Errorf("body %q, want %q", s.Reply.Body, tc.msg)
			}
		})
	}
	fx.r.OnTick() // flush counters
	for name, want := range map[string]uint64{
		"turnpike.decision.allowed": 5, "turnpike.decision.missing_key": 1, "turnpike.decision.key_not_found": 3,
		"turnpike.cache.misses": 6, "turnpike.cache.negative_hits": 1, "turnpike.decision.keyless": 1,
	} {
		if got := fx.f.Counters[name]; got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestIdentityHeadersAndStripping(t *testing.T) {
	fx := newFixture(t, `,"identity_headers":true,"strip_credential":true`, testSnapshot)
	s := fx.do("/api1/x", "good-key", `{"org_id":"org1","alias":"alice","apply_policies":["p1"]}`,
		"x-turnpike-alias", "spoofed")
	if status(s) != 200 {
		t.Fatalf("status %d %+v", status(s), s.Reply)
	}
	h := s.RequestHeaders
	if h["x-turnpike-key-hash"] != keys.Hash("good-key") || h["x-turnpike-alias"] != "alice" || h["x-turnpike-policies"] != "p1" {
		t.Errorf("identity headers %v", h)
	}
	if _, ok := h["authorization"]; ok {
		t.Error("credential not stripped")
	}
}

func TestStripParamAndCookie(t *testing.T) {
	snap := strings.Replace(testSnapshot, `"proxy":{"listen_path":"/api1/"}`,
		`"proxy":{"listen_path":"/api1/"},"auth":{"use_param":true,"param_name":"k","use_cookie":true,"cookie_name":"c"}`, 1)
	fx := newFixture(t, `,"strip_credential":true`, snap)
	s, _, _ := fx.send("/api1/x?a=1&k=param-key", "")
	fx.lookup("param-key", 200, testSession(""))
	if status(s) != 200 || s.RequestHeaders[":path"] != "/api1/x?a=1" {
		t.Fatalf("param: %d %q", status(s), s.RequestHeaders[":path"])
	}
	s, _, _ = fx.send("/api1/x", "", "cookie", "a=1; c=cookie-key")
	fx.lookup("cookie-key", 200, testSession(""))
	if status(s) != 200 || s.RequestHeaders["cookie"] != "a=1" {
		t.Fatalf("cookie: %d %q", status(s), s.RequestHeaders["cookie"])
	}
	s = fx.do("/api1/x", "", "", "cookie", "c=cookie-key")
	if _, ok := s.RequestHeaders["cookie"]; status(s) != 200 || ok {
		t.Fatalf("only cookie: %d %v", status(s), s.RequestHeaders)
	}
}

func TestNoSnapshotIsUnavailable(t *testing.T) {
	fx := newFixture(t, "", "")
	s, _, _ := fx.send("/api1/x", "good-key")
	if status(s) != 503 || s.Reply.Headers["retry-after"] != "1" {
		t.Fatalf("%+v", s.Reply)
	}
}

func TestConcurrentMissesShareOneLookup(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	a, _, actA := fx.send("/api1/x", "shared-key")
	b, _, actB := fx.send("/api1/y", "shared-key")
	if actA != proxywasm.ActionPause || actB != proxywasm.ActionPause {
		t.Fatal("misses did not pause")
	}
	n := 0
	for _, c := range fx.f.Calls {
		if strings.HasPrefix(c.Path(), "/turnpike/v1/sessions/") {
			n++
			if c.Context != fx.r.id {
				t.Errorf("lookup sent from context %d, want the root's", c.Context)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
	// The first stream ends before the answer: only the second resumes.
	fx.r.streams[a.ID].OnHttpStreamDone()
	fx.lookup("shared-key", 200, testSession(""))
	if a.Resumed || !b.Resumed {
		t.Fatalf("resumed a=%v b=%v", a.Resumed, b.Resumed)
	}
	// Shared data now has it: a new VM on the same host finds it there.
	r2 := NewRoot(fx.f, 2)
	if !r2.OnPluginStart(0) {
		t.Fatal("second root")
	}
	fx.sync(`{"version":"v1","cursor":"1-0","keys":[],"snapshot":` + testSnapshot + `}`)
	fx.next++
	s := fx.f.Stream(fx.next, map[string]string{":method": "GET", ":path": "/api1/x", "authorization": "shared-key"})
	if act := r2.NewHttpContext(fx.next).OnHttpRequestHeaders(0, true); act != proxywasm.ActionContinue || s.Reply != nil {
		t.Fatalf("shared session not used: %v %+v", act, s.Reply)
	}
}

func TestSidecarDown(t *testing.T) {
	fx := newFixture(t, `,"session_cache":{"ttl_ms":1000},"max_stale_ms":5000`, testSnapshot)
	if s := fx.do("/api1/x", "good-key", testSession("")); status(s) != 200 {
		t.Fatal("first request")
	}
	// Past the TTL the key is looked up again; a failed lookup serves the
	// stale entry within max_stale_ms.
	fx.f.Clock += int64(2 * time.Second)
	s, _, _ := fx.send("/api1/x", "good-key")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 0, nil, "")
	if !s.Resumed {
		t.Fatalf("stale session not used: %+v", s.Reply)
	}
	// An unknown key with the sidecar down is 503, never 403.
	s, _, _ = fx.send("/api1/x", "other-key")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 503, nil, "")
	if status(s) != 503 {
		t.Fatalf("unknown key, sidecar down: %d", status(s))
	}
	// A call the host cannot send is the same.
	fx.f.FailCalls = true
	if s, _, _ := fx.send("/api1/x", "third-key"); status(s) != 503 {
		t.Fatalf("call not sent: %d", status(s))
	}
	// Past the stale bound, the cached key is 503 too.
	fx.f.Clock += int64(10 * time.Second)
	if s, _, _ := fx.send("/api1/x", "good-key"); status(s) != 503 {
		t.Fatalf("beyond max stale: %d", status(s))
	}
	if !fx.f.Logged("session lookup call failed") {
		t.Error("failed call not logged")
	}
}

func TestRefusedTokenIsLogged(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	fx.send("/api1/x", "good-key")
	fx.lookup("good-key", 403, `{"error":"invalid filter token"}`)
	if !fx.f.Logged("refused the filter token") {
		t.Fatal("not logged")
	}
}

func TestUndecodableSessionIsRefused(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	if s := fx.do("/api1/x", "junk-key", `{"rate":"fast"}`); status(s) != 403 {
		t.Fatalf("status %d", status(s))
	}
	if !fx.f.Logged("undecodable session") {
		t.Error("not logged")
	}
}

func TestRateLimit(t *testing.T) {
	for _, mode := range []string{"quotas", "rate_limits"} {
		t.Run(mode, func(t *testing.T) {
			fx := newFixture(t, `,"rate_limit_headers":"`+mode+`","ietf_rate_limit_headers":true`, testSnapshot)
			sess := testSession(`"rate":2,"per":60,"quota_max":-1`)
			for i, want := range []uint32{200, 200, 429} {
				s := fx.do("/api1/x", "rl-key", sess)
				if status(s) != want {
					t.Fatalf("request %d: %d, want %d", i, status(s), want)
				}
				if want == 429 {
					if s.Reply.Headers["retry-after"] == "" {
						t.Error("429 without Retry-After")
					}
					if mode == "rate_limits" && s.Reply.Headers["x-ratelimit-limit"] != "2" {
						t.Errorf("429 headers %v", s.Reply.Headers)
					}
					continue
				}
				fx.respond(s)
				if s.ResponseHeaders["x-ratelimit-limit"] == "" || s.ResponseHeaders["ratelimit-policy"] == "" {
					t.Errorf("response headers %v", s.ResponseHeaders)
				}
			}
		})
	}
}

func TestSharedDataFailureIsUnavailable(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	if s := fx.do("/api1/x", "rl-key", testSession(`"rate":2,"per":60`)); status(s) != 200 {
		t.Fatal("first")
	}
	fx.f.FailShared = true
	if s := fx.do("/api1/x", "rl-key", ""); status(s) != 503 {
		t.Fatalf("status %d", status(s))
	}
	if s := fx.do("/g/x", "g-key", testSession("")); status(s) != 503 {
		t.Fatalf("api bucket: status %d", status(s))
	}
}

func TestQuota(t *testing.T) {
	fx := newFixture(t, `,"quota_exceeded_status":429,"ietf_rate_limit_headers":true`, testSnapshot)
	sess := testSession(`"quota_max":10,"quota_renewal_rate":3600`)
	s, _, act := fx.send("/api1/x", "q-key")
	fx.lookup("q-key", 200, sess)
	if act != proxywasm.ActionPause || s.Resumed {
		t.Fatal("did not wait for the quota")
	}
	c := fx.f.Pending("/turnpike/v1/quota")
	if c == nil || c.Headers[":method"] != "POST" || !strings.Contains(c.Body, `"quota_max":10`) || c.Context != s.ID {
		t.Fatalf("quota call %+v", c)
	}
	fx.f.Answer(c, 200, nil, `{"granted":1,"remaining":9,"reset":1700003600,"quota_max":10}`)
	if !s.Resumed {
		t.Fatalf("not admitted: %+v", s.Reply)
	}
	fx.respond(s)
	if s.ResponseHeaders["x-ratelimit-remaining"] != "9" || s.ResponseHeaders["ratelimit"] == "" {
		t.Errorf("headers %v", s.ResponseHeaders)
	}

	s, _, _ = fx.send("/api1/x", "q-key")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/quota"), 200, nil, `{"granted":0,"remaining":0,"reset":1700003600,"quota_max":10}`)
	if status(s) != 429 || s.Reply.Headers["retry-after"] != "3600" {
		t.Fatalf("exhausted: %d %+v", status(s), s.Reply)
	}
	for _, bad := range []struct {
		status int
		body   string
	}{{500, ""}, {200, "junk"}} {
		s, _, _ = fx.send("/api1/x", "q-key")
		fx.f.Answer(fx.f.Pending("/turnpike/v1/quota"), bad.status, nil, bad.body)
		if status(s) != 503 {
			t.Fatalf("%+v: status %d, want 503 (closed)", bad, status(s))
		}
	}
	fx.f.FailCalls = true
	if s, _, _ := fx.send("/api1/x", "q-key"); status(s) != 503 {
		t.Fatalf("unsent quota call: %d", status(s))
	}
}

func TestQuotaFailOpenCountsLocally(t *testing.T) {
	fx := newFixture(t, `,"failure_mode":{"quota":"open"}`, testSnapshot)
	sess := testSession(`"quota_max":2,"quota_renewal_rate":3600`)
	fx.do("/api1/x", "q-key", sess)
	fx.f.FailCalls = true
	var got []uint32
	for range 3 {
		s, _, _ := fx.send("/api1/x", "q-key")
		got = append(got, status(s))
	}
	if got[0] != 0 && got[0] != 200 || got[2] != 403 {
		t.Fatalf("statuses %v: the local count must stop at the quota", got)
	}
	fx.f.FailShared = true
	fx.f.FailCalls = false
	fx.do("/api1/x", "q2-key", sess)
	fx.f.FailCalls = true
	if s, _, _ := fx.send("/api1/x", "q2-key"); status(s) != 503 {
		t.Fatalf("local state failing: %d", status(s))
	}
}

func TestSyncEvictsAndResets(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	fx.do("/api1/x", "good-key", testSession(""))
	fx.f.Clock += int64(300 * time.Millisecond)
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"2-0","keys":["` + keys.Hash("good-key") + `"]}`)
	if _, ok := fx.r.sessions.Get(keys.Hash("good-key"), fx.f.Clock); ok {
		t.Fatal("evicted key still cached")
	}
	if fx.r.sync.cursor != "2-0" {
		t.Fatalf("cursor %q", fx.r.sync.cursor)
	}
	// A page with more asks again at once.
	fx.do("/api1/x", "good-key", testSession(""))
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"3-0","reset":true,"more":true,"keys":[]}`)
	if fx.r.sessions.Len() != 0 {
		t.Fatal("reset kept sessions")
	}
	if c := fx.f.Pending("/turnpike/v1/sync"); c == nil || !strings.Contains(c.Path(), "cursor=3-0") ||
		!strings.Contains(c.Path(), "version=v1") {
		t.Fatalf("no follow-up poll: %+v", c)
	}
	// Failures are counted and logged, and leave the snapshot in place.
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 200, nil, "{")
	fx.r.OnTick()
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 403, nil, "")
	fx.r.OnTick()
	if fx.f.Counters["turnpike.sidecar.failures.sync"] != 2 || fx.r.snap == nil {
		t.Fatalf("failures %d", fx.f.Counters["turnpike.sidecar.failures.sync"])
	}
	fx.f.FailCalls = true
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 0, nil, "")
	fx.r.OnTick()
	if !fx.f.Logged("sync call failed") {
		t.Error("unsent poll not logged")
	}
}

func TestSweepForgetsIdleBuckets(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	fx.do("/api1/x", "rl-key", testSession(`"rate":2,"per":1`))
	if len(fx.r.buckets) != 1 {
		t.Fatalf("%d buckets", len(fx.r.buckets))
	}
	fx.f.Clock += int64(30 * time.Second)
	fx.r.OnTick()
	if len(fx.r.buckets) != 0 {
		t.Fatal("idle bucket not swept")
	}
	if !fx.r.OnPluginDone() {
		t.Fatal("OnPluginDone")
	}
}

// The buckets a VM tracks for the sweep are bounded: a new key past the
// bound sheds a quarter of them, idle ones first, sweeping those that are
// full again; a shed bucket that is not full keeps its state, so no decision
// changes.
func TestTrackedBucketsBounded(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	fx.r.maxBuckets = 4
	limited := testSession(`"rate":2,"per":1`)
	// Two requests spend hot-key's burst.
	for range 2 {
		if s := fx.do("/api1/x", "hot-key", limited); status(s) != 200 {
			t.Fatalf("hot-key: %d", status(s))
		}
	}
	hot := shm.BucketKey(keys.Hash("hot-key"), "")
	tracked := func(key string) bool { _, ok := fx.r.buckets[key]; return ok }
	// At least 10 new keys, and more until hot-key's bucket is shed: the
	// shedding picks among idle buckets in Go's map order.
	for i := 0; i < 10 || tracked(hot); i++ {
		if i == 200 {
			t.Fatal("hot-key still tracked after 200 new keys with a bound of 4")
		}
		// Each new key comes 2 s after the last: the earlier buckets are
		// idle and full again.
		fx.f.Clock += int64(2 * time.Second)
		key := fmt.Sprintf("key-%03d", i)
		if s := fx.do("/api1/x", key, limited); status(s) != 200 {
			t.Fatalf("%s: %d", key, status(s))
		}
		if n := len(fx.r.buckets); n > 4 {
			t.Fatalf("after %s: %d buckets tracked, bound 4", key, n)
		}
		if !tracked(shm.BucketKey(keys.Hash(key), "")) {
			t.Fatalf("%s: the bucket just used is not tracked", key)
		}
	}
	// hot-key's bucket was shed while full again: emptied.
	if v, ok := fx.f.Shared(hot); !ok || len(v) != 0 {
		t.Errorf("hot-key's bucket after shedding: %q, %v; want emptied", v, ok)
	}

	// Shedding a bucket that is not full keeps its state: at a frozen clock
	// spent-key's burst stays spent however many keys push it out.
	for range 2 {
		fx.do("/api1/x", "spent-key", limited)
	}
	// At a frozen clock no bucket is idle, so the shedding picks among
	// all of them in Go's map order: new keys until spent-key's is shed
	// (each shed keeps it with probability 1/2; 200 keys make about 100
	// sheds).
	spent := shm.BucketKey(keys.Hash("spent-key"), "")
	for i := 0; tracked(spent); i++ {
		if i == 200 {
			t.Fatal("spent-key still tracked after 200 new keys with a bound of 4")
		}
		fx.do("/api1/x", fmt.Sprintf("more-%03d", i), limited)
	}
	if s := fx.do("/api1/x", "spent-key", limited); status(s) != 429 {
		t.Errorf("spent-key after shedding: %d, want 429", status(s))
	}
}

func TestBadConfigurationFailsStart(t *testing.T) {
	f := hosttest.New(testStart)
	f.Config = []byte(`{"unmatched":"maybe"}`)
	if NewRoot(f, 1).OnPluginStart(0) {
		t.Fatal("started")
	}
	if !f.Logged("invalid plugin configuration") {
		t.Errorf("logs %v", f.Logs)
	}
}

func TestPanicWhileResumingAnswers500(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, h, _ := fx.send("/api1/x", "good-key")
	h.api = nil // a bug: the next step dereferences it
	fx.lookup("good-key", 200, testSession(""))
	if status(s) != 500 || !fx.f.Logged("panic while resuming") {
		t.Fatalf("status %d, logs %v", status(s), fx.f.Logs)
	}
}

func TestPipelineNames(t *testing.T) {
	var names []string
	for _, s := range pipeline {
		names = append(names, s.name)
	}
	want := "normalize path, match API, OAuth endpoint, check version, authenticate, resolve session, apply policies, verify credential, check access, " +
		"org limits, rate limit, quota, transform headers, response cache, admit"
	if got := strings.Join(names, ", "); got != want {
		t.Fatalf("pipeline %s", got)
	}
}

const freshSync = `{"version":"v2","cursor":"1-0","keys":[],"snapshot":`

func TestUnmatchedRejectWaitsForAFreshConfiguration(t *testing.T) {
	fx := newFixture(t, `,"unmatched":"reject"`, testSnapshot)
	s, _, act := fx.send("/new/x", "")
	c := fx.f.Pending("/turnpike/v1/sync")
	if act != proxywasm.ActionPause || c == nil || !strings.Contains(c.Path(), "fresh=1") ||
		!strings.Contains(c.Path(), "vm="+fx.r.vmID) {
		t.Fatalf("no fresh poll: %v %+v", act, c)
	}
	// The API was created meanwhile: the request is decided by it.
	newAPI := `{"api_id":"new","org_id":"org1","active":true,"use_keyless":true,"proxy":{"listen_path":"/new/"}}`
	fx.f.Answer(c, 200, nil, freshSync+strings.Replace(testSnapshot, `"apis":[`, `"apis":[`+newAPI+`,`, 1)+`}`)
	if !s.Resumed || s.Reply != nil {
		t.Fatalf("new API not served: %+v", s.Reply)
	}
	// Still no API after the refresh: 404. A second request within the
	// minimum interval waits for the tick's poll, which is fresh.
	fx.f.Clock += int64(time.Second)
	s, _, _ = fx.send("/nowhere", "")
	s2, _, _ := fx.send("/nowhere/either", "")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 200, nil, `{"version":"v2","cursor":"1-0","keys":[]}`)
	if status(s) != 404 || s2.Reply != nil {
		t.Fatalf("first %d, second %+v", status(s), s2.Reply)
	}
	fx.f.Clock += int64(time.Second)
	fx.r.OnTick()
	c = fx.f.Pending("/turnpike/v1/sync")
	if c == nil || !strings.Contains(c.Path(), "fresh=1") {
		t.Fatalf("tick poll not fresh: %+v", c)
	}
	fx.f.Answer(c, 503, nil, "")
	if status(s2) != 404 {
		t.Fatalf("after a failed refresh: %d, want a decision on what the VM has", status(s2))
	}
	// A poll that cannot be sent: decided at once.
	fx.f.FailCalls = true
	fx.f.Clock += int64(time.Second)
	if s, _, _ := fx.send("/nowhere", ""); status(s) != 404 {
		t.Fatalf("unsent refresh: %d", status(s))
	}
}

func TestMissingPolicyWaitsForAFreshConfiguration(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	sess := `{"org_id":"org1","apply_policies":["p2"]}`
	s, _, _ := fx.send("/api1/x", "new-key")
	fx.lookup("new-key", 200, sess)
	c := fx.f.Pending("/turnpike/v1/sync")
	if s.Reply != nil || c == nil || !strings.Contains(c.Path(), "fresh=1") {
		t.Fatalf("decided on a stale policy set: %+v", s.Reply)
	}
	p2 := `"p2":{"id":"p2","org_id":"org1","active":true,"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}},`
	fx.f.Answer(c, 200, nil, freshSync+strings.Replace(testSnapshot, `"policies":{`, `"policies":{`+p2, 1)+`}`)
	if !s.Resumed {
		t.Fatalf("new policy not applied: %+v %v", s.Reply, fx.f.Logs)
	}
	// A policy that does not exist after the refresh: 403, as Tyk.
	fx.f.Clock += int64(time.Second)
	s, _, _ = fx.send("/api1/x", "nopol-key")
	fx.lookup("nopol-key", 200, `{"org_id":"org1","apply_policies":["nope"]}`)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 200, nil, `{"version":"v2","cursor":"1-0","keys":[]}`)
	if status(s) != 403 {
		t.Fatalf("missing policy: %d", status(s))
	}
}

func TestNewOrgSessionWaitsForAFreshConfiguration(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	sess := `{"org_id":"org2","access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`
	s, _, _ := fx.send("/api1/x", "org2-key")
	c := fx.f.Pending("/turnpike/v1/sessions/" + keys.Hash("org2-key"))
	fx.f.Answer(c, 200, map[string]string{"x-turnpike-cursor": "1-0", "x-turnpike-org-session": "1"}, sess)
	c = fx.f.Pending("/turnpike/v1/sync")
	if s.Reply != nil || s.Resumed || c == nil {
		t.Fatal("did not wait for the org session")
	}
	// The org session was created inactive, just before the key.
	orgs := strings.Replace(testSnapshot, `"orgs":{`, `"orgs":{"org2":{"org_id":"org2","is_inactive":true},`, 1)
	fx.f.Answer(c, 200, nil, freshSync+orgs+`}`)
	if status(s) != 403 {
		t.Fatalf("inactive org: %d", status(s))
	}
	// Without the sidecar's word, an org without an org session does not wait.
	s, _, _ = fx.send("/api1/x", "org3-key")
	fx.lookup("org3-key", 200, strings.Replace(sess, "org2", "org3", 1))
	if !s.Resumed {
		t.Fatalf("org3: %+v", s.Reply)
	}
}

func TestPathIsNormalizedBeforeItIsAuthorized(t *testing.T) {
	fx := newFixture(t, `,"unmatched":"reject"`, testSnapshot)
	// The key has api1 only: /api1/../g/x is /g/x, which it may not use.
	only1 := `{"org_id":"org1","access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`
	s := fx.do("/api1/../g/x", "good-key", only1)
	if status(s) != 403 || !strings.Contains(s.Reply.Body, "Access to this API has been disallowed") {
		t.Fatalf("climbing to another API: %d %+v", status(s), s.Reply)
	}
	// A keyless prefix does not lend its keylessness to another API.
	if s := fx.do("/open/../api1/x", "", ""); status(s) != 401 {
		t.Fatalf("keyless prefix: %d", status(s))
	}
	s = fx.do("/api1/../open/x?a=/../b", "", "")
	if status(s) != 200 || s.RequestHeaders[":path"] != "/open/x?a=/../b" {
		t.Fatalf("dot segments: %d %q", status(s), s.RequestHeaders[":path"])
	}
	s = fx.do("/open/%2e%2e/api1//x", "good-key", "")
	if status(s) != 200 || s.RequestHeaders[":path"] != "/api1/x" {
		t.Fatalf("encoded dots: %d %q", status(s), s.RequestHeaders[":path"])
	}
	for _, bad := range []string{"/api1/..%2fsecret", "/api1/a\\b", "/../api1/x", "/api1/%zz"} {
		s, _, _ := fx.send(bad, "good-key")
		if status(s) != 400 || !strings.Contains(s.Reply.Body, `"error": "path `) {
			t.Errorf("%q: %d %+v", bad, status(s), s.Reply)
		}
	}
}

func TestMatchedAPIIsMarkedForRouting(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s := fx.do("/open/x", "", "", "x-turnpike-api-id", "api1")
	if status(s) != 200 || s.RequestHeaders["x-turnpike-api-id"] != "open" {
		t.Fatalf("keyless: %d %q", status(s), s.RequestHeaders["x-turnpike-api-id"])
	}
	s = fx.do("/elsewhere", "", "", "x-turnpike-api-id", "api1")
	if _, spoofed := s.RequestHeaders["x-turnpike-api-id"]; status(s) != 200 || spoofed {
		t.Fatalf("unmatched kept the client's marker: %v", s.RequestHeaders)
	}
}

// With api_id_header off the filter leaves the header alone (a host that
// does not route on it must not trust it either).
func TestAPIIDHeaderOff(t *testing.T) {
	fx := newFixture(t, `,"api_id_header":false`, testSnapshot)
	for _, path := range []string{"/open/x", "/elsewhere"} {
		s := fx.do(path, "", "", "x-turnpike-api-id", "client")
		if status(s) != 200 || s.RequestHeaders["x-turnpike-api-id"] != "client" {
			t.Errorf("%s: %d %q", path, status(s), s.RequestHeaders["x-turnpike-api-id"])
		}
	}
}

func TestAPIWithAnUnenforcedAuthMethodRefusesEveryRequest(t *testing.T) {
	basic := strings.Replace(testAPI, `"api_id":"api1"`, `"api_id":"api1","use_go_plugin_auth":true`, 1)
	fx := newFixture(t, "", strings.Replace(testSnapshot, testAPI, basic, 1))
	for _, key := range []string{"good-key", "bob", ""} {
		s, _, _ := fx.send("/api1/x", key)
		if status(s) != 403 || !strings.Contains(s.Reply.Body, "Access to this API has been disallowed") {
			t.Fatalf("key %q: %d %+v", key, status(s), s.Reply)
		}
	}
	if len(fx.f.Calls) != 0 {
		t.Fatalf("%d sidecar calls: a refused API must not look keys up", len(fx.f.Calls))
	}
	// A new snapshot with the same API does not log it again.
	fx.r.OnTick()
	fx.sync(`{"version":"v3","cursor":"1-0","keys":[],"snapshot":` + strings.Replace(testSnapshot, testAPI, basic, 1) + `}`)
	n := 0
	for _, l := range fx.f.Logs {
		if strings.Contains(l, "Turnpike does not enforce") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("logged %d times, want once: %v", n, fx.f.Logs)
	}
}
