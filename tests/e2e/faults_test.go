package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

const msgUnavailable = "Access control is temporarily unavailable, please retry"

// warmQuotaKey creates a key with quota max that has been used once on
// each of the 4 VMs (sequential requests go round robin), so every VM has
// cached its session; max - 4 units are left.
func (e *env) warmQuotaKey(max int) string {
	e.t.Helper()
	key := e.createKey(`{"org_id":"org1","quota_max":` + strconv.Itoa(max) + `,"quota_renewal_rate":3600,` + rights("api1") + `}`)
	if got := e.statuses(4, "/api1/x", key); !equal(got, 200, 200, 200, 200) {
		e.t.Fatalf("warming the quota key: %v", got)
	}
	return key
}

// cacheKey makes every VM hold key's session, then waits until every VM has
// polled the sync feed past the key's creation (settle): that event must not
// evict a session read after it, or the outage tests below would see 503s
// for keys the proxy had just served.
func (e *env) cacheKey(path, key string) {
	e.t.Helper()
	e.within(propagation, path, key, 200, "")
	e.settle()
}

// expectUnavailable checks the filter's closed failure answer on every VM.
func (e *env) expectUnavailable(path, key string) {
	e.t.Helper()
	for range 4 {
		r := e.expect(path, key, 503, msgUnavailable)
		if r.header.Get("Retry-After") != "1" {
			e.t.Fatalf("Retry-After %q on 503, want 1", r.header.Get("Retry-After"))
		}
	}
}

func TestSidecarKilledAndRestarted(t *testing.T) {
	e := newEnv(t, options{})
	e.addAPI(apiDef("api1", ""))
	cached := e.createKey(unlimited(rights("api1"), ""))
	e.cacheKey("/api1/x", cached)
	quotaKey := e.warmQuotaKey(10)

	e.sidecars[0].Kill() // the replica the filter talks to
	// Replica 1 still serves the Gateway API: state is in Redis.
	fresh := e.createKey(unlimited(rights("api1"), ""))

	// Documented failure behaviour: sessions cached before the outage keep
	// working; a key this proxy never saw and every quota reservation fail
	// closed with 503 (never 403: the key may be valid).
	e.within(propagation, "/api1/x", cached, 200, "")
	e.expectUnavailable("/api1/x", fresh)
	e.expectUnavailable("/api1/x", quotaKey)

	e.sidecars[0].Start()
	e.waitSidecarReady(0, 15*time.Second)
	d := e.within(5*time.Second, "/api1/x", fresh, 200, "")
	t.Logf("gateway recovered %v after the sidecar was ready", d)
	// Requests refused during the outage spent no quota: 6 of 10 remain.
	if got := e.statuses(7, "/api1/x", quotaKey); !equal(got, 200, 200, 200, 200, 200, 200, 403) {
		t.Fatalf("quota key after the restart: %v, want 6 x 200 then 403", got)
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	e := newEnv(t, options{persist: true})
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"gold","org_id":"org1","active":true,"quota_max":-1,`+rights("api1")+`}`)
	e.addAPI(apiDef("api1", ""))
	cached := e.createKey(`{"org_id":"org1","apply_policies":["gold"]}`)
	e.cacheKey("/api1/x", cached)
	uncached := e.createKey(`{"org_id":"org1","apply_policies":["gold"]}`) // never sent through the gateway
	quotaKey := e.warmQuotaKey(10)

	e.redis.Stop() // SIGKILL
	for i := range e.sidecars {
		e.eventually(5*time.Second, "sidecar"+strconv.Itoa(i)+" not ready", func() error {
			resp, err := e.client.Get(e.sidecarURLs[i] + "/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 503 {
				return errStatus(resp.StatusCode)
			}
			return nil
		})
	}
	// Writes fail at once with a clear, retryable answer.
	r := e.api(http.MethodPost, "/tyk/keys", unlimited(rights("api1"), ""))
	if err := apiError(r, 503, "Storage unavailable, please retry"); err != nil || r.header.Get("Retry-After") != "1" {
		t.Fatalf("key create with Redis down: %v, Retry-After %q", err, r.header.Get("Retry-After"))
	}
	e.within(propagation, "/api1/x", cached, 200, "")
	e.expectUnavailable("/api1/x", uncached)
	e.expectUnavailable("/api1/x", quotaKey)

	e.redis.Start() // same port and directory: the append-only file is replayed
	for i := range e.sidecars {
		e.waitSidecarReady(i, 15*time.Second)
	}
	// Nothing acknowledged before the crash is lost: the policy, the API,
	// both keys and the quota counter (4 of 10 used; none spent while down).
	d := e.within(5*time.Second, "/api1/x", uncached, 200, "")
	t.Logf("gateway recovered %v after the sidecars were ready", d)
	e.within(propagation, "/api1/x", cached, 200, "")
	if got := e.statuses(7, "/api1/x", quotaKey); !equal(got, 200, 200, 200, 200, 200, 200, 403) {
		t.Fatalf("quota key after the restart: %v, want 6 x 200 then 403", got)
	}
	if p := e.mustAPI(http.MethodGet, "/tyk/policies/gold", ""); p["id"] != "gold" {
		t.Fatalf("policy after the restart: %v", p)
	}
}

func TestGatewayRestartKeepsQuota(t *testing.T) {
	e := newEnv(t, options{})
	e.addAPI(apiDef("api1", ""))
	quotaKey := e.warmQuotaKey(6)

	if err := e.gateway.Stop(); err != nil { // SIGTERM: must exit 0
		t.Fatalf("the gateway exited with %v after SIGTERM, want status 0", err)
	}
	e.startGateway()
	// The counters live in Redis: 2 of 6 are left.
	if got := e.statuses(3, "/api1/x", quotaKey); !equal(got, 200, 200, 403) {
		t.Fatalf("quota key after the gateway restart: %v, want 200 200 403", got)
	}
}

type errStatus int

func (s errStatus) Error() string { return "status " + strconv.Itoa(int(s)) }
