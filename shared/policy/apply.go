// Package policy applies a key's security policies to its session exactly as
// Tyk 5.8 does (the latest 5.8.x patch, which equals the current Tyk policy
// core minus MCP extras and org-scoped policy lookup): clearing, partitions,
// per-API policies, greater-wins merges with the 5.4+ effective-rate rule,
// separate allowance scopes, ACL unions, tags, meta_data, inactive state and
// per-endpoint limits. README.md in this directory describes the rules and Tyk's sources.
//
// Apply runs on every request inside the proxy-wasm VM, so it does no I/O and
// allocates little. It never modifies the stored policies: whatever it copies
// into the session is copied, not shared.
package policy

import (
	"slices"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// aspects is a set of the four things a policy can govern for an API.
type aspects uint8

const (
	aspectACL aspects = 1 << iota
	aspectQuota
	aspectRate
	aspectComplexity

	allAspects = aspectACL | aspectQuota | aspectRate | aspectComplexity
)

// governs returns what a policy governs: its partitions, or everything when
// none of quota/rate_limit/acl/complexity is set (per_api alone counts as
// "everything" too).
func governs(p model.PolicyPartitions) aspects {
	if !p.IsPartitioned() {
		return allAspects
	}
	var a aspects
	if p.Acl {
		a |= aspectACL
	}
	if p.Quota {
		a |= aspectQuota
	}
	if p.RateLimit {
		a |= aspectRate
	}
	if p.Complexity {
		a |= aspectComplexity
	}
	return a
}

// Apply merges the session's policies into s in place, Tyk 5.8 rules.
// orgGuard == nil means no org check; a non-nil guard (even "") must equal
// each policy's org_id.
//
// The policies are apply_policies, or apply_policy_id when that is empty; a
// meta_data.policies array of policy objects ("custom policies") replaces
// them. When Apply returns an error s may be partly updated, as in Tyk (whose
// callers then treat the key as not found); clone s first to keep it.
func Apply(s *model.Session, store Store, orgGuard *string) error {
	if s == nil {
		return ErrNilSession
	}
	if store == nil {
		store = Map(nil)
	}
	if s.MetaData == nil {
		s.MetaData = map[string]model.RawValue{}
	}

	ids := s.PolicyIDs()
	clearGoverned(s, store, ids)

	// Custom policies are applied instead of the key's policies, but (as in
	// Tyk) only after the key's policies decided what to clear.
	if custom, ok := customPolicies(s.MetaData); ok {
		store, ids = custom, custom.ids()
	}

	r := run{s: s}
	// Once a key has policies only they decide whether it is inactive (5.11+,
	// in the latest 5.8.x): the key's own is_inactive is ignored.
	inactive := s.IsInactive && len(ids) == 0
	var tags []string
	for _, id := range ids {
		p, ok := store.Policy(id)
		if !ok {
			// One missing policy of several is skipped (TT-8558); a key's
			// only policy missing is an error.
			if len(ids) > 1 {
				continue
			}
			return &policyError{kind: ErrPolicyNotFound, id: id}
		}
		if orgGuard != nil && p.OrgID != *orgGuard {
			return ErrDifferentOrg
		}
		var err error
		switch {
		case p.Partitions.PerAPI && p.Partitions.IsPartitioned():
			err = &policyError{kind: ErrPerAPIWithPartitions, id: p.ID}
		case p.Partitions.PerAPI:
			err = r.applyPerAPI(p)
		default:
			err = r.applyPartitions(p)
		}
		if err != nil {
			return err
		}

		inactive = inactive || p.IsInactive
		tags = append(tags, p.Tags...)
		for k, v := range p.MetaData {
			s.MetaData[k] = slices.Clone(v)
		}
		if p.LastUpdated > s.LastUpdated {
			s.LastUpdated = p.LastUpdated
		}
	}
	s.IsInactive = inactive
	s.Tags = unionTags(s.Tags, tags)

	if len(ids) == 0 {
		// A key without policies counts each API that has its own limit
		// separately.
		for api, ad := range s.AccessRights {
			if !ad.Limit.IsEmpty() {
				ad.AllowanceScope = api
				s.AccessRights[api] = ad
			}
		}
	}

	r.finish()
	if len(r.rights) > 0 {
		// Policies that grant access replace the key's access rights as a
		// whole: APIs the key had directly but no policy grants are dropped.
		s.AccessRights = r.rights
	} else if len(ids) > 0 {
		return ErrNoValidPolicies
	}
	return nil
}

// clearGoverned discards the key's own root rate, quota and complexity values
// for every aspect one of its policies governs, so that the policies' values
// are not compared against stale key values. Like Tyk it stops silently at the
// first missing policy. The quota renewal rate is not cleared.
func clearGoverned(s *model.Session, store Store, ids []string) {
	for _, id := range ids {
		p, ok := store.Policy(id)
		if !ok {
			return
		}
		g := governs(p.Partitions)
		if g&aspectQuota != 0 {
			s.QuotaMax, s.QuotaRemaining = 0, 0
		}
		if g&aspectRate != 0 {
			s.Rate, s.Per, s.Smoothing = 0, 0, nil
			s.ThrottleRetryLimit, s.ThrottleInterval = 0, 0
		}
		if g&aspectComplexity != 0 {
			s.MaxQueryDepth = 0
		}
	}
}

// unionTags returns the sorted set union of the key's own and its policies'
// tags. Tyk builds the union from a hash set, so its order is unspecified;
// sorting makes the result deterministic (and the stored key stable).
func unionTags(own, fromPolicies []string) []string {
	if len(own)+len(fromPolicies) == 0 {
		return []string{} // Tyk writes an empty list, never null
	}
	out := make([]string, 0, len(own)+len(fromPolicies))
	out = append(append(out, own...), fromPolicies...)
	slices.Sort(out)
	return slices.Compact(out)
}

// run is the working state of one Apply.
type run struct {
	s *model.Session

	// rights is the access-rights map built from the policies; it replaces
	// s.AccessRights at the end if any policy granted access.
	rights map[string]model.AccessDefinition
	// done records per API which aspects some policy has applied.
	done map[string]aspects

	// didPerAPI and didPartition detect mixing per_api and partitioned
	// policies. didPartition is overwritten by every non-per-API policy (Tyk
	// assigns rather than accumulates), so a non-partitioned policy between
	// a partitioned and a per_api one lets the mix through, as in Tyk.
	didPerAPI, didPartition bool
}

// reserve creates the working maps on first use, sized for the first
// policy's APIs: a key without policies allocates none.
func (r *run) reserve(apis int) {
	if r.rights == nil {
		r.rights = make(map[string]model.AccessDefinition, apis)
		r.done = make(map[string]aspects, apis)
	}
}

// keepQuotaRenews carries the key's stored quota_renews for api into ad when
// the key has its own (non-empty) limit there, so re-applying policies on
// every request does not restart the quota window.
func (r *run) keepQuotaRenews(api string, ad *model.AccessDefinition) {
	if own, ok := r.s.AccessRights[api]; ok && !own.Limit.IsEmpty() {
		ad.Limit.QuotaRenews = own.Limit.QuotaRenews
	}
}

// finish drops the APIs no policy granted access to, fills the aspects no
// policy governed from the session root, gives APIs granted by different
// policies separate counters, and copies single-API limits to the session
// root (legacy behaviour).
func (r *run) finish() {
	s := r.s
	multi := r.limitsFromSeveralPolicies()
	for api, ad := range r.rights {
		done := r.done[api]
		if done&aspectACL == 0 {
			// A quota- or rate-only partition never grants access.
			delete(r.rights, api)
			continue
		}
		if done&aspectRate == 0 {
			ad.Limit.Rate, ad.Limit.Per, ad.Limit.Smoothing = s.Rate, s.Per, s.Smoothing.Clone()
			ad.Limit.ThrottleInterval, ad.Limit.ThrottleRetryLimit = s.ThrottleInterval, s.ThrottleRetryLimit
			ad.Endpoints = nil
		}
		if done&aspectComplexity == 0 {
			ad.Limit.MaxQueryDepth = s.MaxQueryDepth
		}
		if done&aspectQuota == 0 {
			ad.Limit.QuotaMax, ad.Limit.QuotaRenewalRate, ad.Limit.QuotaRenews = s.QuotaMax, s.QuotaRenewalRate, s.QuotaRenews
		}
		if multi && ad.AllowanceScope == "" && ad.Limit.SetBy != "" {
			ad.AllowanceScope = ad.Limit.SetBy
		}
		ad.Limit.SetBy = ""
		r.rights[api] = ad
	}
	r.updateRootFromSingleAPI()
}

// limitsFromSeveralPolicies reports whether the entries were granted by more
// than one policy (SetBy holds the granting policy's id).
func (r *run) limitsFromSeveralPolicies() bool {
	first := ""
	for _, ad := range r.rights {
		switch by := ad.Limit.SetBy; {
		case by == "":
		case first == "":
			first = by
		case by != first:
			return true
		}
	}
	return false
}

// updateRootFromSingleAPI copies an API's rate, quota and depth to the session
// root when exactly one API had quota, exactly one had rate and exactly one
// had complexity applied. Tyk copies from whichever granted API its map
// iteration visits last; with several granted APIs this takes the last in id
// order, one of Tyk's possible outcomes, so the result is deterministic.
func (r *run) updateRootFromSingleAPI() {
	var quota, rate, complexity int
	for _, d := range r.done {
		if d&aspectQuota != 0 {
			quota++
		}
		if d&aspectRate != 0 {
			rate++
		}
		if d&aspectComplexity != 0 {
			complexity++
		}
	}
	if quota != 1 || rate != 1 || complexity != 1 || len(r.rights) == 0 {
		return
	}
	var last string
	for api := range r.rights {
		if api >= last {
			last = api
		}
	}
	l := r.rights[last].Limit
	s := r.s
	s.Rate, s.Per, s.Smoothing = l.Rate, l.Per, l.Smoothing.Clone()
	s.QuotaMax, s.QuotaRenews, s.QuotaRenewalRate = l.QuotaMax, l.QuotaRenews, l.QuotaRenewalRate
	s.MaxQueryDepth = l.MaxQueryDepth
}
