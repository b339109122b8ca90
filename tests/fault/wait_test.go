package fault

import (
	"github.com/turnpike-dev/turnpike/tests/internal/proc"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// waitTimeout is the sidecars' --quota-wait-timeout in these tests (the
// default is 100 ms; a loaded test machine can make the replica slower).
const waitTimeout = 250 * time.Millisecond

// leaseUnits is the size of the leases the cost measurement asks for: a
// proxy serving 10 requests a second asks for 20 units with the filter's
// default quota_lease.cover_ms (2 s).
const leaseUnits = 20

// TestQuotaGrantWaitsForReplica runs sidecars with --quota-wait-replicas 1
// on a Redis master with one real replica (redis-server --replicaof): it
// measures what the wait costs per grant and per request, checks that an
// answered grant is on the replica, and kills the replica under load (the
// grants then fail, are given back, and the filter answers 503, never more
// than the quota).
func TestQuotaGrantWaitsForReplica(t *testing.T) {
	master := testenv.StartRedis(t, testenv.RedisOptions{})
	replica, replicaAddr := startReplica(t, master.Addr())
	tg := &target{name: "standalone with a replica", url: master.URL(), nodes: []string{master.Addr()},
		kill: master.Stop, restart: master.Start}
	s := newStack(t, tg, stackOptions{sidecars: 1, plugin: `,"quota_lease":{"ttl_ms":500,"max_units":20}`,
		sidecarArgs: []string{"--quota-wait-replicas", "1", "--quota-wait-timeout", waitTimeout.String()}})
	waitURL := s.sidecarURLs[0]
	_, plainURL := startSidecar(t, "sidecar-no-wait", tg.url)
	waitReady(t, plainURL)

	// Cost, interleaved so both see the same machine.
	const grants = 300
	plain, waited := make([]time.Duration, 0, grants), make([]time.Duration, 0, grants)
	failed := 0 // waits the replica did not answer in time (a loaded machine)
	for range grants {
		d, _, err := grant(plainURL, "cost-plain", 1<<40, leaseUnits)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, d)
		if d, _, err = grant(waitURL, "cost-wait", 1<<40, leaseUnits); err != nil {
			failed++
			continue
		}
		waited = append(waited, d)
	}
	if failed > grants/10 {
		t.Fatalf("%d of %d grants waiting for the replica failed", failed, grants)
	}
	p50 := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	mean := func(ds []time.Duration) time.Duration {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / time.Duration(len(ds))
	}
	extra, extraP50 := mean(waited)-mean(plain), p50(waited)-p50(plain)
	t.Logf("quota grant cost over %d interleaved grants of %d units (Filter API, loopback): without WAIT mean %v "+
		"p50 %v; with WAIT 1 replica mean %v p50 %v (%d not acknowledged in time); extra per grant: p50 %v, mean %v; "+
		"per request: p50 %v, mean %v", grants, leaseUnits, mean(plain).Round(time.Microsecond), p50(plain).Round(time.Microsecond),
		mean(waited).Round(time.Microsecond), p50(waited).Round(time.Microsecond), failed,
		extraP50.Round(time.Microsecond), extra.Round(time.Microsecond),
		(extraP50 / leaseUnits).Round(100*time.Nanosecond), (extra / leaseUnits).Round(100*time.Nanosecond))

	// An answered grant is on the replica when the answer arrives.
	rc := redis.NewClient(&redis.Options{Addr: replicaAddr})
	defer rc.Close()
	total, answered := int64(0), 0
	for i := range 50 {
		_, g, err := grant(waitURL, "replicated", 1<<40, leaseUnits)
		if err != nil {
			continue // not acknowledged in time: given back, not answered
		}
		answered++
		total += g.Granted
		if got := counterOn(t, rc, "replicated"); got < total {
			t.Fatalf("grant %d answered: the replica counts %d units, want %d", i, got, total)
		}
	}

	if answered < 40 {
		t.Fatalf("only %d of 50 grants were acknowledged by the replica in time", answered)
	}
	t.Logf("%d of 50 grants answered; each was on the replica when its answer arrived", answered)

	// Under load through the gateway, the replica dies for 3 s.
	const quotaMax = 400
	s.addAPI("api1")
	quotaKey := s.createKey(fmt.Sprintf(`{"org_id":"org1","quota_max":%d,"quota_renewal_rate":3600,%s}`, quotaMax, rights("api1")))
	s.expectOnBothVMs(10*time.Second, quotaKey, 200, "") // 2 units
	rec := s.startLoad(stream{name: "quota", workers: 2, pace: 20 * time.Millisecond, key: func() string { return quotaKey }})
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	t0 := time.Now()
	replica.Kill()
	time.Sleep(500 * time.Millisecond)
	before := counterOnMaster(t, master.Addr(), "down")
	d, _, err := grant(waitURL, "down", 1<<40, leaseUnits)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a grant with the replica down: %v after %v, want 503", err, d)
	}
	if after := counterOnMaster(t, master.Addr(), "down"); after != before {
		t.Errorf("a grant refused for want of a replica left %d units counted, want them given back", after-before)
	}
	t.Logf("replica down: a grant answered 503 after %v (--quota-wait-timeout %v), units given back", d.Round(time.Millisecond), waitTimeout)
	time.Sleep(3*time.Second - time.Since(t0))
	t1 := time.Now()
	replica.Start()
	waitReplicaUp(t, replicaAddr)
	synced := time.Since(t1)
	s.waitRecovered(rec, t1)
	rec.stop()
	end := time.Now()
	rec.report(t, "before", start, t0)
	rec.report(t, "replica down", t0, t1)
	rec.report(t, "after", t1, end)
	all := rec.window(start, end)
	checkBounds(t, "quota key", all, maxWait+waitTimeout, "200", "503+Retry-After", "403 quota")
	admitted := summarize(all).classes["200"] + 2
	remaining := int(num(t, s.mustAPI(http.MethodGet, "/tyk/keys/"+quotaKey, ""), "quota_remaining"))
	t.Logf("replica back in sync %v after its restart; all requests served again %v after it; "+
		"quota: quota_max %d, admitted %d, counted %d (the rest: leased, not yet spent or given back)", synced.Round(time.Millisecond),
		rec.recovery(t1, end).Round(time.Millisecond), quotaMax, admitted, quotaMax-remaining)
	if admitted > quotaMax {
		t.Errorf("quota overshoot: admitted %d > quota_max %d", admitted, quotaMax)
	}
}

// BenchmarkQuotaGrant measures one lease grant of 20 units through the
// Filter API without and with --quota-wait-replicas 1 (a real replica on
// loopback), interleaved: each iteration makes one grant of each kind, so
// both see the same machine. It reports each kind's mean per grant and the
// extra cost of the wait per grant and per request (spread over the
// lease's units).
func BenchmarkQuotaGrant(b *testing.B) {
	master := testenv.StartRedis(b, testenv.RedisOptions{})
	startReplica(b, master.Addr())
	_, plainURL := startSidecar(b, "sidecar-no-wait", master.URL())
	_, waitURL := startSidecar(b, "sidecar-wait", master.URL(),
		"--quota-wait-replicas", "1", "--quota-wait-timeout", waitTimeout.String())
	waitReady(b, plainURL)
	waitReady(b, waitURL)
	var plain, waited []time.Duration
	for b.Loop() {
		d, _, err := grant(plainURL, "bench-plain", 1<<40, leaseUnits)
		if err != nil {
			b.Fatal(err)
		}
		plain = append(plain, d)
		if d, _, err = grant(waitURL, "bench-wait", 1<<40, leaseUnits); err != nil {
			b.Fatal(err)
		}
		waited = append(waited, d)
	}
	// Medians: on a shared machine a few grants wait milliseconds for a
	// descheduled process, which swamps a mean.
	p50 := func(ds []time.Duration) float64 { slices.Sort(ds); return float64(ds[len(ds)/2].Nanoseconds()) }
	np, nw := p50(plain), p50(waited)
	b.ReportMetric(np, "p50-ns/grant-no-wait")
	b.ReportMetric(nw, "p50-ns/grant-wait")
	b.ReportMetric(nw-np, "p50-extra-ns/grant")
	b.ReportMetric((nw-np)/leaseUnits, "p50-extra-ns/request")
}

var grantClient = &http.Client{Timeout: 30 * time.Second}

// grant asks the sidecar at base for a lease of units on the counter of
// the key hash of name, and returns how long the call took.
func grant(base, name string, quotaMax, units int64) (time.Duration, wire.QuotaResponse, error) {
	body := wire.AppendQuotaRequest(nil, wire.QuotaRequest{KeyHash: hashOf(name), QuotaMax: quotaMax,
		QuotaRenewalRate: 3600, Units: units, Lease: true})
	req, err := http.NewRequest(http.MethodPost, base+wire.PathQuota, bytes.NewReader(body))
	if err != nil {
		return 0, wire.QuotaResponse{}, err
	}
	req.Header.Set("X-Turnpike-Filter-Token", filterToken)
	start := time.Now()
	resp, err := grantClient.Do(req)
	if err != nil {
		return time.Since(start), wire.QuotaResponse{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	d := time.Since(start)
	if err != nil {
		return d, wire.QuotaResponse{}, err
	}
	if resp.StatusCode != 200 {
		return d, wire.QuotaResponse{}, fmt.Errorf("quota: %d (Retry-After %q) %s", resp.StatusCode,
			resp.Header.Get("Retry-After"), buf.String())
	}
	g, err := wire.DecodeQuotaResponse(buf.Bytes())
	return d, g, err
}

func hashOf(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// counterOn reads the quota counter of name's key hash on a Redis node. It
// finds the counter by the hash (SCAN), so it holds whatever the counter's
// key layout (a Cluster layout may add hash tags).
func counterOn(t testing.TB, c *redis.Client, name string) int64 {
	t.Helper()
	ctx := context.Background()
	keys, _, err := c.Scan(ctx, 0, "quota*"+hashOf(name)+"*", 10000).Result()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, k := range keys {
		n, err := c.Get(ctx, k).Int64()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		sum += n
	}
	return sum
}

func counterOnMaster(t testing.TB, addr, name string) int64 {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	return counterOn(t, c, name)
}

// startReplica starts a redis-server replicating master (host:port) and
// waits until it is in sync; it returns the process and its address.
func startReplica(t testing.TB, master string) (*proc.Proc, string) {
	t.Helper()
	bin, err := testenv.RedisBinary()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(master)
	own := strconv.Itoa(testenv.FreePort(t))
	p := proc.New(t, "replica", bin, "--port", own, "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--replicaof", host, port, "--loglevel", "warning")
	p.Start()
	addr := "127.0.0.1:" + own
	waitReplicaUp(t, addr)
	return p, addr
}

// waitReplicaUp waits until the replica at addr reports its link to the
// master up (initial sync done).
func waitReplicaUp(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not in sync within 30 s: %v %q", addr, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits until the sidecar at base answers /ready with 200.
func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := grantClient.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar %s not ready within 20 s: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
