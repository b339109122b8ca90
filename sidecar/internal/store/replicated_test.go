package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// TestQuotaWaitReplicas: LeaseWait with one replica waits for the replica
// (WAIT) and counts exactly as Lease; asking for more replicas than exist
// fails the grant with ErrReplicasBehind and gives its units back. It measures what the
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
			st := New(c, time.Second)
			one := ReplicaWait{Replicas: 1, Timeout: 500 * time.Millisecond}
			ctx := context.Background()
			const grants, quotaMax = 300, 1000000
			var plainTime, waitTime []time.Duration
			var plainUnits, waitUnits int64
			// Warm up: connections, script caches.
			_, _ = st.Lease(ctx, QuotaKey("warm", hashN(0)), quotaMax, 3600, 1)
			// and until every master's replica acknowledges (a fresh
			// cluster's replicas may still be attaching).
			for i, deadline := 0, time.Now().Add(20*time.Second); ; i = (i + 1) % 7 {
				_, err := st.LeaseWait(ctx, QuotaKey("warm", hashN(i)), quotaMax, 3600, 1, one)
				if err == nil && i == 6 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("replicas never acknowledged a grant: %v", err)
				}
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
			for i := range grants {
				for _, w := range []bool{i%2 == 0, i%2 != 0} { // alternate which goes first
					key := QuotaKey("", hashN(i%7)) // a few counters, over several slots
					tally, units := &plainTime, &plainUnits
					if w {
						tally, units = &waitTime, &waitUnits
						key = QuotaKey("w", hashN(i%7))
					}
					start := time.Now()
					var g Grant
					var err error
					if w {
						g, err = st.LeaseWait(ctx, key, quotaMax, 3600, 50, one)
					} else {
						g, err = st.Lease(ctx, key, quotaMax, 3600, 50)
					}
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
			// More replicas than exist: the grant fails and is given back.
			start := time.Now()
			_, err = st.LeaseWait(ctx, QuotaKey("g", hashN(1)), quotaMax, 3600, 50, ReplicaWait{Replicas: 2, Timeout: 200 * time.Millisecond})
			failAfter := time.Since(start)
			if !errors.Is(err, ErrReplicasBehind) {
				t.Errorf("2 replicas asked, 1 exists: err = %v, want ErrReplicasBehind", err)
			}
			if used, _ := c.Get(ctx, QuotaKey("g", hashN(1))).Int64(); used != 0 {
				t.Errorf("a grant not replicated in time left %d units counted, want 0 (given back)", used)
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
