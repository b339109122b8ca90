package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// roundTrips counts what the client sends to Redis: one per command
// outside a pipeline, one per pipeline or MULTI/EXEC block.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchStore is a Store on a fresh redis-server with a pool big enough for
// 64 callers, and its round-trip counter.
func benchStore(b *testing.B) (*Store, *roundTrips) {
	r := testenv.StartRedis(b, testenv.RedisOptions{})
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), PoolSize: 64, MinIdleConns: 64})
	b.Cleanup(func() { c.Close() })
	rt := &roundTrips{}
	c.AddHook(rt)
	s := New(c, 5*time.Second)
	if err := s.EnsureFeed(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, rt
}

// parallel runs op b.N times in total across callers goroutines and
// reports throughput and Redis round trips per operation.
func parallel(b *testing.B, callers int, rt *roundTrips, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	before := rt.n.Load()
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := op(int(i)); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(rt.n.Load()-before)/float64(b.N), "redis-rtt/op")
}

var benchCallers = []int{1, 8, 64}

// BenchmarkSessionLookup is what GET /turnpike/v1/sessions/{hash} costs in
// Redis: the feed cursor and the session in one MULTI/EXEC, over 1,000
// stored sessions.
func BenchmarkSessionLookup(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	const sessions = 1000
	data := []byte(`{"org_id":"org1","rate":100,"per":1,"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`)
	for i := range sessions {
		if err := s.PutSession(ctx, hashN(i), data, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	for _, callers := range benchCallers {
		b.Run("callers="+strconv.Itoa(callers), func(b *testing.B) {
			parallel(b, callers, rt, func(i int) error {
				_, _, err := s.Session(ctx, hashN(i%sessions))
				return err
			})
		})
	}
}

// BenchmarkQuotaReserve is what POST /turnpike/v1/quota costs in Redis: one
// EVALSHA of the reservation script, over 1,000 counters.
func BenchmarkQuotaReserve(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	for _, callers := range benchCallers {
		b.Run("callers="+strconv.Itoa(callers), func(b *testing.B) {
			parallel(b, callers, rt, func(i int) error {
				res, err := s.Reserve(ctx, QuotaKey("", hashN(i%1000)), 1<<40, 3600, 1)
				if err == nil && res.Granted != 1 {
					err = errors.New("quota not granted")
				}
				return err
			})
		})
	}
}
