// Package ratelimit is a token bucket written as a pure function, so the
// proxy-wasm filter can keep a key's bucket in 16 bytes of shared data and the
// sidecar can run the very same arithmetic.
//
// The bucket is a GCRA (generic cell rate algorithm): instead of a float
// token count it stores one "theoretical arrival time" (TAT) in integer
// nanoseconds. The emission interval T = Per/Rate is rounded up to a whole
// nanosecond and the capacity is Burst·T, so rounding only ever makes the
// bucket stricter, never more generous.
//
// Semantics:
//   - A fresh bucket admits exactly Burst requests at once (Burst defaults to
//     Rate, rounded down, at least 1) and then refills one request every T.
//   - In any time window of length W at most Burst + floor(W/T) requests are
//     admitted; for W = Per that is at most Burst + Rate.
//   - A rejected request does not change the state (it consumes nothing),
//     unlike Tyk's sliding log, which records rejected requests too.
//   - A clock that goes backwards never panics and never admits more than a
//     clock that had stood still.
//   - Rate <= 0 or Per <= 0 means unlimited: Take always admits.
//
// Compared with Tyk's sliding-log limiter, which admits at most Rate requests
// in any window of Per seconds, a token bucket with Burst = Rate admits up
// to 2·Rate in the worst window (a full burst, then the refill); set a
// smaller Burst for a stricter bound.
package ratelimit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// maxSpan caps every duration the bucket computes (≈146 years in
// nanoseconds), so absurd limits saturate instead of overflowing int64.
const maxSpan = int64(1) << 62

// Limit is a rate: Rate requests per Per seconds, with a burst size.
type Limit struct {
	Rate  float64 // requests per Per; <= 0 means unlimited
	Per   float64 // window in seconds; <= 0 means unlimited
	Burst float64 // requests a full bucket admits at once; <= 0 means Rate (rounded down, at least 1)
}

// Unlimited reports whether the limit admits everything (rate or per not
// positive, Tyk's convention for "no rate limit").
func (l Limit) Unlimited() bool {
	return !(l.Rate > 0) || !(l.Per > 0)
}

// params returns the emission interval and the capacity in nanoseconds.
// Both are at least 1 and at most maxSpan.
func (l Limit) params() (interval, capacity int64) {
	per := roundNanos(l.Per * 1e9)
	if l.Rate == math.Trunc(l.Rate) && l.Rate <= float64(maxSpan) {
		// Integral rates divide exactly in integers: 1e9/10 = 1e8, and
		// 1e9/3 rounds up to 333333334 rather than relying on float ceil.
		r := int64(l.Rate)
		interval = per / r
		if per%r != 0 {
			interval++
		}
	} else {
		interval = roundUpNanos(float64(per) / l.Rate)
	}
	interval = max(interval, 1)

	burst := l.Burst
	if !(burst > 0) {
		burst = l.Rate
	}
	b := math.Floor(burst)
	if b < 1 {
		b = 1
	}
	if b >= float64(maxSpan/interval) {
		return interval, maxSpan
	}
	return interval, int64(b) * interval
}

// roundNanos converts a float nanosecond count to int64, rounding to the
// nearest nanosecond (the precision the configuration can carry) and
// saturating at [1, maxSpan].
func roundNanos(f float64) int64 {
	if !(f < float64(maxSpan)) {
		return maxSpan
	}
	return max(int64(math.Round(f)), 1)
}

// roundUpNanos is roundNanos rounding up, for intervals derived by division.
func roundUpNanos(f float64) int64 {
	if !(f < float64(maxSpan)) {
		return maxSpan
	}
	return max(int64(math.Ceil(f)), 1)
}

// State is a bucket's persistent state. The zero value is a full bucket.
type State struct {
	// TAT is the theoretical arrival time in unix nanoseconds: the moment the
	// bucket will be full again. A TAT in the past means "full".
	TAT int64
	// Interval is the emission interval (ns) TAT was computed with, so a
	// changed limit can carry the consumed requests over instead of
	// blocking a client for the old, possibly much longer, interval.
	Interval int64
}

// StateSize is the length of a State's binary encoding.
const StateSize = 16

// AppendBinary appends the fixed 16-byte little-endian encoding of s
// (TAT, then Interval). It implements encoding.BinaryAppender.
func (s State) AppendBinary(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint64(b, uint64(s.TAT))
	return binary.LittleEndian.AppendUint64(b, uint64(s.Interval)), nil
}

// ErrBadState reports bytes that are not an encoded State.
var ErrBadState = errors.New("ratelimit: bad state encoding")

// DecodeState decodes the output of AppendBinary.
func DecodeState(b []byte) (State, error) {
	if len(b) != StateSize {
		return State{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadState, len(b), StateSize)
	}
	s := State{
		TAT:      int64(binary.LittleEndian.Uint64(b[0:8])),
		Interval: int64(binary.LittleEndian.Uint64(b[8:16])),
	}
	if s.Interval < 0 {
		return State{}, fmt.Errorf("%w: negative interval %d", ErrBadState, s.Interval)
	}
	return s, nil
}

// Result is the outcome of Take.
type Result struct {
	Allowed bool
	// Remaining is how many more single requests the bucket would admit
	// right now, after this one; -1 for an unlimited limit.
	Remaining int64
	// RetryAfter is how long until this same request would be admitted;
	// 0 when it was admitted.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// Take tries to admit n requests (n <= 0 only inspects the bucket) at now,
// in unix nanoseconds. It returns the outcome and the state to store; a
// rejected request returns s unchanged.
func Take(s State, l Limit, now int64, n int64) (Result, State) {
	if l.Unlimited() {
		return Result{Allowed: true, Remaining: -1}, s
	}
	interval, capacity := l.params()
	debt := s.debt(now, interval, capacity)
	need := satMul(max(n, 0), interval)

	if need > capacity-debt {
		return Result{
			Remaining:  (capacity - debt) / interval,
			RetryAfter: time.Duration(satAdd(debt, need) - capacity),
			ResetAfter: time.Duration(debt),
		}, s
	}
	debt += need
	next := s
	if n > 0 {
		next = State{TAT: satAdd(now, debt), Interval: interval}
	}
	return Result{
		Allowed:    true,
		Remaining:  (capacity - debt) / interval,
		ResetAfter: time.Duration(debt),
	}, next
}

// debt is how far (ns) the bucket is from full at now, in [0, capacity].
func (s State) debt(now, interval, capacity int64) int64 {
	if s.TAT <= now {
		return 0
	}
	d := s.TAT - now
	if d < 0 { // overflow: now is far in the past relative to TAT
		d = maxSpan
	}
	if s.Interval > 0 && s.Interval != interval {
		// Carry over the consumed requests (d/old of them, rounded up)
		// at the new interval.
		d = scale(d, interval, s.Interval)
	}
	// Capping never admits more than a monotonic clock would: after any
	// admission at time u, TAT-u <= capacity, so at any later time the
	// real debt is already <= capacity.
	return min(d, capacity)
}

// scale returns ceil(d*mul/div) for positive operands, saturating at maxSpan.
func scale(d, mul, div int64) int64 {
	hi, lo := bits.Mul64(uint64(d), uint64(mul))
	if hi >= uint64(div) {
		return maxSpan
	}
	q, r := bits.Div64(hi, lo, uint64(div))
	if r != 0 {
		q++
	}
	if q > uint64(maxSpan) {
		return maxSpan
	}
	return int64(q)
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxSpan/b {
		return maxSpan
	}
	return a * b
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// RetryAfterSeconds converts a wait into a Retry-After header value: whole
// seconds, rounded up, at least 1 (a client told "0" would retry at once).
func RetryAfterSeconds(d time.Duration) int64 {
	if d <= time.Second {
		return 1
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
