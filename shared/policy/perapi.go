package policy

import "github.com/turnpike-dev/turnpike/shared/model"

// applyPerAPI merges a per_api policy (§3.3): each API keeps the limit the
// policy sets for it, or the policy-level values when that limit is empty.
// The counters of an API with its own limit are scoped by the API id, those
// filled from policy-level values by the policy id.
func (r *run) applyPerAPI(p *model.Policy) error {
	if r.didPartition {
		return ErrMixedPerAPIAndPartitioned
	}
	r.reserve(len(p.AccessRights))
	for api, src := range p.AccessRights {
		ad := src.Clone()
		scope := api
		if ad.Limit.IsEmpty() {
			scope = p.ID
			ad.Limit = policyLimit(p)
		}
		ad.AllowanceScope = scope
		ad.Limit.SetBy = scope

		r.keepQuotaRenews(api, &ad)
		if own, ok := r.s.AccessRights[api]; ok && own.DisableIntrospection {
			ad.DisableIntrospection = true
		}
		if cur, ok := r.rights[api]; ok {
			ad = mergeAPILimits(ad, cur)
		}
		// The new entry replaces the old one: versions and allowed_urls of
		// an earlier policy for the same API are not kept.
		r.rights[api] = ad
		r.done[api] = allAspects
	}
	if len(p.AccessRights) > 0 {
		r.didPerAPI = true
	}
	return nil
}

// policyLimit is the policy-level limit (Tyk's Policy.APILimit).
func policyLimit(p *model.Policy) model.APILimit {
	return model.APILimit{
		Rate:               p.Rate,
		Per:                p.Per,
		Smoothing:          p.Smoothing.Clone(),
		ThrottleInterval:   p.ThrottleInterval,
		ThrottleRetryLimit: p.ThrottleRetryLimit,
		MaxQueryDepth:      p.MaxQueryDepth,
		QuotaMax:           p.QuotaMax,
		QuotaRenewalRate:   p.QuotaRenewalRate,
	}
}

// mergeAPILimits merges the limit an earlier policy set for the same API
// (cur) into the new entry: the faster rate wins (an unlimited rate, interval
// 0, beats all), the larger quota wins (-1 beats all), the larger renewal
// rate wins and an unlimited quota never renews. If the earlier entry won the
// rate or the quota, its counter scope is kept; endpoint limits are merged.
func mergeAPILimits(ad, cur model.AccessDefinition) model.AccessDefinition {
	kept := false
	if interval(ad.Limit.Rate, ad.Limit.Per) > interval(cur.Limit.Rate, cur.Limit.Per) {
		ad.Limit.Rate, ad.Limit.Per, ad.Limit.Smoothing = cur.Limit.Rate, cur.Limit.Per, cur.Limit.Smoothing
		kept = true
	}
	if cur.Limit.QuotaMax != ad.Limit.QuotaMax && greater(cur.Limit.QuotaMax, ad.Limit.QuotaMax) {
		ad.Limit.QuotaMax = cur.Limit.QuotaMax
		kept = true
	}
	if greater(cur.Limit.QuotaRenewalRate, ad.Limit.QuotaRenewalRate) {
		ad.Limit.QuotaRenewalRate = cur.Limit.QuotaRenewalRate
	}
	if ad.Limit.QuotaMax == -1 {
		ad.Limit.QuotaRenewalRate = 0
	}
	if kept {
		ad.Limit.SetBy, ad.AllowanceScope = cur.Limit.SetBy, cur.AllowanceScope
	}
	ad.Endpoints = mergeEndpoints(ad.Endpoints, cur.Endpoints)
	return ad
}
