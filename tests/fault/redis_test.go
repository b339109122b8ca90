package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestRedisKilledUnderLoad SIGKILLs a standalone Redis (the master) while
// load runs and starts it again from its append-only file.
func TestRedisKilledUnderLoad(t *testing.T) {
	redisKilled(t, standalone(t, true, false))
}

// redisKilled: while Redis is down, cached keys keep working, requests that
// need Redis get 503 with Retry-After (never 403), the Gateway API answers
// 503 with Retry-After, and the sidecars (not restarted) reconnect when it
// is back.
func redisKilled(t *testing.T, tg *target) {
	s := newStack(t, tg, stackOptions{sidecars: 2})
	s.addAPI("api1")
	unlimited := `{"org_id":"org1","quota_max":-1,` + rights("api1") + `}`
	warm := s.createKey(unlimited)
	quotaKey := s.createKey(`{"org_id":"org1","quota_max":1000000,"quota_renewal_rate":3600,` + rights("api1") + `}`)
	pool := &keyPool{}
	for range 150 {
		pool.keys = append(pool.keys, s.createKey(unlimited))
	}
	s.expectOnBothVMs(10*time.Second, warm, 200, "")
	s.expectOnBothVMs(10*time.Second, quotaKey, 200, "")
	pids := []int{s.sidecars[0].Pid(), s.sidecars[1].Pid()}
	before, err := s.resources()
	if err != nil {
		t.Fatal(err)
	}

	rec := s.startLoad(
		stream{name: "cached", workers: 2, pace: 20 * time.Millisecond, key: func() string { return warm }},
		stream{name: "quota", workers: 2, pace: 20 * time.Millisecond, key: func() string { return quotaKey }},
		stream{name: "new", workers: 1, pace: 100 * time.Millisecond, key: pool.next, done: pool.done},
		stream{name: "api", workers: 1, pace: 100 * time.Millisecond, key: func() string { return warm },
			send: func(key string) (reply, error) { return s.apiAt(1, http.MethodGet, "/tyk/keys/"+key, "") }},
	)
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	t0 := time.Now()
	tg.kill()
	var notReady time.Duration
	for i := range s.sidecars {
		notReady = max(notReady, s.eventually(10*time.Second, "sidecar not ready", func() error {
			resp, err := s.client.Get(s.sidecarURLs[i] + "/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				return fmt.Errorf("/ready: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			return nil
		}))
	}
	r, err := s.apiAt(0, http.MethodPost, "/tyk/keys", unlimited)
	if err != nil || r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("key create with Redis down: %v %v (Retry-After %q), want 503 with Retry-After", r, err, r.header.Get("Retry-After"))
	}
	time.Sleep(3*time.Second - time.Since(t0))
	t1 := time.Now()
	tg.restart()
	var reconnect time.Duration
	for i := range s.sidecars {
		reconnect = max(reconnect, s.waitSidecarReady(i, 20*time.Second))
	}
	s.waitRecovered(rec, t1)
	rec.stop()
	end := time.Now()

	rec.report(t, "before", start, t0)
	rec.report(t, "Redis down", t0, t1)
	rec.report(t, "after", t1, end)
	after := s.noLeak(before)
	t.Logf("sidecars not ready %v after the kill; ready again %v after Redis was restarted (same processes); "+
		"all requests served again %v after the restart; before: %v; after: %v",
		notReady.Round(time.Millisecond), reconnect.Round(time.Millisecond),
		rec.recovery(t1, end).Round(time.Millisecond), before, after)
	if now := []int{s.sidecars[0].Pid(), s.sidecars[1].Pid()}; !slices.Equal(now, pids) {
		t.Errorf("sidecar processes %v, want the same %v (reconnect without restart)", now, pids)
	}
	all := byStream(rec.window(start, end))
	checkBounds(t, "cached key", all["cached"], maxWait, "200")
	checkBounds(t, "quota key", all["quota"], maxWait, "200", "503+Retry-After")
	checkBounds(t, "new keys", all["new"], maxWait, "200", "503+Retry-After")
	checkBounds(t, "Gateway API", all["api"], maxAPIWait, "200", "503+Retry-After")
}

// TestRedisRestartFromAOF checks that nothing acknowledged is lost when
// Redis is SIGKILLed and restarts from its append-only file (appendfsync
// always, see standalone), comparing what the Gateway API shows before and
// after: keys (with their live quota counters), policies, APIs and the
// organisation session with its quota counter.
func TestRedisRestartFromAOF(t *testing.T) {
	aofRestart(t, standalone(t, true, false))
}

func aofRestart(t *testing.T, tg *target) {
	s := newStack(t, tg, stackOptions{sidecars: 1, sidecarArgs: []string{"--enforce-org-quotas"}})
	s.mustAPI(http.MethodPost, "/tyk/org/keys/org1",
		`{"org_id":"org1","quota_max":1000000,"quota_renewal_rate":3600}`)
	s.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"gold","org_id":"org1","active":true,"rate":1000,"per":1,`+
		`"quota_max":5000,"quota_renewal_rate":3600,`+rights("api1")+`}`)
	s.addAPI("api1")
	var keys []string
	for i := range 10 {
		keys = append(keys, s.createKey(`{"org_id":"org1","apply_policies":["gold"]}`))
		keys = append(keys, s.createKey(fmt.Sprintf(`{"org_id":"org1","quota_max":%d,"quota_renewal_rate":3600,%s}`,
			1000+i, rights("api1"))))
	}
	// Spend quota on every key (and so on the organisation's counter).
	var n int
	rec := s.startLoad(stream{name: "quota", workers: 2, pace: 5 * time.Millisecond, key: func() string {
		n++
		return keys[n%len(keys)]
	}})
	time.Sleep(2 * time.Second)
	rec.stop()
	rec.report(t, "traffic before the kill", time.Time{}, forever())
	// A clean gateway stop gives unspent lease units back, so the counters
	// hold still from here on.
	_ = s.gateway.Stop()

	snap := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		read := func(name, path string) { out[name] = s.mustAPI(http.MethodGet, path, "") }
		read("key list", "/tyk/keys")
		read("org session org1", "/tyk/org/keys/org1")
		read("policy gold", "/tyk/policies/gold")
		read("api api1", "/tyk/apis/api1")
		for _, k := range keys {
			read("key "+k[:8]+"…", "/tyk/keys/"+k)
		}
		return out
	}
	var before map[string]map[string]any
	s.eventually(10*time.Second, "counters at rest", func() error {
		a := snap()
		time.Sleep(700 * time.Millisecond) // > the lease sweep
		before = snap()
		if diff := compare(a, before); diff != "" {
			return fmt.Errorf("still changing: %s", diff)
		}
		return nil
	})
	used := 1000000 - num(t, s.mustAPI(http.MethodGet, "/tyk/org/keys/org1", ""), "quota_remaining")
	if used == 0 {
		t.Fatal("no organisation quota was counted: the comparison would prove nothing about counters")
	}

	// Kill Redis while Gateway API writes go on; every write acknowledged
	// before the kill must survive it.
	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := s.apiAt(0, http.MethodPost, "/tyk/keys", `{"org_id":"org1","apply_policies":["gold"]}`)
			if err == nil && r.status == 200 {
				var v struct{ Key string }
				_ = json.Unmarshal([]byte(r.body), &v)
				mu.Lock()
				acked = append(acked, v.Key)
				mu.Unlock()
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	tg.kill()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	restarted := time.Now()
	tg.restart()
	s.waitSidecarReady(0, 20*time.Second)
	s.eventually(20*time.Second, "Gateway API answering", func() error {
		r, err := s.apiAt(0, http.MethodGet, "/tyk/policies/gold", "")
		if err != nil || r.status != 200 {
			return fmt.Errorf("%v %v", r, err)
		}
		return nil
	})
	ready := time.Since(restarted)
	after := snap()
	// The writes after the first snapshot are in the key list now.
	delete(before, "key list")
	delete(after, "key list")
	if diff := compare(before, after); diff != "" {
		t.Errorf("state changed across the restart: %s", diff)
	}
	lost := 0
	for _, k := range acked {
		if r, err := s.apiAt(0, http.MethodGet, "/tyk/keys/"+k, ""); err != nil || r.status != 200 {
			lost++
		}
	}
	t.Logf("AOF (appendfsync always): %d values compared (org session with %d units counted, policy, API, %d keys "+
		"with their counters): %d differ; %d key creates acknowledged in the second around the kill, %d of them lost; "+
		"Gateway API answering again %v after the restart", len(before), used, len(keys), len(diffKeys(before, after)),
		len(acked), lost, ready.Round(time.Millisecond))
	if lost > 0 {
		t.Errorf("%d of %d acknowledged key writes lost", lost, len(acked))
	}
}

// compare describes how b differs from a ("" = equal).
func compare(a, b map[string]map[string]any) string {
	d := diffKeys(a, b)
	if len(d) == 0 {
		return ""
	}
	k := d[0]
	return fmt.Sprintf("%d values differ, e.g. %s: %s -> %s", len(d), k, canonical(a[k], nil), canonical(b[k], nil))
}

// diffKeys names the values that differ between a and b.
func diffKeys(a, b map[string]map[string]any) []string {
	var out []string
	for k, v := range a {
		if canonical(v, nil) != canonical(b[k], v) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// canonical is v as JSON with sorted keys. With ref, a quota_renews (at
// any depth) that is within a second of ref's counts as ref's: the Gateway
// API computes it from the counter's TTL and the sidecar's clock in whole
// seconds, so two reads of one unchanged counter may differ by one second
// (the expiry itself is stored absolute and survives the restart).
func canonical(v, ref map[string]any) string {
	var out []byte
	if ref != nil {
		out, _ = json.Marshal(withRenewsOf(v, ref))
	} else {
		out, _ = json.Marshal(v)
	}
	return string(out)
}

// withRenewsOf is a copy of v whose quota_renews fields take ref's value
// where the two differ by at most one.
func withRenewsOf(v, ref any) any {
	m, ok := v.(map[string]any)
	r, okR := ref.(map[string]any)
	if !ok || !okR {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		a, okA := x.(float64)
		b, okB := r[k].(float64)
		if k == "quota_renews" && okA && okB && a-b <= 1 && b-a <= 1 {
			out[k] = b
			continue
		}
		out[k] = withRenewsOf(x, r[k])
	}
	return out
}
