package quota

import (
	"math"
	"math/rand/v2"
	"testing"
)

type call struct {
	now, units int64
	want       Result
	state      State
}

func TestReserve(t *testing.T) {
	tests := []struct {
		name                  string
		quotaMax, renewalRate int64
		start                 State
		calls                 []call
	}{
		{"exactly quota_max per window, rejected requests do not consume", 3, 60, State{}, []call{
			{1000, 1, Result{1, 2, 1060}, State{1, 1060}},
			{1001, 1, Result{1, 1, 1060}, State{2, 1060}},
			{1002, 1, Result{1, 0, 1060}, State{3, 1060}},
			{1003, 1, Result{0, 0, 1060}, State{3, 1060}},
			{1059, 1, Result{0, 0, 1060}, State{3, 1060}},
			{1060, 1, Result{1, 2, 1120}, State{1, 1120}},
		}},
		{"window starts at the first request of a period", 2, 10, State{Used: 2, WindowEnd: 500}, []call{
			{499, 1, Result{0, 0, 500}, State{2, 500}},
			{5000, 1, Result{1, 1, 5010}, State{1, 5010}},
		}},
		{"never renews (0)", 2, 0, State{}, []call{
			{1000, 1, Result{1, 1, 0}, State{1, 0}},
			{1000, 1, Result{1, 0, 0}, State{2, 0}},
			{1000, 1, Result{0, 0, 0}, State{2, 0}},
			{1_000_000_000, 1, Result{0, 0, 0}, State{2, 0}},
		}},
		{"never renews (-1) drops an old window end", 5, -1, State{Used: 4, WindowEnd: 1060}, []call{
			{2000, 1, Result{1, 0, 0}, State{5, 0}},
		}},
		{"unlimited (0)", 0, 60, State{Used: 9, WindowEnd: 7}, []call{
			{1000, 5, Result{5, -1, 0}, State{9, 7}},
		}},
		{"unlimited (-1)", -1, 60, State{}, []call{
			{1000, 1, Result{1, -1, 0}, State{}},
		}},
		{"partial grants", 5, 60, State{}, []call{
			{1000, 3, Result{3, 2, 1060}, State{3, 1060}},
			{1000, 4, Result{2, 0, 1060}, State{5, 1060}},
			{1000, 1, Result{0, 0, 1060}, State{5, 1060}},
		}},
		{"zero or negative units only peek", 5, 60, State{Used: 1, WindowEnd: 1060}, []call{
			{1000, 0, Result{0, 4, 1060}, State{1, 1060}},
			{1000, -3, Result{0, 4, 1060}, State{1, 1060}},
			{2000, 0, Result{0, 5, 0}, State{1, 1060}},
		}},
		{"quota lowered below usage", 3, 60, State{Used: 5, WindowEnd: 1060}, []call{
			{1000, 1, Result{0, 0, 1060}, State{5, 1060}},
		}},
		{"counter without an end is reset once the quota renews", 3, 60, State{Used: 7}, []call{
			{1000, 1, Result{1, 2, 1060}, State{1, 1060}},
		}},
		{"clock going backwards stays in the window", 2, 60, State{Used: 2, WindowEnd: 1060}, []call{
			{10, 1, Result{0, 0, 1060}, State{2, 1060}},
		}},
		{"window end saturates", 1, math.MaxInt64, State{}, []call{
			{1000, 1, Result{1, 0, math.MaxInt64}, State{1, math.MaxInt64}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start
			for i, c := range tt.calls {
				got, next := Reserve(s, tt.quotaMax, tt.renewalRate, c.now, c.units)
				if got != c.want || next != c.state {
					t.Fatalf("call %d (now=%d units=%d): got %+v %+v, want %+v %+v", i, c.now, c.units, got, next, c.want, c.state)
				}
				s = next
			}
		})
	}
}

func TestPeek(t *testing.T) {
	tests := []struct {
		s                          State
		quotaMax, renewalRate, now int64
		want                       Result
	}{
		{State{}, 10, 60, 1000, Result{0, 10, 0}},
		{State{4, 1060}, 10, 60, 1000, Result{0, 6, 1060}},
		{State{4, 1060}, 10, 60, 1060, Result{0, 10, 0}},
		{State{4, 0}, 10, 0, 1000, Result{0, 6, 0}},
		{State{12, 1060}, 10, 60, 1000, Result{0, 0, 1060}},
		{State{4, 1060}, -1, 60, 1000, Result{0, -1, 0}},
	}
	for _, tt := range tests {
		if got := Peek(tt.s, tt.quotaMax, tt.renewalRate, tt.now); got != tt.want {
			t.Errorf("Peek(%+v, %d, %d, %d) = %+v, want %+v", tt.s, tt.quotaMax, tt.renewalRate, tt.now, got, tt.want)
		}
	}
}

// TestPropertyWindows drives random reservation sequences and checks, per
// window (identified by its end), that grants never exceed quota_max and
// that single-unit traffic gets exactly min(quota_max, requested).
func TestPropertyWindows(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		quotaMax := 1 + r.Int64N(20)
		renewalRate := []int64{-1, 0, 1, 7, 60, 3600}[r.IntN(6)]
		singles := seed%2 == 0

		type window struct{ requested, granted int64 }
		windows := map[int64]*window{}
		var s State
		now := int64(1_700_000_000)
		for range 500 {
			now += r.Int64N(max(renewalRate, 5)/3 + 1)
			units := int64(1)
			if !singles {
				units = r.Int64N(6) // includes 0: a peek
			}
			res, next := Reserve(s, quotaMax, renewalRate, now, units)
			if res.Granted < 0 || res.Granted > max(units, 0) {
				t.Fatalf("seed %d: granted %d of %d", seed, res.Granted, units)
			}
			// A rejection can only happen inside an open window (a new one
			// always has room), so nothing at all may change.
			if res.Granted == 0 && next != s {
				t.Fatalf("seed %d: a rejected reservation or peek changed the state %+v -> %+v", seed, s, next)
			}
			if units > 0 && res.Remaining != quotaMax-next.Used {
				t.Fatalf("seed %d: remaining %d, want %d-%d", seed, res.Remaining, quotaMax, next.Used)
			}
			if units > 0 {
				w := windows[res.ResetAt]
				if w == nil {
					w = &window{}
					windows[res.ResetAt] = w
				}
				w.requested += units
				w.granted += res.Granted
				if w.granted > quotaMax {
					t.Fatalf("seed %d: window ending %d granted %d > quota %d", seed, res.ResetAt, w.granted, quotaMax)
				}
			}
			s = next
		}
		if renewalRate <= 0 && len(windows) > 1 {
			t.Fatalf("seed %d: a never-renewing quota opened %d windows", seed, len(windows))
		}
		if singles {
			for end, w := range windows {
				if w.granted != min(quotaMax, w.requested) {
					t.Fatalf("seed %d: window ending %d granted %d, want min(%d, %d)", seed, end, w.granted, quotaMax, w.requested)
				}
			}
		}
	}
}

func TestLeaseUnits(t *testing.T) {
	for _, c := range []struct{ asked, remaining, want int64 }{
		{100, 10000, 100}, // far from the limit: what was asked
		{100, 800, 100},
		{100, 799, 99},
		{100, 16, 2},
		{100, 15, 1}, // near it: one by one
		{100, 1, 1},
		{100, 0, 0},
		{0, 100, 0},
		{1, 1, 1},
	} {
		if got := LeaseUnits(c.asked, c.remaining); got != c.want {
			t.Errorf("LeaseUnits(%d, %d) = %d, want %d", c.asked, c.remaining, got, c.want)
		}
	}
}
