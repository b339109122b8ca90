package policy

import (
	"math"
	"reflect"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// The ApplyRateLimits cases of Tyk's internal/policy/apply_test.go (README.md, "Tests").
func TestApplyRateLimits(t *testing.T) {
	cases := []struct {
		name                 string
		policy               model.Policy
		api, session         model.APILimit // only Rate and Per are used
		wantAPI, wantSession float64        // resulting rates
	}{
		{"policy limits unset", model.Policy{},
			model.APILimit{Rate: 10, Per: 10}, model.APILimit{Rate: 5, Per: 10}, 10, 5},
		{"policy limits apply all", model.Policy{Rate: 10, Per: 10},
			model.APILimit{Rate: 5, Per: 10}, model.APILimit{Rate: 5, Per: 10}, 10, 10},
		{"policy limits apply per-api", model.Policy{Rate: 10, Per: 10},
			model.APILimit{Rate: 5, Per: 10}, model.APILimit{Rate: 15, Per: 10}, 10, 15},
		{"policy limits skip", model.Policy{Rate: 10, Per: 10},
			model.APILimit{Rate: 15, Per: 10}, model.APILimit{Rate: 5, Per: 10}, 15, 10},
		// Beyond Tyk's cases: the 5.4+ rule compares intervals, not rate and per
		// separately (≤5.3 would give 10 per 60 here).
		{"effective rate wins", model.Policy{Rate: 1, Per: 60},
			model.APILimit{Rate: 10, Per: 1}, model.APILimit{}, 10, 1},
		{"unlimited with per wins", model.Policy{Rate: -1, Per: 1},
			model.APILimit{Rate: 10, Per: 1}, model.APILimit{Rate: 10, Per: 1}, -1, -1},
		{"unlimited without per is ignored", model.Policy{Rate: -1},
			model.APILimit{Rate: 10, Per: 1}, model.APILimit{}, 10, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &model.Session{Rate: c.session.Rate, Per: c.session.Per}
			api := c.api
			applyRateLimits(s, &c.policy, &api)
			if api.Rate != c.wantAPI || s.Rate != c.wantSession {
				t.Fatalf("api rate %v, session rate %v; want %v, %v", api.Rate, s.Rate, c.wantAPI, c.wantSession)
			}
		})
	}
}

func TestApplyRateLimitsCopiesSmoothing(t *testing.T) {
	p := &model.Policy{Rate: 10, Per: 1, Smoothing: &model.Smoothing{Enabled: true, Threshold: 5}}
	s := &model.Session{}
	var api model.APILimit
	applyRateLimits(s, p, &api)
	if api.Smoothing == p.Smoothing || s.Smoothing == p.Smoothing || api.Smoothing == s.Smoothing {
		t.Fatal("smoothing must be copied, not shared with the policy or between limits")
	}
	if *api.Smoothing != *p.Smoothing || *s.Smoothing != *p.Smoothing {
		t.Fatalf("smoothing = %+v / %+v, want %+v", *api.Smoothing, *s.Smoothing, *p.Smoothing)
	}
}

func ep(path string, methods ...model.EndpointMethod) model.Endpoint {
	return model.Endpoint{Path: path, Methods: methods}
}

func method(name string, rate, per float64) model.EndpointMethod {
	return model.EndpointMethod{Name: name, Limit: model.RateLimit{Rate: rate, Per: per}}
}

// The ApplyEndpointLevelLimits cases of Tyk's policy tests, plus the grouping
// and ordering of the merged result.
func TestMergeEndpoints(t *testing.T) {
	user10 := []model.Endpoint{ep("/user", method("GET", 10, 60))}
	user5 := []model.Endpoint{ep("/user", method("GET", 5, 30))}
	cases := []struct {
		name           string
		policy, curr   []model.Endpoint
		want           []model.Endpoint
		bothDirections bool // the result must not depend on which side is which
	}{
		{name: "both empty"},
		{name: "current empty", policy: user10, want: user10},
		{name: "policy empty", curr: user10, want: user10},
		{name: "disjoint endpoints are unioned", bothDirections: true,
			policy: []model.Endpoint{ep("/user", method("GET", 10, 60))},
			curr:   []model.Endpoint{ep("/company", method("POST", 5, 30)), ep("/user", method("PUT", 1, 1))},
			want: []model.Endpoint{
				ep("/company", method("POST", 5, 30)),
				ep("/user", method("GET", 10, 60), method("PUT", 1, 1)),
			}},
		{name: "equal interval: larger rate wins", policy: user10, curr: user5, want: user10, bothDirections: true},
		{name: "equal limits", policy: user10, curr: user10, want: user10},
		{name: "shorter interval wins", bothDirections: true,
			policy: []model.Endpoint{ep("/user", method("GET", 10, 60))},
			curr:   []model.Endpoint{ep("/user", method("GET", 100, 60))},
			want:   []model.Endpoint{ep("/user", method("GET", 100, 60))}},
		{name: "unlimited wins", bothDirections: true,
			policy: []model.Endpoint{ep("/user", method("GET", 10, 60))},
			curr:   []model.Endpoint{ep("/user", method("GET", -1, 0))},
			want:   []model.Endpoint{ep("/user", method("GET", -1, 0))}},
		{name: "methods sorted case-insensitively, colon paths kept",
			policy: []model.Endpoint{ep("/a:b", method("post", 1, 1), method("GET", 1, 1))},
			curr:   []model.Endpoint{ep("/a:b", method("Delete", 1, 1))},
			want:   []model.Endpoint{ep("/a:b", method("Delete", 1, 1), method("GET", 1, 1), method("post", 1, 1))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mergeEndpoints(c.policy, c.curr); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if c.bothDirections {
				if got := mergeEndpoints(c.curr, c.policy); !reflect.DeepEqual(got, c.want) {
					t.Fatalf("reversed: got %+v, want %+v", got, c.want)
				}
			}
		})
	}
}

func TestMergeEndpointsDoesNotShareMemory(t *testing.T) {
	policyEPs := []model.Endpoint{ep("/user", method("GET", 10, 60))}
	got := mergeEndpoints(policyEPs, nil)
	got[0].Methods[0].Limit.Rate = 99
	if policyEPs[0].Methods[0].Limit.Rate != 10 {
		t.Fatal("result shares memory with the policy's endpoints")
	}
}

func TestInterval(t *testing.T) {
	cases := []struct {
		rate, per float64
		want      int64
	}{
		{10, 1, 100_000_000},
		{2, 1, 500_000_000},
		{5, 30, 6_000_000_000},
		{10, 60, 6_000_000_000},
		{3, 1, 333_333_333}, // truncated like Tyk's time.Duration conversion
		{-1, 1, 0},
		{0, 1, 0},
		{10, 0, 0},
		{1e-300, 1e300, math.MaxInt64},
		{math.Inf(1), math.Inf(1), math.MaxInt64},
	}
	for _, c := range cases {
		if got := interval(c.rate, c.per); got != c.want {
			t.Errorf("interval(%v, %v) = %d, want %d", c.rate, c.per, got, c.want)
		}
	}
}

func TestGreater(t *testing.T) {
	cases := []struct {
		a, b int64
		want bool
	}{
		{-1, 5, true}, {-1, -1, true}, {5, -1, false}, {5, 3, true}, {3, 5, false}, {0, 0, false},
	}
	for _, c := range cases {
		if got := greater(c.a, c.b); got != c.want {
			t.Errorf("greater(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
