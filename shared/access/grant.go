package access

import (
	"slices"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Grant is what the key-dependent checks read of an effective session for
// one API: its inactive flag and expiry, and either "master key" (no access
// rights: every API, the root limits) or the access right for the API (or
// its absence). A Grant shares the slices of the session it was made from
// and holds none of the rest, so a caller that keeps many effective
// sessions (the filter's per-VM cache) can keep a Grant instead of the
// session's access_rights map, which is most of its memory.
//
// CheckSession and EffectiveLimit are CheckGrant and GrantLimit of
// GrantFor: one implementation of the checks.
type Grant struct {
	Inactive bool
	Expires  int64 // unix seconds; < 1 means never
	// Master: the session has no access rights (every API, root limits).
	Master bool
	// Found: the session has an access right for the API (unused for a
	// master key). The fields below are that access right's.
	Found       bool
	Versions    []string
	AllowedURLs []model.AccessSpec
	Endpoints   []model.Endpoint
	// Limit is the access right's limit, or the root values when that is
	// empty (Tyk's rule), with its allowance_scope; the root values for a
	// master key.
	Limit Limit
}

// GrantFor returns the Grant of s for the API apiID. s must not be nil.
func GrantFor(s *model.Session, apiID string) Grant {
	g := Grant{Inactive: s.IsInactive, Expires: s.Expires,
		Limit: Limit{Rate: s.Rate, Per: s.Per, QuotaMax: s.QuotaMax, QuotaRenewalRate: s.QuotaRenewalRate}}
	if len(s.AccessRights) == 0 {
		g.Master = true
		return g
	}
	entry, ok := s.AccessRights[apiID]
	if !ok {
		g.Limit = Limit{}
		return g
	}
	g.Found = true
	g.Versions, g.AllowedURLs, g.Endpoints = entry.Versions, entry.AllowedURLs, entry.Endpoints
	if l := entry.Limit; !l.IsEmpty() {
		g.Limit = Limit{Rate: l.Rate, Per: l.Per, QuotaMax: l.QuotaMax, QuotaRenewalRate: l.QuotaRenewalRate}
	}
	g.Limit.Scope = entry.AllowanceScope
	return g
}

// CheckGrant is CheckSession for a session's Grant for api (nil g: no
// session). g must have been made for api's id.
func (c *Checker) CheckGrant(g *Grant, api *model.APIDefinition, r Request, now time.Time) Decision {
	if g == nil {
		return denySessionMissing
	}
	if g.Inactive {
		return denyKeyInactive
	}
	if g.Expires >= 1 && now.After(time.Unix(g.Expires, 0)) {
		return denyKeyExpired
	}
	if api == nil {
		return denyAPI
	}
	if g.Master {
		return allow
	}
	if !g.Found {
		return denyAPI
	}
	version, _, d := resolveVersion(api, r.Version)
	if !d.Allowed() {
		return d
	}
	if !api.VersionData.NotVersioned && !slices.Contains(g.Versions, version) {
		return denyVersion
	}
	if len(g.AllowedURLs) > 0 && !c.urlAllowed(api, g.AllowedURLs, r) {
		return denyResource
	}
	return allow
}

// GrantLimit is EffectiveLimit for a session's Grant for api (g and api
// not nil, g made for api's id).
func (c *Checker) GrantLimit(g *Grant, api *model.APIDefinition, method, path string) (limit Limit, ok bool) {
	if g.Master {
		return g.Limit, true
	}
	if !g.Found {
		return Limit{}, false
	}
	limit = g.Limit
	if len(g.Endpoints) == 0 {
		return limit, true
	}
	stripped := c.stripListenPath(api, path)
	for _, ep := range g.Endpoints {
		for _, m := range ep.Methods {
			if !strings.EqualFold(m.Name, method) {
				continue
			}
			if re, err := c.pattern(ep.Path); err != nil || !re.MatchString(stripped) {
				break // the path is the same for every method of this endpoint
			}
			limit.Rate, limit.Per = m.Limit.Rate, m.Limit.Per
			limit.EndpointKey = endpointKey(m.Name, ep.Path)
			return limit, true
		}
	}
	return limit, true
}
