package policy

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// interval is the time between two allowed requests, in nanoseconds; 0 when
// rate or per is not positive, which makes an "unlimited" rate (-1) the
// fastest of all. Since 5.4 Tyk merges rates by this value instead of taking
// max(rate) and max(per) independently.
//
// It is computed exactly like Tyk's RateLimit.Duration (float nanoseconds
// truncated to an integer) so that two rates whose intervals differ by less
// than a nanosecond compare equal here too. Tyk's float-to-int conversion
// overflows for intervals beyond ~292 years; those saturate here instead.
func interval(rate, per float64) int64 {
	if rate <= 0 || per <= 0 {
		return 0
	}
	ns := 1e9 * per / rate
	if !(ns < math.MaxInt64) { // also catches NaN from Inf/Inf
		return math.MaxInt64
	}
	return int64(ns)
}

// noRate reports a rate Tyk's merge treats as unset.
func noRate(rate, per float64) bool { return rate == 0 || per == 0 }

// greater compares quota_max or max_query_depth values, where -1 means
// unlimited and beats everything (even another -1).
func greater[T int | int64](a, b T) bool {
	if a == -1 {
		return true
	}
	if b == -1 {
		return false
	}
	return a > b
}

// applyRateLimits merges the policy's rate into one API's limit and into the
// session root: each takes the policy's rate when it has none yet or when the
// policy allows requests more often. A policy without rate or per changes
// nothing (so `rate: -1, per: 0` is ignored).
func applyRateLimits(s *model.Session, p *model.Policy, api *model.APILimit) {
	if noRate(p.Rate, p.Per) {
		return
	}
	pi := interval(p.Rate, p.Per)
	if noRate(api.Rate, api.Per) || interval(api.Rate, api.Per) > pi {
		api.Rate, api.Per, api.Smoothing = p.Rate, p.Per, p.Smoothing.Clone()
	}
	if noRate(s.Rate, s.Per) || interval(s.Rate, s.Per) > pi {
		s.Rate, s.Per, s.Smoothing = p.Rate, p.Per, p.Smoothing.Clone()
	}
}

// endpointKey identifies one method of one endpoint. Tyk joins the two into a
// "METHOD:path" string and splits it again, silently dropping paths that
// contain a colon; a struct key keeps those limits.
type endpointKey struct{ method, path string }

// mergeEndpoints merges per-endpoint rate limits. Per method and path the
// shorter interval wins; at equal intervals the larger rate wins (10/60 beats
// 5/30). If either side has no limits the other is returned unchanged, else
// the result is regrouped by path, sorted by path and method. The result never
// shares memory with the inputs.
func mergeEndpoints(policyEPs, currEPs []model.Endpoint) []model.Endpoint {
	if countMethods(currEPs) == 0 {
		return cloneAll(policyEPs, model.Endpoint.Clone)
	}
	merged := endpointMap(policyEPs)
	if len(merged) == 0 {
		return groupEndpoints(endpointMap(currEPs))
	}
	for _, e := range currEPs {
		for _, m := range e.Methods {
			k := endpointKey{m.Name, e.Path}
			have, ok := merged[k]
			if !ok {
				merged[k] = m.Limit
				continue
			}
			hi, ci := interval(have.Rate, have.Per), interval(m.Limit.Rate, m.Limit.Per)
			if hi > ci || (hi == ci && m.Limit.Rate > have.Rate) {
				merged[k] = m.Limit
			}
		}
	}
	return groupEndpoints(merged)
}

func countMethods(eps []model.Endpoint) int {
	n := 0
	for _, e := range eps {
		n += len(e.Methods)
	}
	return n
}

// endpointMap flattens endpoints; a repeated method and path keeps the last.
func endpointMap(eps []model.Endpoint) map[endpointKey]model.RateLimit {
	n := countMethods(eps)
	if n == 0 {
		return nil
	}
	m := make(map[endpointKey]model.RateLimit, n)
	for _, e := range eps {
		for _, meth := range e.Methods {
			m[endpointKey{meth.Name, e.Path}] = meth.Limit
		}
	}
	return m
}

// groupEndpoints turns a flat map back into endpoints, one per path, in the
// order Tyk sorts them: paths ascending, methods by upper-cased name (ties,
// which Tyk leaves unordered, broken by the name itself).
func groupEndpoints(m map[endpointKey]model.RateLimit) []model.Endpoint {
	if len(m) == 0 {
		return nil
	}
	keys := make([]endpointKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b endpointKey) int {
		return cmp.Or(
			strings.Compare(a.path, b.path),
			strings.Compare(strings.ToUpper(a.method), strings.ToUpper(b.method)),
			strings.Compare(a.method, b.method),
		)
	})
	var out []model.Endpoint
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1].Path != k.path {
			out = append(out, model.Endpoint{Path: k.path})
		}
		last := &out[len(out)-1]
		last.Methods = append(last.Methods, model.EndpointMethod{Name: k.method, Limit: m[k]})
	}
	return out
}

// cloneAll deep-copies a slice element by element; nil stays nil, so the
// encoded session keeps null apart from [].
func cloneAll[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = clone(v)
	}
	return out
}
