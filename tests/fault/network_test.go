package fault

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRedisLatencyAndResets injects faults between one sidecar and a
// standalone Redis while load runs.
func TestRedisLatencyAndResets(t *testing.T) {
	networkFaults(t, standalone(t, false, true))
}

// networkFault is one fault the proxy injects for hold.
type networkFault struct {
	name         string
	apply, clear func()
	hold         time.Duration
}

// networkFaults runs each fault in turn on one stack over tg (whose proxy
// must be set), with four streams of load: a cached key (must always get
// 200), a key with a large quota (its lease keeps it going; then 503), keys
// never seen before (each needs a lookup: 200 or 503, never 403), and
// Gateway API reads straight to the sidecar (bounded by its Redis timeout).
func networkFaults(t *testing.T, tg *target) {
	s := newStack(t, tg, stackOptions{sidecars: 1})
	p := tg.proxy
	s.addAPI("api1")
	warm := s.createKey(`{"org_id":"org1","quota_max":-1,` + rights("api1") + `}`)
	quotaKey := s.createKey(`{"org_id":"org1","quota_max":1000000,"quota_renewal_rate":3600,` + rights("api1") + `}`)
	pool := &keyPool{}
	for range 300 {
		pool.keys = append(pool.keys, s.createKey(`{"org_id":"org1","quota_max":-1,`+rights("api1")+`}`))
	}
	for _, k := range []string{warm, quotaKey} {
		s.eventually(10*time.Second, "key cached on both VMs", func() error {
			for range 2 {
				if r, err := s.get("/api1/x", k); err != nil || r.status != 200 {
					return fmt.Errorf("got %v %v", r, err)
				}
			}
			return nil
		})
	}
	apiRead := func(key string) (reply, error) { return s.apiAt(0, http.MethodGet, "/tyk/keys/"+key, "") }

	faults := []networkFault{
		{name: "latency 50ms", hold: 3 * time.Second,
			apply: func() { p.SetLatency(50 * time.Millisecond) }, clear: func() { p.SetLatency(0) }},
		{name: "latency 500ms", hold: 3 * time.Second,
			apply: func() { p.SetLatency(500 * time.Millisecond) }, clear: func() { p.SetLatency(0) }},
		{name: "latency 5s", hold: 6 * time.Second,
			apply: func() { p.SetLatency(5 * time.Second) }, clear: func() { p.SetLatency(0) }},
		{name: "connection resets", hold: 3 * time.Second,
			apply: func() { p.SetReset(true) }, clear: func() { p.SetReset(false) }},
	}
	t.Logf("timeouts: sidecar --redis-timeout %v, filter sidecar.timeout_ms %v; bounds: gateway %v, Gateway API %v",
		redisTimeout, callTimeout, maxWait, maxAPIWait)
	for _, f := range faults {
		before, err := s.resources()
		if err != nil {
			t.Fatal(err)
		}
		rec := s.startLoad(
			stream{name: "cached", workers: 2, pace: 20 * time.Millisecond, key: func() string { return warm }},
			stream{name: "quota", workers: 2, pace: 20 * time.Millisecond, key: func() string { return quotaKey }},
			stream{name: "new", workers: 1, pace: 100 * time.Millisecond, key: pool.next, done: pool.done},
			stream{name: "api", workers: 1, pace: 100 * time.Millisecond, key: func() string { return warm }, send: apiRead},
		)
		start := time.Now()
		time.Sleep(1500 * time.Millisecond)
		t0 := time.Now()
		f.apply()
		time.Sleep(f.hold)
		f.clear()
		t1 := time.Now()
		// Wait until every stream is served again, then a little more.
		s.eventually(20*time.Second, f.name+": recovered", func() error {
			if d := time.Since(t1); d < 2*time.Second || rec.recovery(t1, forever()) > d-time.Second {
				return fmt.Errorf("failures within the last second")
			}
			return nil
		})
		rec.stop()
		end := time.Now()
		accepted := p.Accepted()
		rec.report(t, f.name+": before", start, t0)
		rec.report(t, f.name+": during", t0, t1)
		rec.report(t, f.name+": after", t1, end)
		recovery := rec.recovery(t1, forever())
		after := s.noLeak(before)
		t.Logf("%s: recovered %v after the fault ended; sidecar connections to Redis opened so far %d; "+
			"before: %v; after: %v", f.name, recovery.Round(time.Millisecond), accepted, before, after)

		all := byStream(rec.window(start, end))
		checkBounds(t, f.name+" cached key", all["cached"], maxWait, "200")
		checkBounds(t, f.name+" quota key", all["quota"], maxWait, "200", "503+Retry-After")
		checkBounds(t, f.name+" new keys", all["new"], maxWait, "200", "503+Retry-After")
		checkBounds(t, f.name+" Gateway API", all["api"], maxAPIWait, "200", "503+Retry-After")
		if t.Failed() {
			return
		}
	}
	t.Logf("new keys looked up: %d of %d", pool.used, pool.used+len(pool.keys))
}
