package policy_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// gen builds random policies and sessions from a small vocabulary, so that
// policies collide on APIs, urls, types and endpoints and every merge path
// runs, with the special values (-1, 0) over-represented.
type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int { return g.r.IntN(n) }

func (g gen) chance(percent int) bool { return g.r.IntN(100) < percent }

func (g gen) num() float64 { return []float64{-1, 0, 0, 1, 2, 10, 60, 1000}[g.pick(8)] }

func (g gen) int64() int64 { return []int64{-1, 0, 0, 1, 5, 3600}[g.pick(6)] }

func (g gen) words(vocab ...string) []string {
	if g.chance(30) {
		return nil
	}
	out := make([]string, g.pick(3))
	for i := range out {
		out[i] = vocab[g.pick(len(vocab))]
	}
	return out
}

func (g gen) smoothing() *model.Smoothing {
	if !g.chance(20) {
		return nil
	}
	return &model.Smoothing{Enabled: g.chance(50), Threshold: g.int64(), Trigger: g.num(), Step: g.int64(), Delay: g.int64()}
}

func (g gen) limit() model.APILimit {
	if g.chance(50) {
		return model.APILimit{}
	}
	return model.APILimit{Rate: g.num(), Per: g.num(), Smoothing: g.smoothing(), ThrottleInterval: g.num(),
		ThrottleRetryLimit: int(g.int64()), MaxQueryDepth: int(g.int64()), QuotaMax: g.int64(),
		QuotaRenews: g.int64(), QuotaRenewalRate: g.int64()}
}

func (g gen) access() model.AccessDefinition {
	ad := model.AccessDefinition{
		APIName:              "name",
		Versions:             g.words("v1", "v2", "Default"),
		Limit:                g.limit(),
		DisableIntrospection: g.chance(20),
	}
	for range g.pick(3) {
		ad.AllowedURLs = append(ad.AllowedURLs, model.AccessSpec{URL: []string{"/a", "/b"}[g.pick(2)], Methods: g.words("GET", "POST")})
	}
	for range g.pick(3) {
		ad.RestrictedTypes = append(ad.RestrictedTypes, model.GraphQLType{Name: []string{"Dog", "Cat"}[g.pick(2)], Fields: g.words("name", "age")})
		ad.AllowedTypes = append(ad.AllowedTypes, model.GraphQLType{Name: []string{"Dog", "Cat"}[g.pick(2)], Fields: g.words("name", "age")})
	}
	for range g.pick(3) {
		ad.FieldAccessRights = append(ad.FieldAccessRights, model.FieldAccessDefinition{
			TypeName: "Query", FieldName: []string{"x", "y"}[g.pick(2)], Limits: model.FieldLimits{MaxQueryDepth: int(g.int64())}})
	}
	for range g.pick(3) {
		e := model.Endpoint{Path: []string{"/get", "/post", "/a:b"}[g.pick(3)]}
		for range g.pick(3) {
			e.Methods = append(e.Methods, model.EndpointMethod{Name: []string{"GET", "POST", "get"}[g.pick(3)],
				Limit: model.RateLimit{Rate: g.num(), Per: g.num()}})
		}
		ad.Endpoints = append(ad.Endpoints, e)
	}
	return ad
}

func (g gen) rights() map[string]model.AccessDefinition {
	if g.chance(15) {
		return nil
	}
	m := map[string]model.AccessDefinition{}
	for range 1 + g.pick(3) {
		m[[]string{"a", "b", "c", "d"}[g.pick(4)]] = g.access()
	}
	return m
}

func (g gen) policy(id string) *model.Policy {
	return &model.Policy{
		ID:    []string{id, "", "shared"}[g.pick(3)],
		OrgID: []string{"", "", "", "other"}[g.pick(4)],
		Rate:  g.num(), Per: g.num(), QuotaMax: g.int64(), QuotaRenewalRate: g.int64(),
		ThrottleInterval: g.num(), ThrottleRetryLimit: int(g.int64()), MaxQueryDepth: int(g.int64()),
		AccessRights:                  g.rights(),
		HMACEnabled:                   g.chance(10),
		EnableHTTPSignatureValidation: g.chance(10),
		IsInactive:                    g.chance(10),
		Tags:                          g.words("t1", "t2", "t3"),
		Partitions: model.PolicyPartitions{Quota: g.chance(30), RateLimit: g.chance(30), Complexity: g.chance(20),
			Acl: g.chance(40), PerAPI: g.chance(25)},
		LastUpdated: strconv.Itoa(g.pick(3)),
		MetaData:    map[string]model.RawValue{"k": model.RawValue(strconv.Quote(id))},
		Smoothing:   g.smoothing(),
	}
}

func (g gen) session(ids []string) *model.Session {
	s := &model.Session{
		Rate: g.num(), Per: g.num(), QuotaMax: g.int64(), QuotaRenewalRate: g.int64(), MaxQueryDepth: int(g.int64()),
		ThrottleInterval: g.num(), Smoothing: g.smoothing(), IsInactive: g.chance(30),
		AccessRights: g.rights(), Tags: g.words("t2", "own"),
	}
	switch g.pick(4) {
	case 0:
		s.ApplyPolicyID = ids[g.pick(len(ids))]
	case 1, 2:
		for range g.pick(4) {
			s.ApplyPolicies = append(s.ApplyPolicies, ids[g.pick(len(ids))])
		}
	}
	if g.chance(10) {
		s.MetaData = map[string]model.RawValue{"policies": model.RawValue(
			`[{"id":"c1","partitions":{"acl":true,"rate_limit":true},"rate":5,"per":1,"access_rights":{"a":{}}}]`)}
	}
	return s
}

// checkApplyProperties applies random policies to a random session and checks
// what must hold whatever they are: no panic, the store is never modified
// (not even through memory the result shares with it), the result is
// deterministic, and the result is well formed.
func checkApplyProperties(t *testing.T, seed uint64) {
	g := gen{rand.New(rand.NewPCG(seed, seed>>32|1))}
	store := policy.Map{}
	ids := []string{"missing"}
	for i := range 1 + g.pick(5) {
		id := "p" + strconv.Itoa(i)
		store[id] = g.policy(id)
		ids = append(ids, id)
	}
	before := snapshot(store)
	s := g.session(ids)
	var guard *string
	if g.chance(50) {
		guard = new(string)
	}

	s2 := s.Clone()
	err := policy.Apply(s, store, guard)
	err2 := policy.Apply(s2, store, guard)
	if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(s, s2) {
		t.Fatalf("seed %d: two runs differ:\n%v %+v\n%v %+v", seed, err, s, err2, s2)
	}
	if err == nil {
		for api, ad := range s.AccessRights {
			if ad.Limit.SetBy != "" {
				t.Fatalf("seed %d: SetBy %q leaked into %s", seed, ad.Limit.SetBy, api)
			}
		}
		if !slices.IsSorted(s.Tags) || len(slices.Compact(slices.Clone(s.Tags))) != len(s.Tags) {
			t.Fatalf("seed %d: tags %q not a sorted set", seed, s.Tags)
		}
	}
	scribble(s)
	assertUnchanged(t, before, store)
}

// scribble overwrites everything reachable from s, so that any memory the
// result shares with a stored policy shows up as a modified store.
func scribble(s *model.Session) {
	if s.Smoothing != nil {
		s.Smoothing.Threshold = 12345
	}
	for i := range s.Tags {
		s.Tags[i] = "scribbled"
	}
	for _, v := range s.MetaData {
		for i := range v {
			v[i] = '#'
		}
	}
	for _, ad := range s.AccessRights {
		if ad.Limit.Smoothing != nil {
			ad.Limit.Smoothing.Threshold = 12345
		}
		for i := range ad.Versions {
			ad.Versions[i] = "scribbled"
		}
		for _, u := range ad.AllowedURLs {
			for i := range u.Methods {
				u.Methods[i] = "scribbled"
			}
		}
		for i := range ad.AllowedURLs {
			ad.AllowedURLs[i].URL = "scribbled"
		}
		for _, types := range [][]model.GraphQLType{ad.RestrictedTypes, ad.AllowedTypes} {
			for i := range types {
				types[i].Name = "scribbled"
				for j := range types[i].Fields {
					types[i].Fields[j] = "scribbled"
				}
			}
		}
		for i := range ad.FieldAccessRights {
			ad.FieldAccessRights[i].Limits.MaxQueryDepth = 12345
		}
		for i := range ad.Endpoints {
			ad.Endpoints[i].Path = "scribbled"
			for j := range ad.Endpoints[i].Methods {
				ad.Endpoints[i].Methods[j].Limit.Rate = 12345
			}
		}
	}
}

func TestApplyProperties(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := range uint64(n) {
		checkApplyProperties(t, seed)
	}
}

// FuzzApply explores further seeds with `go test -fuzz=FuzzApply`.
func FuzzApply(f *testing.F) {
	for _, seed := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(seed)
	}
	f.Fuzz(checkApplyProperties)
}
