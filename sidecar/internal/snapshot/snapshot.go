// Package snapshot holds the sidecar's in-memory view of the config —
// policies, API definitions and org sessions — and keeps it current: it
// polls the shared Redis version counter (so a change made through any
// replica reaches every replica) and, when policies come from a file, the
// file.
//
// A Snapshot is immutable once built; its Version is the SHA-256 of its
// canonical JSON, so replicas holding the same data report the same version.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Snapshot is one consistent view of the config. Never modify it (or
// anything it points to): it is shared by concurrent requests.
type Snapshot struct {
	Policies map[string]*model.Policy // the loaded ones: keys are evaluated against these
	// Inactive holds the stored policies with "active": false (active.go):
	// shown by the Gateway API, not applied, not sent to the filters.
	Inactive map[string]*model.Policy
	APIs     map[string]*model.APIDefinition
	// APIDocs holds the API definitions as stored (compact JSON objects),
	// every field the user sent included; an API without one is encoded
	// from its model.
	APIDocs map[string][]byte
	Orgs    map[string]*model.OrgSession
	// JWKS are the JWT verification keys of the APIs that have any, as
	// JWKS documents by api_id (keeper.go, package jwks).
	JWKS map[string][]byte
	// CacheGenerations are the response cache generations of the APIs
	// whose cache was invalidated (DELETE /tyk/cache/{apiID}); the filters
	// key their cache entries with them.
	CacheGenerations map[string]int64
	Version          string // hex SHA-256 of JSON
	JSON             []byte // {"policies":{id:policy},"apis":[def...],"orgs":{org_id:session}}
}

// Build makes a snapshot with API definitions encoded from their models.
// Nil maps are treated as empty.
func Build(policies map[string]*model.Policy, apis map[string]*model.APIDefinition, orgs map[string]*model.OrgSession) *Snapshot {
	return BuildDocs(policies, apis, nil, orgs)
}

// BuildDocs makes a snapshot whose API definitions are the stored documents
// in apiDocs (api_id -> compact JSON object) where there is one: the filter
// decodes what it enforces from them and ignores the rest.
func BuildDocs(policies map[string]*model.Policy, apis map[string]*model.APIDefinition, apiDocs map[string][]byte, orgs map[string]*model.OrgSession) *Snapshot {
	return BuildAll(policies, apis, apiDocs, orgs, nil, nil)
}

// BuildKeys is BuildDocs with the JWT APIs' key sets (JWKS documents by
// api_id), written to the snapshot when there are any.
func BuildKeys(policies map[string]*model.Policy, apis map[string]*model.APIDefinition, apiDocs map[string][]byte, orgs map[string]*model.OrgSession, jwks map[string][]byte) *Snapshot {
	return BuildAll(policies, apis, apiDocs, orgs, jwks, nil)
}

// BuildWithCache is BuildDocs with the response cache generations.
func BuildWithCache(policies map[string]*model.Policy, apis map[string]*model.APIDefinition, apiDocs map[string][]byte,
	orgs map[string]*model.OrgSession, cacheGens map[string]int64) *Snapshot {
	return BuildAll(policies, apis, apiDocs, orgs, nil, cacheGens)
}

// BuildAll is BuildDocs with the JWT APIs' key sets and the response cache
// generations, "jwks" and "cache_generations" in the document, each only
// when there are any (so a snapshot without them reads as before).
func BuildAll(policies map[string]*model.Policy, apis map[string]*model.APIDefinition, apiDocs map[string][]byte,
	orgs map[string]*model.OrgSession, jwks map[string][]byte, cacheGens map[string]int64) *Snapshot {
	s := &Snapshot{Policies: orEmpty(policies), APIs: orEmpty(apis), APIDocs: orEmpty(apiDocs), Orgs: orEmpty(orgs),
		JWKS: orEmpty(jwks), CacheGenerations: orEmpty(cacheGens)}
	b := append(make([]byte, 0, 4096), `{"policies":{`...)
	for i, id := range slices.Sorted(maps.Keys(s.Policies)) {
		b = appendSep(b, i)
		b = model.AppendString(b, id)
		b = append(b, ':')
		b = s.Policies[id].AppendJSON(b)
	}
	b = append(b, `},"apis":[`...)
	for i, id := range slices.Sorted(maps.Keys(s.APIs)) {
		b = appendSep(b, i)
		b = s.appendAPI(b, id)
	}
	b = append(b, `],"orgs":{`...)
	for i, id := range slices.Sorted(maps.Keys(s.Orgs)) {
		b = appendSep(b, i)
		b = model.AppendString(b, id)
		b = append(b, ':')
		b = s.Orgs[id].AppendJSON(b)
	}
	b = append(b, '}')
	if len(s.JWKS) > 0 {
		b = wire.AppendJWKS(b, s.JWKS)
	}
	if len(s.CacheGenerations) > 0 {
		b = append(b, `,"cache_generations":{`...)
		for i, id := range slices.Sorted(maps.Keys(s.CacheGenerations)) {
			b = appendSep(b, i)
			b = model.AppendString(b, id)
			b = append(b, ':')
			b = strconv.AppendInt(b, s.CacheGenerations[id], 10)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	sum := sha256.Sum256(b)
	s.JSON = b
	s.Version = hex.EncodeToString(sum[:])
	return s
}

// Policy implements shared/policy.Store.
func (s *Snapshot) Policy(id string) (*model.Policy, bool) {
	p, ok := s.Policies[id]
	return p, ok
}

// StoredPolicy finds a policy whether it is active or not (for the Gateway
// API, which shows and edits both).
func (s *Snapshot) StoredPolicy(id string) (*model.Policy, bool) {
	if p, ok := s.Policies[id]; ok {
		return p, true
	}
	p, ok := s.Inactive[id]
	return p, ok
}

// SortedPolicies returns every stored policy, active or not, ordered by id.
func (s *Snapshot) SortedPolicies() []*model.Policy {
	all := maps.Clone(s.Policies)
	maps.Copy(all, s.Inactive)
	return sortedValues(all)
}

// SortedAPIs returns the API definitions ordered by api_id.
func (s *Snapshot) SortedAPIs() []*model.APIDefinition { return sortedValues(s.APIs) }

// AppendAPIDocs appends a JSON array of the API definitions as stored,
// ordered by api_id.
func (s *Snapshot) AppendAPIDocs(b []byte) []byte {
	b = append(b, '[')
	for i, id := range slices.Sorted(maps.Keys(s.APIs)) {
		b = appendSep(b, i)
		b = s.appendAPI(b, id)
	}
	return append(b, ']')
}

// AppendAPIDoc appends the API definition as stored; false if there is none.
func (s *Snapshot) AppendAPIDoc(b []byte, id string) ([]byte, bool) {
	if _, ok := s.APIs[id]; !ok {
		return b, false
	}
	return s.appendAPI(b, id), true
}

func (s *Snapshot) appendAPI(b []byte, id string) []byte {
	if doc, ok := s.APIDocs[id]; ok {
		return append(b, doc...)
	}
	return s.APIs[id].AppendJSON(b)
}

func appendSep(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return b
}

func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
