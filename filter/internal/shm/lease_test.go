package shm

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testPolicy = LeasePolicy{Cover: int64(2 * time.Second), MaxUnits: 1000, TTL: int64(time.Second), PendingTimeout: int64(2 * time.Second)}

func testGrant(units, sentAt int64) Grant {
	return Grant{Units: units, WindowID: 5000, WindowMS: 60_000, Remaining: 900, Reset: 5000, Max: 1000, Rate: 60, SentAt: sentAt}
}

// TestSpendLeaseIsExactAcrossConcurrentVMs: the units of one lease are
// spent exactly once by VMs racing on it.
func TestSpendLeaseIsExactAcrossConcurrentVMs(t *testing.T) {
	st := newStore()
	const now = int64(1e18)
	if _, err := MergeLease(st, new(Scratch), "k", testGrant(100, now), false, now, int64(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var spent atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := new(Scratch)
			for range 60 {
				s, err := SpendLease(st, sc, "k", 1000, 60, now, testPolicy)
				if err != nil {
					t.Error(err)
					return
				}
				if s.Spent {
					spent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := spent.Load(); got != 100 {
		t.Fatalf("spent %d units of a 100-unit lease", got)
	}
}

func TestLeaseRules(t *testing.T) {
	const t0 = int64(1e18)
	ttl := int64(time.Second)
	sc := new(Scratch)
	st := newStore()
	// No lease: the request asks, for one unit at first.
	s, _ := SpendLease(st, sc, "k", 1000, 60, t0, testPolicy)
	if s.Spent || s.Ask != 1 {
		t.Fatalf("empty lease: %+v", s)
	}
	// A second request meanwhile asks for its own unit only.
	if s, _ := SpendLease(st, sc, "k", 1000, 60, t0, testPolicy); s.Spent || s.Ask != 1 {
		t.Fatalf("second waiter: %+v", s)
	}
	s, _ = MergeLease(st, sc, "k", testGrant(1, t0), true, t0+int64(time.Millisecond), ttl)
	if !s.Spent || s.Remaining != 900 {
		t.Fatalf("merge and take: %+v", s)
	}
	// 50 ms later at 1 request per ms... one request: the rate says 1 in 50 ms.
	now := t0 + 51*int64(time.Millisecond)
	s, _ = SpendLease(st, sc, "k", 1000, 60, now, testPolicy)
	if s.Spent || s.Ask != 40 {
		t.Fatalf("ask after one unit in 50 ms: %+v, want 40 (2 s of traffic)", s)
	}
	s, _ = MergeLease(st, sc, "k", testGrant(40, now), true, now, ttl)
	if !s.Spent {
		t.Fatal("not spent")
	}
	// Units are void for another limit and after the window's deadline.
	if s, _ := SpendLease(st, sc, "k", 500, 60, now, testPolicy); s.Spent || s.Void.Units != 39 || s.Void.WindowID != 5000 {
		t.Fatalf("another limit: %+v", s)
	}
	MergeLease(st, sc, "k", testGrant(10, now), false, now, ttl)
	late := now + 60*int64(time.Second)
	if s, _ := SpendLease(st, sc, "k", 1000, 60, late, testPolicy); s.Spent || s.Void.Units != 0 {
		t.Fatalf("after the window: %+v (nothing to give back: the window may be over)", s)
	}
	// Expiry drains; a grant of another window replaces the lease.
	MergeLease(st, sc, "k", testGrant(10, now), false, now, ttl)
	if left, _ := DrainLease(st, sc, "k", now, func(l *Lease) bool { return now >= l.Expires }); left.Units != 0 {
		t.Fatalf("drained before expiry: %+v", left)
	}
	if left, _ := DrainLease(st, sc, "k", now+ttl, func(l *Lease) bool { return now+ttl >= l.Expires }); left.Units != 10 {
		t.Fatalf("expiry drained %+v, want 10", left)
	}
	MergeLease(st, sc, "k", testGrant(10, now), false, now, ttl)
	g := testGrant(3, now)
	g.WindowID = 6000
	if s, _ := MergeLease(st, sc, "k", g, false, now, ttl); s.Void.Units != 10 || s.Void.WindowID != 5000 {
		t.Fatalf("new window: %+v", s)
	}
	// A unit given back returns to the lease of its window, else to the sidecar.
	if left, _ := GiveBack(st, sc, "k", 6000, now); left.Units != 0 {
		t.Fatalf("give back: %+v", left)
	}
	if left, _ := GiveBack(st, sc, "k", 5000, now); left.Units != 1 || left.WindowID != 5000 {
		t.Fatalf("give back of another window: %+v", left)
	}
	l, _ := DecodeLease(mustGet(t, st, "k"))
	if l.Left != 4 {
		t.Fatalf("left %d, want 4", l.Left)
	}
}

func mustGet(t *testing.T, st Store, key string) []byte {
	t.Helper()
	v, _, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
