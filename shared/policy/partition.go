package policy

import "github.com/turnpike-dev/turnpike/shared/model"

// applyPartitions merges a partitioned or non-partitioned policy (§3.4). For
// each of its APIs it merges the aspects it governs into the accumulated
// entry; its own per-API limits are ignored, only policy-level values count.
// Each value is raised in the entry when the policy's is greater, and in the
// session root when it is greater there too.
func (r *run) applyPartitions(p *model.Policy) error {
	partitioned := p.Partitions.IsPartitioned()
	if partitioned && r.didPerAPI {
		return ErrMixedPerAPIAndPartitioned
	}
	g := governs(p.Partitions)
	s := r.s
	r.reserve(len(p.AccessRights))

	for api, src := range p.AccessRights {
		ad := r.rights[api] // zero entry the first time: nothing is copied from src
		if g&aspectACL != 0 {
			r.done[api] |= aspectACL
			mergeACL(&ad, &src)
			ad.Limit.SetBy = p.ID
		}
		if g&aspectQuota != 0 {
			r.done[api] |= aspectQuota
			if greater(p.QuotaMax, ad.Limit.QuotaMax) {
				ad.Limit.QuotaMax = p.QuotaMax
				if greater(p.QuotaMax, s.QuotaMax) {
					s.QuotaMax = p.QuotaMax
				}
			}
			// Compared on its own, whichever quota won: 100/3600 merged with
			// 1000/60 gives 1000 per 3600, as in Tyk.
			if p.QuotaRenewalRate > ad.Limit.QuotaRenewalRate {
				ad.Limit.QuotaRenewalRate = p.QuotaRenewalRate
				if p.QuotaRenewalRate > s.QuotaRenewalRate {
					s.QuotaRenewalRate = p.QuotaRenewalRate
				}
			}
		}
		if g&aspectRate != 0 {
			r.done[api] |= aspectRate
			applyRateLimits(s, p, &ad.Limit)
			ad.Endpoints = mergeEndpoints(src.Endpoints, ad.Endpoints)
			if p.ThrottleRetryLimit > ad.Limit.ThrottleRetryLimit {
				ad.Limit.ThrottleRetryLimit = p.ThrottleRetryLimit
				if p.ThrottleRetryLimit > s.ThrottleRetryLimit {
					s.ThrottleRetryLimit = p.ThrottleRetryLimit
				}
			}
			if p.ThrottleInterval > ad.Limit.ThrottleInterval {
				ad.Limit.ThrottleInterval = p.ThrottleInterval
				if p.ThrottleInterval > s.ThrottleInterval {
					s.ThrottleInterval = p.ThrottleInterval
				}
			}
		}
		if g&aspectComplexity != 0 {
			r.done[api] |= aspectComplexity
			if greater(p.MaxQueryDepth, ad.Limit.MaxQueryDepth) {
				ad.Limit.MaxQueryDepth = p.MaxQueryDepth
				if greater(p.MaxQueryDepth, s.MaxQueryDepth) {
					s.MaxQueryDepth = p.MaxQueryDepth
				}
			}
		}
		r.keepQuotaRenews(api, &ad)
		r.rights[api] = ad
	}

	if len(p.AccessRights) == 0 {
		// A "master policy" without access rights sets the session root
		// directly (assigned, not merged).
		if g&aspectRate != 0 {
			s.Rate, s.Per, s.Smoothing = p.Rate, p.Per, p.Smoothing.Clone()
			s.ThrottleInterval, s.ThrottleRetryLimit = p.ThrottleInterval, p.ThrottleRetryLimit
		}
		if g&aspectComplexity != 0 {
			s.MaxQueryDepth = p.MaxQueryDepth
		}
		if g&aspectQuota != 0 {
			s.QuotaMax, s.QuotaRenewalRate = p.QuotaMax, p.QuotaRenewalRate
		}
	}

	// Signature requirements can be switched on by a policy, never off.
	s.HMACEnabled = s.HMACEnabled || p.HMACEnabled
	s.EnableHTTPSignatureValidation = s.EnableHTTPSignatureValidation || p.EnableHTTPSignatureValidation

	r.didPartition = partitioned
	return nil
}
