//go:build !wasip1

package main

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// TestQuotaLeaseMakesFewSidecarCalls: a quota far from exhaustion is spent
// from leases shared by the proxy's VMs, not with a call per request.
func TestQuotaLeaseMakesFewSidecarCalls(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("far-key", session(`"quota_max":1000000,"quota_renewal_rate":3600`))
	h := start(t, sc.srv.URL, 4, "")
	r := burst(t, h, request("/api1/x", "far-key"), 16, 250)
	if len(r.others) > 0 || r.admitted != 4000 {
		t.Fatalf("admitted %d, others %q", r.admitted, r.others)
	}
	calls := sc.quotaCalls.Load()
	t.Logf("%d quota calls for 4000 requests (%.4f per request)", calls, float64(calls)/4000)
	if calls > 4000/20 {
		t.Fatalf("%d quota calls for 4000 requests: more than 0.05 per request", calls)
	}
	// Redis counts what was leased, never less than what was admitted.
	if used := sc.used("far-key"); used < 4000 {
		t.Fatalf("the sidecar counted %d units for 4000 admitted requests", used)
	}
}

// TestQuotaLeaseUnspentUnitsGoBack: once traffic stops, the lease expires
// and the sidecar's count comes back to what was admitted, so the quota
// is reachable in full from another proxy.
func TestQuotaLeaseUnspentUnitsGoBack(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("back-key", session(`"quota_max":1000000,"quota_renewal_rate":3600`))
	h := start(t, sc.srv.URL, 4, `,"quota_lease":{"ttl_ms":300}`)
	r := burst(t, h, request("/api1/x", "back-key"), 8, 100)
	if r.admitted != 800 {
		t.Fatalf("admitted %d, others %q", r.admitted, r.others)
	}
	within(t, h, 3*time.Second, "unspent units given back", func() bool { return sc.used("back-key") == 800 })
}

// TestQuotaExactWithTwoProxies: two proxies of 4 VMs each, 50 clients, a
// quota of 300 that runs out: exactly 300 admitted, and the leases shrink
// to one unit near the end, so nothing is stranded once they expire.
func TestQuotaExactWithTwoProxies(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putKey("two-key", session(`"quota_max":300,"quota_renewal_rate":3600`))
	proxies := []*testHost{
		{h: start(t, sc.srv.URL, 4, `,"quota_lease":{"ttl_ms":300}`)},
		{h: start(t, sc.srv.URL, 4, `,"quota_lease":{"ttl_ms":300}`)},
	}
	var wg sync.WaitGroup
	results := make([]burstResult, 2)
	for i, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = burst(t, p.h, request("/api1/x", "two-key"), 25, 12)
		}()
	}
	wg.Wait()
	admitted := results[0].admitted + results[1].admitted
	for _, r := range results {
		if len(r.others) > 0 {
			t.Fatalf("unexpected answers %q", r.others)
		}
	}
	if admitted > 300 {
		t.Fatalf("admitted %d of a 300-unit quota", admitted)
	}
	// What a proxy still holds goes back at expiry; then the rest is
	// reachable through either proxy, one unit at a time.
	time.Sleep(400 * time.Millisecond)
	for _, p := range proxies {
		syncNow(t, p.h)
	}
	for i := 0; admitted < 300 && i < 400; i++ {
		o := do(t, proxies[i%2].h, request("/api1/x", "two-key"))
		if o.status == 200 {
			admitted++
		}
	}
	if admitted != 300 {
		t.Fatalf("admitted %d in all, want exactly 300", admitted)
	}
	for _, p := range proxies {
		if o := do(t, p.h, request("/api1/x", "two-key")); o.status != 403 {
			t.Fatalf("after the quota: %d", o.status)
		}
	}
}

// TestOrgQuotaAcrossKeys: an organisation's quota is shared by all its
// keys; its rate limit applies across them; both with Tyk's messages, and
// only with enforce_org_quotas (here the sidecar's switch).
func TestOrgQuotaAcrossKeys(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(apiJSON)
	sc.putOrg("org1", `{"org_id":"org1","quota_max":50,"quota_renewal_rate":3600}`)
	sc.enforceOrgs = true
	for i := range 10 {
		sc.putKey("org-key-"+strconv.Itoa(i), session(""))
	}
	h := start(t, sc.srv.URL, 4, "")
	admitted, refused := 0, 0
	for round := range 10 {
		for i := range 10 {
			o := do(t, h, request("/api1/x", "org-key-"+strconv.Itoa(i)))
			switch {
			case o.status == 200:
				admitted++
			case o.status == 403 && o.body == errorBody("This organisation quota has been exceeded, please contact your API administrator"):
				refused++
			default:
				t.Fatalf("round %d key %d: %d %s", round, i, o.status, o.body)
			}
		}
	}
	if admitted != 50 || refused != 50 {
		t.Fatalf("admitted %d, refused %d; want 50 and 50", admitted, refused)
	}

	sc.putOrg("org1", `{"org_id":"org1","rate":3,"per":60}`)
	syncNow(t, h)
	got := countAdmitted(t, h, request("/api1/x", "org-key-1"), 2) + countAdmitted(t, h, request("/api1/x", "org-key-2"), 2)
	if got != 3 {
		t.Fatalf("org rate 3 per minute: admitted %d of 4 across two keys", got)
	}
	o := do(t, h, request("/api1/x", "org-key-3"))
	if o.status != 403 || o.body != errorBody("This organisation rate limit has been exceeded, please contact your API administrator") {
		t.Fatalf("org rate limited: %d %s", o.status, o.body)
	}
}

type testHost struct{ h *wasmhost.Host }
