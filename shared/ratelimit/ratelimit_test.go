package ratelimit

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestParams(t *testing.T) {
	tests := []struct {
		limit              Limit
		interval, capacity int64
	}{
		{Limit{Rate: 10, Per: 1}, 100_000_000, 1_000_000_000},
		{Limit{Rate: 3, Per: 1}, 333_333_334, 1_000_000_002},
		{Limit{Rate: 1, Per: 60}, 60_000_000_000, 60_000_000_000},
		{Limit{Rate: 0.5, Per: 1}, 2_000_000_000, 2_000_000_000},
		{Limit{Rate: 2.5, Per: 1}, 400_000_000, 800_000_000},
		{Limit{Rate: 1, Per: 0.001}, 1_000_000, 1_000_000},
		{Limit{Rate: 7, Per: 0.001}, 142_858, 1_000_006},
		{Limit{Rate: 100, Per: 86400}, 864_000_000_000, 86_400_000_000_000},
		{Limit{Rate: 10, Per: 1, Burst: 3}, 100_000_000, 300_000_000},
		{Limit{Rate: 10, Per: 1, Burst: 0.5}, 100_000_000, 100_000_000},
		{Limit{Rate: 1e12, Per: 1}, 1, 1_000_000_000_000},
		{Limit{Rate: math.Inf(1), Per: 1}, 1, maxSpan},
		{Limit{Rate: 1e-12, Per: 1e9}, maxSpan, maxSpan},
	}
	for _, tt := range tests {
		interval, capacity := tt.limit.params()
		if interval != tt.interval || capacity != tt.capacity {
			t.Errorf("%+v: params = (%d, %d), want (%d, %d)", tt.limit, interval, capacity, tt.interval, tt.capacity)
		}
	}
}

// step is one Take in a scripted sequence.
type step struct {
	at         int64 // ns since the start
	n          int64
	allowed    bool
	remaining  int64
	retryAfter time.Duration
}

func TestTakeSequences(t *testing.T) {
	const t0 = 1_700_000_000 * sec // an arbitrary unix time
	tests := []struct {
		name  string
		limit Limit
		steps []step
	}{
		{"tyk rate 3 per 1s", Limit{Rate: 3, Per: 1}, []step{
			{0, 1, true, 2, 0},
			{0, 1, true, 1, 0},
			{0, 1, true, 0, 0},
			{0, 1, false, 0, 333_333_334},
			{333_333_333, 1, false, 0, 1},
			{333_333_334, 1, true, 0, 0},
		}},
		{"tyk rate 1 per 60s", Limit{Rate: 1, Per: 60}, []step{
			{0, 1, true, 0, 0},
			{0, 1, false, 0, time.Minute},
			{60*sec - 1, 1, false, 0, 1},
			{60 * sec, 1, true, 0, 0},
		}},
		{"10 per second refills every 100ms", Limit{Rate: 10, Per: 1}, []step{
			{0, 10, true, 0, 0},
			{0, 1, false, 0, 100 * time.Millisecond},
			{100_000_000, 1, true, 0, 0},
			{1_100_000_000, 1, true, 9, 0},
		}},
		{"half a request per second", Limit{Rate: 0.5, Per: 1}, []step{
			{0, 1, true, 0, 0},
			{sec, 1, false, 0, time.Second},
			{2 * sec, 1, true, 0, 0},
		}},
		{"2.5 per second: burst 2, then every 400ms", Limit{Rate: 2.5, Per: 1}, []step{
			{0, 1, true, 1, 0},
			{0, 1, true, 0, 0},
			{0, 1, false, 0, 400 * time.Millisecond},
			{400_000_000, 1, true, 0, 0},
			{799_999_999, 1, false, 0, 1},
			{800_000_000, 1, true, 0, 0},
		}},
		{"1 per millisecond", Limit{Rate: 1, Per: 0.001}, []step{
			{0, 1, true, 0, 0},
			{999_999, 1, false, 0, 1},
			{1_000_000, 1, true, 0, 0},
		}},
		{"explicit burst", Limit{Rate: 10, Per: 1, Burst: 2}, []step{
			{0, 1, true, 1, 0},
			{0, 1, true, 0, 0},
			{0, 1, false, 0, 100 * time.Millisecond},
		}},
		{"multi-unit take is all or nothing", Limit{Rate: 10, Per: 1}, []step{
			{0, 4, true, 6, 0},
			{0, 7, false, 6, 100 * time.Millisecond},
			{0, 6, true, 0, 0},
		}},
		{"n=0 peeks", Limit{Rate: 10, Per: 1}, []step{
			{0, 0, true, 10, 0},
			{0, 10, true, 0, 0},
			{0, 0, true, 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for i, st := range tt.steps {
				res, next := Take(s, tt.limit, t0+st.at, st.n)
				if res.Allowed != st.allowed || res.Remaining != st.remaining || res.RetryAfter != st.retryAfter {
					t.Fatalf("step %d at +%dns n=%d: got allowed=%v remaining=%d retryAfter=%v, want %v %d %v",
						i, st.at, st.n, res.Allowed, res.Remaining, res.RetryAfter, st.allowed, st.remaining, st.retryAfter)
				}
				if (!res.Allowed || st.n == 0) && next != s {
					t.Fatalf("step %d: state changed from %+v to %+v without admitting", i, s, next)
				}
				s = next
			}
		})
	}
}

func TestResetAfter(t *testing.T) {
	l := Limit{Rate: 10, Per: 1}
	res, s := Take(State{}, l, 5*sec, 3)
	if res.ResetAfter != 300*time.Millisecond {
		t.Fatalf("ResetAfter = %v, want 300ms", res.ResetAfter)
	}
	res, _ = Take(s, l, 5*sec+250_000_000, 0)
	if res.ResetAfter != 50*time.Millisecond || res.Remaining != 9 {
		t.Fatalf("after 250ms: ResetAfter=%v Remaining=%d, want 50ms 9", res.ResetAfter, res.Remaining)
	}
}

func TestUnlimited(t *testing.T) {
	s := State{TAT: 99, Interval: 7}
	for _, l := range []Limit{{Rate: 0, Per: 1}, {Rate: -1, Per: 1}, {Rate: 5, Per: 0}, {Rate: 5, Per: -1}, {Rate: math.NaN(), Per: 1}} {
		for range 100 {
			res, next := Take(s, l, 0, 1)
			if !res.Allowed || res.Remaining != -1 || next != s {
				t.Fatalf("%+v: got %+v state %+v, want allowed, remaining -1, state unchanged", l, res, next)
			}
		}
	}
}

func TestLimitChangeCarriesConsumedRequests(t *testing.T) {
	// One request at 1/60s leaves a TAT a minute ahead. Raising the limit to
	// 100/s must not keep the client blocked for that minute: the one
	// consumed request is carried over as one request at the new rate.
	_, s := Take(State{}, Limit{Rate: 1, Per: 60}, 0, 1)
	res, _ := Take(s, Limit{Rate: 100, Per: 1}, 0, 1)
	if !res.Allowed || res.Remaining != 98 {
		t.Fatalf("after raising the limit: %+v, want allowed with 98 remaining", res)
	}
	// Lowering it caps the debt at an empty bucket, not beyond.
	_, s = Take(State{}, Limit{Rate: 100, Per: 1}, 0, 100)
	res, _ = Take(s, Limit{Rate: 1, Per: 60}, 0, 1)
	if res.Allowed || res.RetryAfter != time.Minute {
		t.Fatalf("after lowering the limit: %+v, want denied for exactly 1m", res)
	}
}

func TestClockBackwards(t *testing.T) {
	l := Limit{Rate: 3, Per: 1}
	var s State
	for range 3 {
		_, s = Take(s, l, 10*sec, 1)
	}
	for _, back := range []int64{1, sec, 1000 * sec, 10 * sec, math.MaxInt64 / 2} {
		res, next := Take(s, l, 10*sec-back, 1)
		if res.Allowed || next != s {
			t.Fatalf("clock back by %d: %+v, want denied and unchanged", back, res)
		}
	}
	// Extreme times never panic.
	for _, now := range []int64{math.MinInt64, -1, 0, math.MaxInt64} {
		for _, st := range []State{{}, {TAT: math.MaxInt64, Interval: 1}, {TAT: math.MinInt64, Interval: maxSpan}} {
			Take(st, l, now, 1)
			Take(st, Limit{Rate: 1e-9, Per: 1e9, Burst: 1e30}, now, math.MaxInt64)
		}
	}
}

func TestStateEncoding(t *testing.T) {
	s := State{TAT: 0x0102030405060708, Interval: 333_333_334}
	b, err := s.AppendBinary([]byte{0xff})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xff, 8, 7, 6, 5, 4, 3, 2, 1, 0x56, 0x43, 0xde, 0x13, 0, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendBinary = % x, want % x", b, want)
	}
	got, err := DecodeState(b[1:])
	if err != nil || got != s {
		t.Fatalf("DecodeState = %+v, %v; want %+v", got, err, s)
	}
	neg, _ := State{TAT: -5, Interval: 1}.AppendBinary(nil)
	if got, err := DecodeState(neg); err != nil || got.TAT != -5 {
		t.Fatalf("negative TAT: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), make([]byte, 17), append(make([]byte, 8), 0, 0, 0, 0, 0, 0, 0, 0x80)} {
		if _, err := DecodeState(bad); !errors.Is(err, ErrBadState) {
			t.Errorf("DecodeState(% x) error = %v, want ErrBadState", bad, err)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 1}, {0, 1}, {1, 1}, {time.Second, 1}, {time.Second + 1, 2},
		{59500 * time.Millisecond, 60}, {time.Minute, 60}, {333_333_334, 1},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// propertyLimits covers integer and fractional rates and windows from 1 ms
// to a day, with default and explicit bursts.
var propertyLimits = []Limit{
	{Rate: 10, Per: 1}, {Rate: 3, Per: 1}, {Rate: 1, Per: 60}, {Rate: 0.5, Per: 1},
	{Rate: 2.5, Per: 1}, {Rate: 7, Per: 0.001}, {Rate: 1000, Per: 86400},
	{Rate: 10, Per: 1, Burst: 1}, {Rate: 10, Per: 1, Burst: 4}, {Rate: 3, Per: 2, Burst: 7},
	{Rate: 100, Per: 0.25}, {Rate: 1.5, Per: 0.001},
}

// burstOf is the effective burst: floor(Burst or Rate), at least 1.
func burstOf(l Limit) int64 {
	_, c := l.params()
	i, _ := l.params()
	return c / i
}

// arrivals returns n strictly non-decreasing times with gaps drawn
// uniformly from [0, maxGap].
func arrivals(r *rand.Rand, start int64, n int, maxGap int64) []int64 {
	ts := make([]int64, n)
	now := start
	for i := range ts {
		now += r.Int64N(maxGap + 1)
		ts[i] = now
	}
	return ts
}

func TestPropertyWindowBound(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		l := propertyLimits[int(seed)%len(propertyLimits)]
		interval, _ := l.params()
		per := roundNanos(l.Per * 1e9)
		// Mix dense bursts and sparse traffic: gaps up to 1/8 .. 3 intervals.
		maxGap := interval * int64(1+r.IntN(24)) / 8
		var s State
		var admitted []int64
		for _, now := range arrivals(r, 1_700_000_000*sec, 2000, maxGap) {
			res, next := Take(s, l, now, 1)
			if !res.Allowed && next != s {
				t.Fatalf("seed %d: a rejected request changed the state", seed)
			}
			if res.Allowed {
				admitted = append(admitted, now)
			}
			s = next
		}
		// Largest number of admissions in any closed window [a, a+Per].
		bound := burstOf(l) + per/interval
		j := 0
		for i := range admitted {
			for admitted[i]-admitted[j] > per {
				j++
			}
			if got := int64(i - j + 1); got > bound {
				t.Fatalf("seed %d %+v: %d admissions within %dns, bound %d", seed, l, got, per, bound)
			}
		}
		if float64(per/interval) > l.Rate {
			t.Fatalf("seed %d: %d refills per window exceed the rate %v", seed, per/interval, l.Rate)
		}
	}
}

func TestPropertyLongRunRate(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 2))
		l := propertyLimits[int(seed)%len(propertyLimits)]
		interval, _ := l.params()
		burst := burstOf(l)
		// A saturating client: gaps up to interval/20, many intervals long.
		maxGap := max(interval/20, 1)
		ts := arrivals(r, 1_700_000_000*sec, 200*20, maxGap)
		var s State
		var admitted int64
		for _, now := range ts {
			var res Result
			res, s = Take(s, l, now, 1)
			if res.Allowed {
				admitted++
			}
		}
		elapsed := float64(ts[len(ts)-1] - ts[0])
		want := l.Rate*elapsed/(l.Per*1e9) + float64(burst)
		// Upper bound always; lower bound loses at most one request plus the
		// client's own lateness (at most one gap) when the burst can bank it.
		slack := 1.0
		if burst == 1 {
			// With a burst of 1 a late request cannot be banked (that would
			// be a burst), so each admission may lose up to one gap.
			slack += float64(admitted) * float64(maxGap) / float64(interval)
		} else {
			slack += float64(maxGap) / float64(interval)
		}
		if float64(admitted) > want+1e-9 || float64(admitted) < want-slack {
			t.Fatalf("seed %d %+v: admitted %d over %.0fns, want %.3f (-%.3f)", seed, l, admitted, elapsed, want, slack)
		}
	}
}

// TestPropertyClockMonotone checks that from any reachable state, a request
// admitted at t' < t would also be admitted at t: going back in time never
// admits more.
func TestPropertyClockMonotone(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 3))
		l := propertyLimits[int(seed)%len(propertyLimits)]
		interval, capacity := l.params()
		var s State
		now := 1_700_000_000 * sec
		for range 300 {
			now += r.Int64N(2 * interval)
			_, s = Take(s, l, now, 1+r.Int64N(3))
			later := now + r.Int64N(capacity+interval)
			earlier := later - r.Int64N(3*capacity)
			for n := int64(0); n <= 3; n++ {
				e, _ := Take(s, l, earlier, n)
				f, _ := Take(s, l, later, n)
				if e.Allowed && !f.Allowed {
					t.Fatalf("seed %d: n=%d admitted at %d but not at later %d (state %+v)", seed, n, earlier, later, s)
				}
				if n == 0 && e.Remaining > f.Remaining {
					t.Fatalf("seed %d: remaining %d at %d > %d at later %d", seed, e.Remaining, earlier, f.Remaining, later)
				}
			}
		}
	}
}

func BenchmarkTake(b *testing.B) {
	l := Limit{Rate: 100, Per: 1}
	var s State
	now := 1_700_000_000 * sec
	b.ReportAllocs()
	for b.Loop() {
		now += 1_000_000
		_, s = Take(s, l, now, 1)
	}
}
