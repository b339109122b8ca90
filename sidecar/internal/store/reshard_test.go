package store

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// redirectCounter is a node client hook counting the ASK and MOVED answers
// go-redis follows.
type redirectCounter struct{ ask, moved atomic.Int64 }

func (h *redirectCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *redirectCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(err)
		return err
	}
}

func (h *redirectCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.count(c.Err())
		}
		return err
	}
}

func (h *redirectCounter) count(err error) {
	switch {
	case err == nil:
	case strings.HasPrefix(err.Error(), "ASK "):
		h.ask.Add(1)
	case strings.HasPrefix(err.Error(), "MOVED "):
		h.moved.Add(1)
	}
}

// TestQuotaExactUnderSlotMigration: the slots holding a quota counter and a
// leased counter move between masters, back and forth, while 8 clients
// reserve and lease from them (go-redis follows ASK during a migration and
// MOVED after it; each migration leaves 20 ms of ASK). Exactly quota_max
// units are granted from each counter.
func TestQuotaExactUnderSlotMigration(t *testing.T) {
	testenv.OncePerRun(t)
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	c, err := Dial(cl.URL(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var redirects redirectCounter
	c.(*redis.ClusterClient).OnNewNode(func(n *redis.Client) { n.AddHook(&redirects) })
	s := New(c, 5*time.Second)
	ctx := context.Background()
	const quotaMax, leaseMax = 30000, 200000
	reserved, leased := QuotaKey("", hashN(1)), QuotaKey("api1", hashN(2))

	var (
		granted, leaseGranted, released atomic.Int64
		errs                            atomic.Int64
		firstErr                        atomic.Value
		wg                              sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if i%2 == 0 { // units one by one, as a filter without leases
					r, err := s.Reserve(ctx, reserved, quotaMax, 3600, 1)
					if err != nil {
						fail(err)
						continue
					}
					if r.Granted == 0 {
						return
					}
					granted.Add(r.Granted)
					continue
				}
				g, err := s.Lease(ctx, leased, leaseMax, 3600, 64)
				if err != nil {
					fail(err)
					continue
				}
				if g.Granted == 0 {
					return
				}
				leaseGranted.Add(g.Granted)
				if g.Granted > 1 { // give a quarter back, as a filter whose lease outlived its traffic
					n, err := s.Release(ctx, leased, g.ResetAt, g.Granted/4)
					if err != nil {
						fail(err)
					}
					released.Add(n)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// Move both counters' slots to another master and back while the
	// clients run, until the quotas are spent.
	migrations, movedKeys := 0, 0
	start := time.Now()
	for running := true; running; {
		for _, key := range []string{reserved, leased} {
			slot := Slot(key)
			masters := cl.Masters()
			owner := cl.Owners()[slot]
			var to *testenv.Redis
			for _, m := range masters {
				if m != owner {
					to = m
					break
				}
			}
			n, err := cl.MigrateSlot(slot, to, 20*time.Millisecond)
			if err != nil {
				t.Fatalf("migrate slot %d: %v", slot, err)
			}
			migrations++
			movedKeys += n
		}
		select {
		case <-done:
			running = false
		case <-time.After(50 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	st, err := s.Counters(ctx, time.Now().Unix(), reserved, leased)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := firstErr.Load().(string)
	t.Logf("%d slot migrations (%d key moves, %d ASK and %d MOVED answers) in %v under 8 clients: reserve granted %d of quota %d (counter %d); "+
		"leases granted %d, released %d, net %d of quota %d (counter %d); %d client errors (first: %s)",
		migrations, movedKeys, redirects.ask.Load(), redirects.moved.Load(), elapsed.Round(time.Millisecond), granted.Load(), quotaMax, st[0].Used,
		leaseGranted.Load(), released.Load(), leaseGranted.Load()-released.Load(), leaseMax, st[1].Used, errs.Load(), last)
	if migrations < 4 {
		t.Errorf("only %d migrations happened while the clients ran: the test proved little", migrations)
	}
	if redirects.ask.Load() == 0 || redirects.moved.Load() == 0 {
		t.Errorf("the clients met no ASK or no MOVED: the test proved little")
	}
	if granted.Load() != quotaMax || st[0].Used != quotaMax {
		t.Errorf("reserve: granted %d, counter %d; want exactly %d", granted.Load(), st[0].Used, quotaMax)
	}
	if net := leaseGranted.Load() - released.Load(); net != leaseMax || st[1].Used != leaseMax {
		t.Errorf("leases: net granted %d, counter %d; want exactly %d", net, st[1].Used, leaseMax)
	}
}
