package access

import (
	"encoding/hex"
	"hash/fnv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Limit is the rate limit and quota that apply to one request.
type Limit struct {
	// Rate requests per Per seconds. Rate <= 0 or Per <= 0 means unlimited.
	Rate, Per float64
	// QuotaMax requests per QuotaRenewalRate seconds. QuotaMax <= 0 means
	// the quota is not enforced; QuotaRenewalRate <= 0 means it never renews.
	QuotaMax, QuotaRenewalRate int64
	// Scope is the access right's allowance_scope: the namespace of the
	// rate and quota counters ("" = the key's root counters).
	Scope string
	// EndpointKey is non-empty when a per-endpoint rate limit applies: a
	// suffix for the rate counter, so each endpoint has its own bucket.
	// The quota is not per endpoint.
	EndpointKey string
}

// RateLimited reports whether the rate is enforced.
func (l Limit) RateLimited() bool { return l.Rate > 0 && l.Per > 0 }

// QuotaEnforced reports whether the quota is enforced.
func (l Limit) QuotaEnforced() bool { return l.QuotaMax > 0 }

// EffectiveLimit returns the limit for a request to api by method and path
// (the full request path), Tyk's RateLimitAndQuotaCheck selection (§4.1):
//
//  1. the access right for the API; its limit, or the session's root
//     values when that limit IsEmpty(); its allowance_scope either way;
//  2. if one of the access right's endpoints matches (method compared
//     case-insensitively, path pattern as PreparePattern with this
//     Checker's options, tested against the path with the listen path
//     stripped), its rate and per replace the rate, with a separate
//     counter (EndpointKey). An endpoint pattern that does not compile is
//     skipped, as in Tyk.
//
// A master key (empty access_rights) gets its root values. ok is false
// when the session has access rights but none for the API (Tyk's "unexpected
// apiID", which CheckSession already reports as 403), or when s or api is
// nil.
func (c *Checker) EffectiveLimit(s *model.Session, api *model.APIDefinition, method, path string) (limit Limit, ok bool) {
	if s == nil || api == nil {
		return Limit{}, false
	}
	g := GrantFor(s, api.APIID)
	return c.GrantLimit(&g, api, method, path)
}

// endpointKey names an endpoint's counter after its configuration (method
// and path pattern, not the request path), so all requests to the endpoint
// share one bucket. Hashing keeps arbitrary regex text out of storage keys.
func endpointKey(method, pattern string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.ToUpper(method)))
	h.Write([]byte{':'})
	h.Write([]byte(pattern))
	return hex.EncodeToString(h.Sum(nil))
}

// OrgLimit returns an organisation session's rate and quota. Tyk limits an
// organisation's rate only when both rate and per are positive, which is
// what Limit.RateLimited reports.
func OrgLimit(org *model.OrgSession) Limit {
	if org == nil {
		return Limit{}
	}
	return Limit{Rate: org.Rate, Per: org.Per, QuotaMax: org.QuotaMax, QuotaRenewalRate: org.QuotaRenewalRate}
}
