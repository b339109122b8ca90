package e2e

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// concurrently sends n GETs with key from clients goroutines and counts the
// answers by status.
func (e *env) concurrently(clients, n int, path, key string) map[int]int {
	e.t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				r, err := e.try(http.MethodGet, path, nil, key)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				counts[r.status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
	return counts
}

func TestExactNumbers(t *testing.T) {
	e := newEnv(t, options{})
	e.addAPI(apiDef("api1", ""))

	t.Run("the request after the rate gets 429", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","rate":7,"per":60,"quota_max":-1,` + rights("api1") + `}`)
		if got := e.statuses(8, "/api1/x", key); !equal(got, 200, 200, 200, 200, 200, 200, 200, 429) {
			t.Fatalf("statuses %v, want 7 x 200 then 429", got)
		}
		r := e.expect("/api1/x", key, 429, "Rate Limit Exceeded")
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After %q, want 1..60 seconds", r.header.Get("Retry-After"))
		}
	})

	t.Run("rate 10 across 4 VMs under 20 concurrent clients", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","rate":10,"per":60,"quota_max":-1,` + rights("api1") + `}`)
		got := e.concurrently(20, 40, "/api1/x", key)
		if got[200] != 10 || got[429] != 30 || len(got) != 2 {
			t.Fatalf("answers %v, want exactly 10 x 200 and 30 x 429", got)
		}
	})

	t.Run("exactly quota_max pass under 50 concurrent clients", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","quota_max":100,"quota_renewal_rate":3600,` + rights("api1") + `}`)
		before := e.upstreamHit.Load()
		got := e.concurrently(50, 200, "/api1/x", key)
		if got[200] != 100 || got[403] != 100 || len(got) != 2 {
			t.Fatalf("answers %v, want exactly 100 x 200 and 100 x 403", got)
		}
		if hits := e.upstreamHit.Load() - before; hits != 100 {
			t.Fatalf("the upstream saw %d requests, want 100", hits)
		}
		e.expect("/api1/x", key, 403, "Quota exceeded")
		if rem := num(t, e.getKey(key), "quota_remaining"); rem != 0 {
			t.Fatalf("quota_remaining %d, want 0", rem)
		}
	})

	t.Run("X-RateLimit headers carry the quota", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","quota_max":5,"quota_renewal_rate":3600,` + rights("api1") + `}`)
		start := time.Now().Unix()
		for i := 1; i <= 3; i++ {
			r := e.expect("/api1/x", key, 200, "")
			if r.header.Get("X-RateLimit-Limit") != "5" || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(5-i) {
				t.Fatalf("request %d: X-RateLimit-Limit %q Remaining %q, want 5 and %d", i,
					r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), 5-i)
			}
			reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil || reset < start+3600-2 || reset > time.Now().Unix()+3600 {
				t.Fatalf("request %d: X-RateLimit-Reset %q, want the window end, about now + 3600", i, r.header.Get("X-RateLimit-Reset"))
			}
		}
	})
}
