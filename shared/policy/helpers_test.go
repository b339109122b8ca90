package policy_test

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// loadStore reads testdata/policies.json, the §3.6 policies in Tyk's
// policies.json shape, keyed by the JSON object key.
//
// Each entry is decoded on its own with model.PolicyFromValue rather than with
// model.DecodePolicies because DecodePolicies follows Tyk 5.12+ and overwrites
// the inner id with the object key. The 5.8 tests depend on the two differing:
// the store key ("nonpart1") is what keys reference, the inner id ("p1", or ""
// when absent) is what ends up in SetBy and allowance_scope.
func loadStore(tb testing.TB) policy.Map {
	tb.Helper()
	data, err := os.ReadFile("testdata/policies.json")
	if err != nil {
		tb.Fatal(err)
	}
	v, err := fastjson.ParseBytes(data)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := v.Object()
	if err != nil {
		tb.Fatal(err)
	}
	store := policy.Map{}
	obj.Visit(func(key []byte, v *fastjson.Value) {
		p, err := model.PolicyFromValue(v)
		if err != nil {
			tb.Fatalf("policy %q: %v", key, err)
		}
		store[string(key)] = p
	})
	return store
}

// snapshot deep-copies a store so that a test can prove Apply left it alone.
func snapshot(m policy.Map) policy.Map {
	c := make(policy.Map, len(m))
	for k, p := range m {
		c[k] = p.Clone()
	}
	return c
}

func assertUnchanged(tb testing.TB, before, after policy.Map) {
	tb.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	for k := range before {
		if !reflect.DeepEqual(before[k], after[k]) {
			tb.Errorf("stored policy %q was modified:\nbefore %+v\nafter  %+v", k, *before[k], *after[k])
		}
	}
}

// root is the part of a session's root values the policy engine computes.
type root struct {
	Rate, Per          float64
	QuotaMax           int64
	QuotaRenewalRate   int64
	MaxQueryDepth      int
	ThrottleInterval   float64
	ThrottleRetryLimit int
	IsInactive         bool
}

func rootOf(s *model.Session) root {
	return root{
		Rate: s.Rate, Per: s.Per,
		QuotaMax: s.QuotaMax, QuotaRenewalRate: s.QuotaRenewalRate,
		MaxQueryDepth:    s.MaxQueryDepth,
		ThrottleInterval: s.ThrottleInterval, ThrottleRetryLimit: s.ThrottleRetryLimit,
		IsInactive: s.IsInactive,
	}
}

// outcome is what a successful Apply must produce, compared exactly.
type outcome struct {
	root   root
	rights map[string]model.AccessDefinition
	tags   []string
}

func checkOutcome(t *testing.T, s *model.Session, want outcome) {
	t.Helper()
	if got := rootOf(s); got != want.root {
		t.Errorf("root:\n got  %+v\n want %+v", got, want.root)
	}
	if !reflect.DeepEqual(s.AccessRights, want.rights) {
		t.Errorf("access_rights:\n got  %s\n want %s", fmtRights(s.AccessRights), fmtRights(want.rights))
	}
	if !slices.Equal(s.Tags, want.tags) || s.Tags == nil {
		t.Errorf("tags: got %#v, want %q", s.Tags, want.tags)
	}
}

func fmtRights(m map[string]model.AccessDefinition) string {
	out := "{"
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out += fmt.Sprintf("\n   %q: %+v", k, m[k])
	}
	return out + "}"
}

// Constructors that keep the expectations below readable.

func limit(rate, per float64, quotaMax, renewal int64) model.APILimit {
	return model.APILimit{Rate: rate, Per: per, QuotaMax: quotaMax, QuotaRenewalRate: renewal}
}

func scoped(l model.APILimit, scope string) model.AccessDefinition {
	return model.AccessDefinition{Limit: l, AllowanceScope: scope}
}

func withEndpoints(ad model.AccessDefinition, eps ...model.Endpoint) model.AccessDefinition {
	ad.Endpoints = eps
	return ad
}

func endpoint(path, method string, rate, per float64) model.Endpoint {
	return model.Endpoint{Path: path, Methods: []model.EndpointMethod{{Name: method, Limit: model.RateLimit{Rate: rate, Per: per}}}}
}

func urls(specs ...model.AccessSpec) model.AccessDefinition {
	return model.AccessDefinition{AllowedURLs: specs}
}

func spec(url string, methods ...string) model.AccessSpec {
	return model.AccessSpec{URL: url, Methods: methods}
}

func gqlType(name string, fields ...string) model.GraphQLType {
	return model.GraphQLType{Name: name, Fields: fields}
}

func fieldDepth(typeName, field string, depth int) model.FieldAccessDefinition {
	return model.FieldAccessDefinition{TypeName: typeName, FieldName: field, Limits: model.FieldLimits{MaxQueryDepth: depth}}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
