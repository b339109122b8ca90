package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// rateAccuracy is the admissions of one hot key under constant overload.
type rateAccuracy struct {
	Rate, Per int
	Workers   int
	Duration  time.Duration
	Sent      int64
	Admitted  int64
	Expected  float64 // burst + rate × duration
	ErrorPct  float64
}

// quotaAccuracy is the admissions of one key with an exact quota when
// many clients exceed it together.
type quotaAccuracy struct {
	QuotaMax         int64
	Clients, Workers int
	Sent, Admitted   int64
	Overshoot        int64
}

// rateScenario hammers one key (rate per second) from 16 goroutines over
// 4 VMs for duration. A token bucket admits its burst (rate) at once, then
// rate per second, so over duration it should admit rate × (1 + duration).
func rateScenario(ctx context.Context, e *env, wasm string, rate int, duration time.Duration) (rateAccuracy, error) {
	const workers = 4
	if err := e.admin(ctx, "POST", "/tyk/keys/acc-rate", keySession(fmt.Sprintf(`"rate":%d,"per":1,"quota_max":-1`, rate))); err != nil {
		return rateAccuracy{}, err
	}
	h, err := loadFilter(ctx, e, wasm, workers, "")
	if err != nil {
		return rateAccuracy{}, err
	}
	defer h.Close(context.Background())
	// Cache the session on every VM with a key that has no limit, so the
	// measured key starts with a full bucket and only warm-path requests.
	if err := e.admin(ctx, "POST", "/tyk/keys/acc-warm", keySession(`"quota_max":-1`)); err != nil {
		return rateAccuracy{}, err
	}
	for range 2 * workers {
		if _, err := decide(ctx, h, "acc-warm"); err != nil {
			return rateAccuracy{}, err
		}
	}
	// The first request per VM looks the key up (and is admitted or not
	// like any other); from then on every VM decides locally.
	var sent, admitted atomic.Int64
	var failed atomic.Value
	end := time.Now().Add(duration)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				status, err := decide(ctx, h, "acc-rate")
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				sent.Add(1)
				switch status {
				case 200:
					admitted.Add(1)
				case 429:
				default:
					failed.CompareAndSwap(nil, fmt.Errorf("status %d", status))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return rateAccuracy{}, err
	}
	r := rateAccuracy{Rate: rate, Per: 1, Workers: workers, Duration: duration, Sent: sent.Load(), Admitted: admitted.Load()}
	r.Expected = float64(rate) * (1 + duration.Seconds())
	r.ErrorPct = 100 * (float64(r.Admitted) - r.Expected) / r.Expected
	logf("accuracy: rate %d/s for %v over %d VMs: %d sent, %d admitted, %.0f expected (%+.2f%%)",
		rate, duration, workers, r.Sent, r.Admitted, r.Expected, r.ErrorPct)
	return r, nil
}

// quotaScenario sends 2 × quotaMax requests for one key from clients
// goroutines over 4 VMs; exactly quotaMax may be admitted.
func quotaScenario(ctx context.Context, e *env, wasm string, quotaMax int64, clients int) (quotaAccuracy, error) {
	const workers = 4
	if err := e.admin(ctx, "POST", "/tyk/keys/acc-quota", keySession(
		fmt.Sprintf(`"quota_max":%d,"quota_renewal_rate":3600`, quotaMax))); err != nil {
		return quotaAccuracy{}, err
	}
	h, err := loadFilter(ctx, e, wasm, workers, "")
	if err != nil {
		return quotaAccuracy{}, err
	}
	defer h.Close(context.Background())
	var next, admitted atomic.Int64
	var failed atomic.Value
	total := 2 * quotaMax
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				status, err := decide(ctx, h, "acc-quota")
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				switch status {
				case 200:
					admitted.Add(1)
				case 403: // Quota exceeded
				default:
					failed.CompareAndSwap(nil, fmt.Errorf("status %d", status))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return quotaAccuracy{}, err
	}
	q := quotaAccuracy{QuotaMax: quotaMax, Clients: clients, Workers: workers, Sent: total, Admitted: admitted.Load()}
	q.Overshoot = q.Admitted - quotaMax
	logf("accuracy: quota %d, %d clients over %d VMs: %d sent, %d admitted (overshoot %d)",
		quotaMax, clients, workers, q.Sent, q.Admitted, q.Overshoot)
	return q, nil
}
