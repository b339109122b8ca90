package fault

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// msgRevoked is the filter's answer for a key that does not exist (any more).
const msgRevoked = "Access to this API has been disallowed"

// TestSidecarKilledMidLoad SIGKILLs sidecar replicas while load runs.
func TestSidecarKilledMidLoad(t *testing.T) {
	sidecarKills(t, standalone(t, false, false))
}

// sidecarKills runs three sidecar replicas on tg behind the balancer (as a
// proxy's cluster with three endpoints) and, under load, first SIGKILLs
// one replica (a key is revoked through a surviving replica meanwhile),
// then all three (a key is revoked right after they are back). The quota
// key's quota runs out during the run: no more than quota_max requests may
// be admitted, whatever was killed.
func sidecarKills(t *testing.T, tg *target) {
	const quotaMax = 600
	s := newStack(t, tg, stackOptions{sidecars: 3, plugin: `,"quota_lease":{"ttl_ms":500,"max_units":20}`})
	s.addAPI("api1")
	unlimited := `{"org_id":"org1","quota_max":-1,` + rights("api1") + `}`
	warm := s.createKey(unlimited)
	revoked := []string{s.createKey(unlimited), s.createKey(unlimited)}
	quotaKey := s.createKey(fmt.Sprintf(`{"org_id":"org1","quota_max":%d,"quota_renewal_rate":3600,%s}`, quotaMax, rights("api1")))
	pool := &keyPool{}
	for range 200 {
		pool.keys = append(pool.keys, s.createKey(unlimited))
	}
	for _, k := range append([]string{warm}, revoked...) {
		s.expectOnBothVMs(10*time.Second, k, 200, "")
	}
	s.expectOnBothVMs(10*time.Second, quotaKey, 200, "") // 2 units spent

	rec := s.startLoad(
		stream{name: "cached", workers: 2, pace: 20 * time.Millisecond, key: func() string { return warm }},
		stream{name: "quota", workers: 2, pace: 20 * time.Millisecond, key: func() string { return quotaKey }},
		stream{name: "new", workers: 1, pace: 100 * time.Millisecond, key: pool.next, done: pool.done},
	)
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)

	// One replica of three dies; the others serve, the Gateway API too.
	tA := time.Now()
	s.sidecars[0].Kill()
	if r, err := s.apiAt(1, http.MethodDelete, "/tyk/keys/"+revoked[0], ""); err != nil || r.status != 200 {
		t.Fatalf("revoking through a surviving replica: %v %v", r, err)
	}
	applied := s.expectOnBothVMs(10*time.Second, revoked[0], 403, msgRevoked)
	t.Logf("one replica down: revocation through a surviving replica applied in %v", applied.Round(time.Millisecond))
	time.Sleep(3*time.Second - time.Since(tA))
	tA1 := time.Now()
	s.sidecars[0].Start()
	ready := s.waitSidecarReady(0, 20*time.Second)
	t.Logf("one replica down: restarted, ready %v after its start", ready.Round(time.Millisecond))
	time.Sleep(2 * time.Second)

	// Every replica dies: cached keys go on, everything else waits.
	tB := time.Now()
	for _, p := range s.sidecars {
		p.Kill()
	}
	time.Sleep(3 * time.Second)
	tB1 := time.Now()
	for _, p := range s.sidecars {
		p.Start()
	}
	var readyAll time.Duration
	for i := range s.sidecars {
		readyAll = max(readyAll, s.waitSidecarReady(i, 20*time.Second))
	}
	if r, err := s.apiAt(2, http.MethodDelete, "/tyk/keys/"+revoked[1], ""); err != nil || r.status != 200 {
		t.Fatalf("revoking after the outage: %v %v", r, err)
	}
	applied = s.expectOnBothVMs(10*time.Second, revoked[1], 403, msgRevoked)
	t.Logf("all replicas down: restarted, ready %v after their start; a revocation made then applied in %v",
		readyAll.Round(time.Millisecond), applied.Round(time.Millisecond))
	s.expectOnBothVMs(time.Second, revoked[0], 403, msgRevoked) // still revoked
	s.waitRecovered(rec, tB1)
	rec.stop()
	end := time.Now()

	rec.report(t, "before", start, tA)
	rec.report(t, "one of 3 replicas killed", tA, tA1)
	rec.report(t, "between", tA1, tB)
	rec.report(t, "all 3 replicas killed", tB, tB1)
	rec.report(t, "after", tB1, end)
	t.Logf("recovered %v after one replica was restarted, %v after all were",
		rec.recovery(tA1, tB).Round(time.Millisecond), rec.recovery(tB1, end).Round(time.Millisecond))

	all := byStream(rec.window(start, end))
	checkBounds(t, "cached key", all["cached"], maxWait, "200")
	checkBounds(t, "quota key", all["quota"], maxWait, "200", "503+Retry-After", "403 quota")
	checkBounds(t, "new keys", all["new"], maxWait, "200", "503+Retry-After")

	// Exactness: admitted <= quota_max; Redis counted at least what was
	// admitted (the difference is units of leases lost with a killed
	// sidecar's answers, see filter/README.md, Bound on loss).
	admitted := summarize(all["quota"]).classes["200"] + 2
	remaining := int(num(t, s.mustAPI(http.MethodGet, "/tyk/keys/"+quotaKey, ""), "quota_remaining"))
	counted := quotaMax - remaining
	t.Logf("quota: quota_max %d, admitted %d, counted in Redis %d, lost %d", quotaMax, admitted, counted, counted-admitted)
	if admitted > quotaMax {
		t.Errorf("quota overshoot: admitted %d > quota_max %d", admitted, quotaMax)
	}
	if counted < admitted {
		t.Errorf("Redis counted %d units, fewer than the %d requests admitted", counted, admitted)
	}
}

// expectOnBothVMs polls until key gets status (with msg in the body) on
// both VMs of the gateway (two answers in a row: requests go round robin)
// and returns the time taken.
func (s *stack) expectOnBothVMs(limit time.Duration, key string, status int, msg string) time.Duration {
	s.t.Helper()
	return s.eventually(limit, fmt.Sprintf("key -> %d %s", status, msg), func() error {
		for range 2 {
			r, err := s.get("/api1/x", key)
			if err != nil {
				return err
			}
			if r.status != status || !strings.Contains(r.body, msg) {
				return fmt.Errorf("got %s, want %d %s", r, status, msg)
			}
		}
		return nil
	})
}

// num reads a JSON number field of a decoded object.
func num(t testing.TB, v map[string]any, field string) int64 {
	t.Helper()
	f, ok := v[field].(float64)
	if !ok {
		t.Fatalf("field %q = %v (%T), want a number", field, v[field], v[field])
	}
	return int64(f)
}
