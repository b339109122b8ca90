package app

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// TestClusterMasterKilled: a Redis Cluster master dies under Gateway API and
// Filter API traffic. /ready and /metrics say the sidecar runs degraded;
// requests for keys in the dead master's slots get 503 (never 403 or 404)
// until its replica is promoted, and work again right after it; then the
// sidecar reports healthy again.
func TestClusterMasterKilled(t *testing.T) {
	testenv.OncePerRun(t)
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	s := start(t, cl.URL())
	expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
	owners := cl.Owners()
	victim := owners[testenv.Slot("apikey-"+keys.Hash("cluster-key-0"))]
	var victimKeys []string
	for i := 0; len(victimKeys) < 10; i++ {
		k := fmt.Sprintf("cluster-key-%d", i)
		expect(t, "key", s.tyk("POST", "/tyk/keys/"+k, `{"apply_policies":["gold"]}`), 200, "")
		if owners[testenv.Slot("apikey-"+keys.Hash(k))] == victim {
			victimKeys = append(victimKeys, k)
		}
	}

	var (
		mu       sync.Mutex
		statuses = map[string]int{} // "<api> <code>" -> count
		okAfter  = map[string]time.Time{}
		promoted time.Time
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for _, k := range victimKeys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g := s.tyk("GET", "/tyk/keys/"+k, "")
				p := s.tyk("PUT", "/tyk/keys/"+k+"?suppress_reset=1", `{"apply_policies":["gold"]}`)
				f := s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash(k), "")
				mu.Lock()
				statuses[fmt.Sprintf("gateway GET %d", g.code)]++
				statuses[fmt.Sprintf("gateway PUT %d", p.code)]++
				statuses[fmt.Sprintf("filter session %d", f.code)]++
				if g.code == 200 && p.code == 200 && f.code == 200 && !promoted.IsZero() && okAfter[k].IsZero() {
					okAfter[k] = time.Now()
				}
				mu.Unlock()
				if g.code != 200 || p.code != 200 || f.code != 200 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	victim.Stop()

	// Degraded is reported (the monitor checks every second).
	var sawReady, sawMetric string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := s.do("GET", "/ready", "")
		if r.code == 200 && strings.Contains(string(r.body), "degraded") {
			sawReady = strings.TrimSpace(string(r.body))
			m := s.do("GET", "/metrics", "")
			for _, line := range strings.Split(string(m.body), "\n") {
				if strings.HasPrefix(line, "turnpike_sidecar_redis_degraded ") {
					sawMetric = line
				}
			}
			break
		}
	}
	degradedAfter := time.Since(killed)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no replica promoted within 60 s")
		}
		if o := cl.Owners()[testenv.Slot("apikey-"+keys.Hash(victimKeys[0]))]; o != nil && o != victim && o.Running() {
			mu.Lock()
			promoted = time.Now()
			mu.Unlock()
			break
		}
	}
	var worst time.Duration
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(okAfter)
		mu.Unlock()
		if n == len(victimKeys) {
			break
		}
	}
	close(stop)
	wg.Wait()
	for _, k := range victimKeys {
		if okAfter[k].IsZero() {
			worst = 30 * time.Second
			break
		}
		worst = max(worst, okAfter[k].Sub(promoted))
	}
	// Healthy again once the monitor sees the new master.
	var healthyAfter time.Duration
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r := s.do("GET", "/ready", ""); r.code == 200 && !strings.Contains(string(r.body), "degraded") {
			healthyAfter = time.Since(promoted)
			break
		}
	}
	var counts []string
	for k, n := range statuses {
		counts = append(counts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(counts)
	t.Logf("cluster master %s killed under traffic on %d keys of its slots: degraded reported %v after the kill (%s; %s); "+
		"replica promoted %v after the kill; every key read and written through both APIs %v after the promotion; "+
		"/ready without degraded %v after the promotion; responses: %s",
		victim.Addr(), len(victimKeys), degradedAfter.Round(time.Millisecond), sawReady, sawMetric,
		promoted.Sub(killed).Round(time.Millisecond), worst.Round(time.Millisecond), healthyAfter.Round(time.Millisecond),
		strings.Join(counts, ", "))
	if sawReady == "" || !strings.Contains(sawMetric, " ") || strings.HasSuffix(sawMetric, " 0") {
		t.Errorf("degraded not reported: /ready %q, metric %q", sawReady, sawMetric)
	}
	if worst > 5*time.Second {
		t.Errorf("keys of the killed master worked again %v after the promotion, want well under 5 s", worst)
	}
	if healthyAfter == 0 {
		t.Error("/ready still degraded 30 s after the promotion")
	}
	for k := range statuses {
		if strings.HasSuffix(k, " 403") || strings.HasSuffix(k, " 404") || strings.HasSuffix(k, " 400") {
			t.Errorf("a failover answered %s: an existing key must never look unknown or forbidden", k)
		}
	}
}
