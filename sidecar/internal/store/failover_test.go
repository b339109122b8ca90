package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// failoverProbe writes sessions whose keys live on one Redis node, kills
// that node, and measures, for every key, the time from the promotion of
// its replica (as Redis reports it) to the key's first successful read and
// write through the sidecar's store. Traffic runs all along, as under load.
type failoverProbe struct {
	t      *testing.T
	s      *Store
	hashes []string
	mu     sync.Mutex
	ok     map[string]time.Time // hash -> first success after promotion
	fails  int
	last   error // the last failure
	lost   int   // reads that found no session (lost by the failover)
	reads  int
}

// loop reads and writes every key, one after another, until ctx ends;
// after promoted is closed, it records each key's first success.
func (p *failoverProbe) loop(ctx context.Context, promoted <-chan struct{}) {
	for ctx.Err() == nil {
		for _, h := range p.hashes {
			_, _, err := p.s.Session(ctx, h)
			if errors.Is(err, ErrNotFound) {
				// Reachable, but the key is gone: a write the failover lost
				// (replication is asynchronous). Counted, then rewritten.
				p.mu.Lock()
				p.lost++
				p.mu.Unlock()
				err = nil
			}
			if err == nil {
				err = p.s.PutSession(ctx, h, []byte(`{"probe":1}`), 0, nil)
			}
			after := false
			select {
			case <-promoted:
				after = true
			default:
			}
			p.mu.Lock()
			p.reads++
			if err != nil {
				p.fails++
				if ctx.Err() == nil {
					p.last = err
				}
			} else if _, seen := p.ok[h]; after && !seen {
				p.ok[h] = time.Now()
			}
			p.mu.Unlock()
			if err != nil {
				time.Sleep(10 * time.Millisecond) // a client retrying, not a spin
			}
		}
	}
}

// TestClusterFailoverFollowed: a Redis Cluster master is killed under
// traffic; the sidecar's client reaches every key of that master's slots
// soon after its replica is promoted (the goal: within 1 s; go-redis alone
// took up to its 60 s slot-map refresh).
func TestClusterFailoverFollowed(t *testing.T) {
	testenv.OncePerRun(t)
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	c, err := Dial(cl.URL(), 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := New(c, 500*time.Millisecond)
	ctx := context.Background()
	if err := s.EnsureFeed(ctx); err != nil {
		t.Fatal(err)
	}
	// The victim is the master of the first session key; the probe uses 40
	// keys in its slots (wherever the feed lives).
	victim := cl.MasterOf(sessionPrefix + hashN(0))
	owners := cl.Owners()
	p := &failoverProbe{t: t, s: s, ok: map[string]time.Time{}}
	slots := map[int]bool{}
	for i := 0; len(p.hashes) < 40; i++ {
		h := hashN(i)
		if slot := testenv.Slot(sessionPrefix + h); owners[slot] == victim && !slots[slot] {
			slots[slot] = true
			p.hashes = append(p.hashes, h)
			if err := s.PutSession(ctx, h, []byte(`{}`), 0, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	feedOnVictim := owners[testenv.Slot(changesKey)] == victim
	r := p.measure(victim.Stop, func() bool {
		o := cl.Owners()[testenv.Slot(sessionPrefix+p.hashes[0])]
		return o != nil && o != victim && o.Running()
	})
	t.Logf("cluster failover: master %s killed; replica promoted %v later (Redis); every one of %d keys in %d of its slots "+
		"read and written %v after the promotion (feed on the killed master: %v); %d store calls, %d failed (last: %v), %d reads found a session lost",
		victim.Addr(), r.promotion.Round(time.Millisecond), len(p.hashes), len(slots),
		r.worst.Round(time.Millisecond), feedOnVictim, p.reads, p.fails, p.last, p.lost)
	// The goal is 1 s; the bound is generous for a loaded machine.
	if r.worst > 5*time.Second {
		t.Fatalf("keys of the failed master reachable %v after the promotion, want well under 5 s", r.worst)
	}
}

// TestSentinelFailoverFollowed: the Sentinel-managed master is killed under
// traffic; the sidecar's failover client reaches the promoted replica soon
// after the Sentinels switch (go-redis follows +switch-master).
func TestSentinelFailoverFollowed(t *testing.T) {
	testenv.OncePerRun(t)
	sn := testenv.StartSentinel(t, testenv.SentinelOptions{})
	c, err := Dial(sn.URL(), 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := New(c, 500*time.Millisecond)
	ctx := context.Background()
	if err := s.EnsureFeed(ctx); err != nil {
		t.Fatal(err)
	}
	p := &failoverProbe{t: t, s: s, ok: map[string]time.Time{}}
	for i := range 40 {
		p.hashes = append(p.hashes, hashN(i))
		if err := s.PutSession(ctx, hashN(i), []byte(`{}`), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	victim, err := sn.Master()
	if err != nil {
		t.Fatal(err)
	}
	r := p.measure(victim.Stop, func() bool {
		m, err := sn.Master()
		return err == nil && m != victim
	})
	t.Logf("sentinel failover: master %s killed; Sentinels switched %v later; every one of %d keys read and written "+
		"%v after the switch; %d store calls, %d failed (last: %v), %d reads found a session lost",
		victim.Addr(), r.promotion.Round(time.Millisecond), len(p.hashes), r.worst.Round(time.Millisecond), p.reads, p.fails, p.last, p.lost)
	if r.worst > 5*time.Second {
		t.Fatalf("keys reachable %v after the switch, want well under 5 s", r.worst)
	}
}

// failoverResult: how long Redis took to promote a replica after the kill,
// and the longest time from the promotion to a key's first success.
type failoverResult struct{ promotion, worst time.Duration }

// measure runs the probe's traffic, kills the master, waits for promoted
// (polled every 20 ms) and then for every key's first success (at most 20 s).
func (p *failoverProbe) measure(kill func(), promoted func() bool) failoverResult {
	p.t.Helper()
	ctx := context.Background()

	switched := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); p.loop(runCtx, switched) }()
	}
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	kill()
	var promotedAt time.Time
	for promotedAt.IsZero() {
		if time.Since(killed) > 60*time.Second {
			p.t.Fatal("no replica promoted within 60 s")
		}
		if promoted() {
			promotedAt = time.Now()
			close(switched)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := promotedAt.Add(20 * time.Second)
	for {
		p.mu.Lock()
		done := len(p.ok) == len(p.hashes)
		p.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	var worst time.Duration
	for _, h := range p.hashes {
		at, ok := p.ok[h]
		if !ok {
			worst = 20 * time.Second
			break
		}
		worst = max(worst, at.Sub(promotedAt))
	}
	return failoverResult{promotion: promotedAt.Sub(killed), worst: worst}
}
