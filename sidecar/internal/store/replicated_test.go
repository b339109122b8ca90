package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// TestQuotaWaitReplicas: with SetQuotaReplicas(1) every grant waits for the
// replica (WAIT) and counts exactly as without; asking for more replicas
// than exist fails the grant with ErrNotReplicated. It measures what the
// wait costs per grant, interleaved with grants that do not wait, on a
// Sentinel-managed master with one replica and on a 3-master cluster.
func TestQuotaWaitReplicas(t *testing.T) {
	testenv.OncePerRun(t)
	for _, topo := range []struct {
		name  string
		start func(t *testing.T) testenv.Backend
	}{
		{"sentinel", func(t *testing.T) testenv.Backend { return testenv.StartSentinel(t, testenv.SentinelOptions{}) }},
		{"cluster", func(t *testing.T) testenv.Backend { return testenv.StartCluster(t, testenv.ClusterOptions{}) }},
	} {
		t.Run(topo.name, func(t *testing.T) {
			b := topo.start(t)
			c, err := Dial(b.URL(), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			plain, waiting := New(c, time.Second), New(c, time.Second)
			waiting.SetQuotaReplicas(1)
			ctx := context.Background()
			const grants, quotaMax = 300, 1000000
			var plainTime, waitTime []time.Duration
			var plainUnits, waitUnits int64
			// Warm up: connections, script caches.
			_, _ = plain.Lease(ctx, QuotaKey("warm", hashN(0)), quotaMax, 3600, 1)
			_, _ = waiting.Lease(ctx, QuotaKey("warm", hashN(0)), quotaMax, 3600, 1)
			for i := range grants {
				for _, w := range []bool{i%2 == 0, i%2 != 0} { // alternate which goes first
					key := QuotaKey("", hashN(i%7)) // a few counters, over several slots
					st, tally, units := plain, &plainTime, &plainUnits
					if w {
						st, tally, units = waiting, &waitTime, &waitUnits
						key = QuotaKey("w", hashN(i%7))
					}
					start := time.Now()
					g, err := st.Lease(ctx, key, quotaMax, 3600, 50)
					*tally = append(*tally, time.Since(start))
					if err != nil {
						t.Fatalf("lease (wait %v): %v", w, err)
					}
					*units += g.Granted
				}
			}
			sum := func(prefix string) int64 {
				var n int64
				for i := range 7 {
					v, _ := c.Get(ctx, QuotaKey(prefix, hashN(i))).Int64()
					n += v
				}
				return n
			}
			if got := sum("w"); got != waitUnits {
				t.Errorf("waiting grants: counted %d, granted %d", got, waitUnits)
			}
			if got := sum(""); got != plainUnits {
				t.Errorf("plain grants: counted %d, granted %d", got, plainUnits)
			}
			// More replicas than exist: the grant is counted but fails.
			greedy := New(c, 400*time.Millisecond)
			greedy.SetQuotaReplicas(2)
			start := time.Now()
			_, err = greedy.Lease(ctx, QuotaKey("g", hashN(1)), quotaMax, 3600, 50)
			failAfter := time.Since(start)
			if !errors.Is(err, ErrNotReplicated) {
				t.Errorf("2 replicas asked, 1 exists: err = %v, want ErrNotReplicated", err)
			}
			perPlain, perWait := median(plainTime), median(waitTime)
			t.Logf("%s: %d leases each, interleaved: median %v per grant without WAIT, %v with WAIT 1 (x%.2f); "+
				"a lease of 50 units spreads that over 50 requests: +%v per request; asking 2 replicas of 1 failed after %v",
				topo.name, grants, perPlain.Round(time.Microsecond), perWait.Round(time.Microsecond),
				float64(perWait)/float64(perPlain), ((perWait - perPlain) / 50).Round(time.Microsecond), failAfter.Round(time.Millisecond))
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
