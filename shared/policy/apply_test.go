package policy_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// tableCase is one case of Tyk 5.8's policy tests (internal/policy/apply_test.go
// in github.com/TykTechnologies/tyk; README.md, "Tests"). Cases Tyk runs in both
// policy orders appear twice, once reversed.
//
// Row 59 (post-expiry propagation) is left out: post_expiry_action and
// post_expiry_grace_period are HEAD-only fields that the 5.8 model does not
// have. Every other row, the GraphQL ones (41–44) included, is here.
type tableCase struct {
	row      int
	name     string
	policies []string
	session  model.Session // starting state; apply_policies is set from policies
	wantErr  string        // exact error text; "" means success
	want     outcome
}

const (
	perAPILimitFromPolicy = "per_api_with_limit_set_from_policy"
	perAPIEndpointsDE     = "per_api_with_endpoint_limits_on_d_and_e"
	perAPIEndpointsD      = "per_endpoint_limits_different_on_api_d"
	endpointsACLOnly      = "endpoint_rate_limits_on_acl_partition_only"
	endpointsQuotaOnly    = "endpoint_rate_limits_on_quota_partition_only"
	dGet1                 = "api_d_get_endpoint_rl_1_configure_on_non_partitioned_policy"
	dGet2                 = "api_d_get_endpoint_rl_2_configure_on_non_partitioned_policy"
	dGet3                 = "api_d_get_endpoint_rl_3_configure_on_non_partitioned_policy"
	dPost1                = "api_d_post_endpoint_rl_1_configure_on_non_partitioned_policy"
	eGet1                 = "api_e_get_endpoint_rl_1_configure_on_non_partitioned_policy"
)

var (
	noTags = []string{}
	empty  = model.AccessDefinition{}

	// Rows 33–35: per-API limits of APIs c and d.
	perAPIc2000 = scoped(model.APILimit{Rate: 2000, Per: 60, QuotaMax: -1}, "c")
	perAPId20   = scoped(limit(20, 1, 1000, 3600), "d")
	perAPId200  = scoped(limit(200, 10, 5000, 3600), "d")

	// Rows 49–50: endpoint limits merged across per-API policies.
	endpointsDE = []model.Endpoint{endpoint("/get", "GET", -1, 0), endpoint("/post", "POST", 300, 10)}
	endpointsD  = []model.Endpoint{endpoint("/anything", "PUT", 500, 10), endpoint("/get", "GET", -1, 0), endpoint("/post", "POST", 400, 11)}
	apiE500     = scoped(model.APILimit{Rate: 500, Per: 1, QuotaMax: -1}, perAPIEndpointsDE)

	// Rows 53–56: policies with acl+rate_limit+quota partitions, 500/1 and
	// unlimited quota, that differ only in their endpoint limits.
	rl500   = model.APILimit{Rate: 500, Per: 1, QuotaMax: -1}
	root500 = root{Rate: 500, Per: 1, QuotaMax: -1}
)

func tableCases() []tableCase {
	cases := []tableCase{
		{row: 1, name: "Empty", want: outcome{tags: noTags}},
		{row: 2, name: "Single", policies: []string{"nonpart1"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty}, tags: noTags}},
		{row: 3, name: "Missing", policies: []string{"nonexistent"},
			wantErr: `policy not found: "nonexistent"`},
		{row: 4, name: "DiffOrg", policies: []string{"difforg"},
			wantErr: "attempting to apply policy from different organisation to key, skipping"},
		{row: 5, name: "MultiNonPart", policies: []string{"nonpart1", "nonpart2", "nonexistent"},
			want: outcome{rights: map[string]model.AccessDefinition{
				"a": scoped(model.APILimit{}, "p1"),
				"b": scoped(model.APILimit{}, "p2"),
			}, tags: noTags}},
		{row: 6, name: "MultiACLPolicy", policies: []string{"nonpart3"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty, "b": empty}, tags: noTags}},

		{row: 7, name: "QuotaPart with unlimited", policies: []string{"unlimited-quota"},
			want: outcome{root: root{QuotaMax: -1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(0, 0, -1, 0)}}, tags: noTags}},
		{row: 8, name: "QuotaPart", policies: []string{"quota1"},
			want: outcome{root: root{QuotaMax: 2}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(0, 0, 2, 0)}}, tags: noTags}},
		{row: 9, name: "QuotaParts", policies: []string{"quota1", "quota2"},
			want: outcome{root: root{QuotaMax: 3}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(0, 0, 3, 0)}}, tags: noTags}},
		{row: 10, name: "QuotaParts with acl", policies: []string{"quota5", "quota4"},
			want: outcome{root: root{QuotaMax: 4}, rights: map[string]model.AccessDefinition{
				"b": {Limit: limit(0, 0, 4, 0)}}, tags: noTags}},
		{row: 11, name: "QuotaPart with access rights", policies: []string{"quota3"},
			want: outcome{root: root{QuotaMax: 3}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(0, 0, 3, 0)}}, tags: noTags}},
		{row: 12, name: "QuotaPart with access rights in multi-policy", policies: []string{"quota4", "nonpart1"},
			// b comes from a quota-only partition, which never grants access.
			want: outcome{root: root{QuotaMax: 3}, rights: map[string]model.AccessDefinition{"a": empty}, tags: noTags}},

		{row: 13, name: "RatePart with unlimited", policies: []string{"unlimited-rate"},
			// rate -1 with per 0 is ignored by the 5.4+ merge: the cleared 0 stays.
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty}, tags: noTags}},
		{row: 14, name: "RatePart", policies: []string{"rate1"},
			want: outcome{root: root{Rate: 3, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(3, 1, 0, 0)}}, tags: noTags}},
		{row: 15, name: "RateParts", policies: []string{"rate1", "rate2"},
			want: outcome{root: root{Rate: 4, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(4, 1, 0, 0)}}, tags: noTags}},
		{row: 16, name: "RateParts with acl", policies: []string{"rate5", "rate4"},
			want: outcome{root: root{Rate: 10, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(10, 1, 0, 0)}}, tags: noTags}},
		{row: 17, name: "RateParts with acl respected by session", policies: []string{"rate4", "rate5"},
			session: model.Session{Rate: 20},
			want: outcome{root: root{Rate: 10, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(10, 1, 0, 0)}}, tags: noTags}},
		{row: 18, name: "Rate with no partition respected by session", policies: []string{"rate-no-partition"},
			session: model.Session{Rate: 20},
			want: outcome{root: root{Rate: 12, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(12, 1, 0, 0)}}, tags: noTags}},

		{row: 19, name: "ComplexityPart with unlimited", policies: []string{"unlimitedComplexity"},
			want: outcome{root: root{MaxQueryDepth: -1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: model.APILimit{MaxQueryDepth: -1}}}, tags: noTags}},
		{row: 20, name: "ComplexityPart", policies: []string{"complexity1"},
			want: outcome{root: root{MaxQueryDepth: 2}, rights: map[string]model.AccessDefinition{
				"a": {Limit: model.APILimit{MaxQueryDepth: 2}}}, tags: noTags}},
		{row: 21, name: "ComplexityParts", policies: []string{"complexity1", "complexity2"},
			want: outcome{root: root{MaxQueryDepth: 3}, rights: map[string]model.AccessDefinition{
				"a": {Limit: model.APILimit{MaxQueryDepth: 3}}}, tags: noTags}},

		{row: 22, name: "AclPart", policies: []string{"acl1"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty}, tags: noTags}},
		{row: 23, name: "AclPart (2)", policies: []string{"acl1", "acl2"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty, "b": empty}, tags: noTags}},
		{row: 24, name: "Acl for a and rate for a,b", policies: []string{"acl1", "rate-for-a-b"},
			want: outcome{root: root{Rate: 4, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(4, 1, 0, 0)}}, tags: noTags}},
		{row: 25, name: "Acl for a,b and individual rate", policies: []string{"acl-for-a-b", "rate-for-a", "rate-for-b"},
			want: outcome{root: root{Rate: 4, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(4, 1, 0, 0)},
				"b": {Limit: limit(2, 1, 0, 0)},
			}, tags: noTags}},
		{row: 26, name: "RightsUpdate", policies: []string{"acl-for-a-b"},
			session: model.Session{AccessRights: map[string]model.AccessDefinition{"c": empty}},
			want:    outcome{rights: map[string]model.AccessDefinition{"a": empty, "b": empty}, tags: noTags}},

		{row: 27, name: "InactiveNoPolicies", session: model.Session{IsInactive: true},
			want: outcome{root: root{IsInactive: true}, tags: noTags}},
		{row: 28, name: "InactiveMergeOne", policies: []string{"tags1", "inactive1"},
			want: outcome{root: root{IsInactive: true}, rights: map[string]model.AccessDefinition{"a": empty},
				tags: []string{"tagA"}}},
		{row: 29, name: "InactiveMergeAll", policies: []string{"inactive1", "inactive2"},
			want: outcome{root: root{IsInactive: true}, rights: map[string]model.AccessDefinition{"a": empty}, tags: noTags}},
		{row: 30, name: "InactiveWithSession", policies: []string{"tags1", "tags2"},
			session: model.Session{IsInactive: true},
			// Policies alone decide (5.11+, latest 5.8.x): the key becomes active.
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty},
				tags: []string{"tagA", "tagX", "tagY"}}},

		{row: 31, name: "Per API and other partitions", policies: []string{"per_api_and_partitions"},
			wantErr: "cannot apply policy per_api_and_partitions which has per_api and any of partitions set"},
		{row: 32, name: "Per API and some partitions", policies: []string{"per_api_and_some_partitions"},
			wantErr: "cannot apply policy per_api_and_some_partitions which has per_api and any of partitions set"},
		{row: 33, name: "Per API only", policies: []string{"per_api_and_no_other_partitions"},
			want: outcome{rights: map[string]model.AccessDefinition{"c": perAPIc2000, "d": perAPId20}, tags: noTags}},
		{row: 34, name: "two per-API policies on the same API",
			policies: []string{"per_api_and_no_other_partitions", "per_api_with_api_d"},
			// 20/1 and 200/10 have equal intervals: the later policy's stays.
			want: outcome{rights: map[string]model.AccessDefinition{"c": perAPIc2000, "d": perAPId200}, tags: noTags}},
		{row: 35, name: "three per-API policies",
			policies: []string{"per_api_and_no_other_partitions", "per_api_with_api_d", "per_api_with_api_c"},
			// c: 3000/10 is faster, -1 beats 6000 (and never renews); c's own scope stays.
			want: outcome{rights: map[string]model.AccessDefinition{
				"c": scoped(model.APILimit{Rate: 3000, Per: 10, QuotaMax: -1}, "c"),
				"d": perAPId200,
			}, tags: noTags}},
		{row: 36, name: "per-API then partitioned", policies: []string{"per_api_with_api_d", "quota1"},
			wantErr: "cannot apply multiple policies when some have per_api set and some are partitioned"},
		{row: 37, name: "partitioned then per-API", policies: []string{"rate1", "per_api_with_api_d"},
			wantErr: "cannot apply multiple policies when some have per_api set and some are partitioned"},
		{row: 38, name: "per-API limit from policy fields", policies: []string{perAPILimitFromPolicy},
			want: outcome{rights: map[string]model.AccessDefinition{
				"d": perAPId200,
				"e": scoped(model.APILimit{Rate: 300, Per: 1, QuotaMax: -1}, perAPILimitFromPolicy),
			}, tags: noTags}},
		{row: 39, name: "per-API override",
			policies: []string{perAPILimitFromPolicy, "per_api_with_api_d", "per_api_with_higher_rate_on_api_d"},
			// 200/10 (20 rps) beats 400/25 (16 rps), so d keeps its limit and scope.
			want: outcome{rights: map[string]model.AccessDefinition{
				"d": perAPId200,
				"e": scoped(model.APILimit{Rate: 300, Per: 1, QuotaMax: -1}, perAPILimitFromPolicy),
			}, tags: noTags}},

		{row: 40, name: "Merge per path rules", policies: []string{"per-path2", "per-path1"},
			want: outcome{rights: map[string]model.AccessDefinition{
				"a": urls(spec("/user", "GET", "POST"), spec("/companies", "GET", "POST")),
				"b": urls(spec("/", "PUT")),
			}, tags: noTags}},
		{row: 41, name: "Merge restricted fields", policies: []string{"restricted-types1", "restricted-types2"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": {RestrictedTypes: []model.GraphQLType{
				gqlType("Country", "code", "name", "phone"),
				gqlType("Person", "name", "height", "mass"),
			}}}, tags: noTags}},
		{row: 42, name: "Merge allowed fields", policies: []string{"allowed-types1", "allowed-types2"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": {
				AllowedTypes: []model.GraphQLType{
					gqlType("Country", "code", "name", "phone"),
					gqlType("Person", "name", "height", "mass"),
				},
				RestrictedTypes: []model.GraphQLType{
					gqlType("Dog", "name", "breed", "country"),
					gqlType("Cat", "name", "country"),
				},
			}}, tags: noTags}},
		{row: 43, name: "Introspection disabled sticks", policies: []string{"introspection-disabled", "introspection-enabled"},
			want: outcome{rights: map[string]model.AccessDefinition{"a": {DisableIntrospection: true}}, tags: noTags}},
		{row: 44, name: "Field-level depth merge", policies: []string{"field-level-depth-limit1", "field-level-depth-limit2"},
			want: outcome{rights: map[string]model.AccessDefinition{"graphql-api": {FieldAccessRights: []model.FieldAccessDefinition{
				fieldDepth("Query", "people", 4),
				fieldDepth("Mutation", "putPerson", -1),
				fieldDepth("Query", "countries", 3),
				fieldDepth("Query", "continents", 4),
			}}}, tags: noTags}},

		{row: 45, name: "Throttle from policy", policies: []string{"throttle1"},
			want: outcome{root: root{ThrottleInterval: 9, ThrottleRetryLimit: 99}, rights: map[string]model.AccessDefinition{
				"a": {Limit: model.APILimit{ThrottleInterval: 9, ThrottleRetryLimit: 99}}}, tags: noTags}},
		{row: 46, name: "TagMerge", policies: []string{"tags1", "tags2"},
			session: model.Session{Tags: []string{"key-tag"}},
			want: outcome{rights: map[string]model.AccessDefinition{"a": empty},
				tags: []string{"key-tag", "tagA", "tagX", "tagY"}}},
		{row: 47, name: "NonpartAndPart", policies: []string{"nonpart1", "quota1"},
			// quota1 has no id, so it resets SetBy and no scope is set.
			want: outcome{root: root{QuotaMax: 2}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(0, 0, 2, 0)}}, tags: noTags}},
	}

	// Row 48 and the endpoint rows run in both policy orders.
	both := []tableCase{
		{row: 48, name: "inherit quota and rate from partitions", policies: []string{"quota1", "rate3"},
			// a had no rate partition, so it inherits the root rate rate3 set.
			want: outcome{root: root{Rate: 4, Per: 4, QuotaMax: 2}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(4, 4, 2, 0)}}, tags: noTags}},
		{row: 49, name: "Per API and per endpoint", policies: []string{perAPILimitFromPolicy, perAPIEndpointsDE},
			want: outcome{rights: map[string]model.AccessDefinition{
				"d": withEndpoints(perAPId200, endpointsDE...),
				"e": withEndpoints(apiE500, endpointsDE...),
			}, tags: noTags}},
		{row: 50, name: "Endpoint limits overlapping", policies: []string{perAPILimitFromPolicy, perAPIEndpointsDE, perAPIEndpointsD},
			want: outcome{rights: map[string]model.AccessDefinition{
				"d": withEndpoints(perAPId200, endpointsD...),
				"e": withEndpoints(apiE500, endpointsDE...),
			}, tags: noTags}},
		{row: 52, name: "endpoints on acl and quota partitions", policies: []string{endpointsACLOnly, endpointsQuotaOnly},
			// d inherits the root quota the master policy set; no rate partition, no endpoints.
			want: outcome{root: root{QuotaMax: 1000}, rights: map[string]model.AccessDefinition{
				"d": {Limit: limit(0, 0, 1000, 0)}}, tags: noTags}},
		{row: 53, name: "two GET /get limits", policies: []string{dGet1, dGet2},
			want: outcome{root: root500, rights: map[string]model.AccessDefinition{
				"d": {Limit: rl500, Endpoints: []model.Endpoint{endpoint("/get", "GET", 20, 60)}}}, tags: noTags}},
		{row: 54, name: "GET /get limits with unbounded", policies: []string{dGet1, dGet2, dGet3},
			want: outcome{root: root500, rights: map[string]model.AccessDefinition{
				"d": {Limit: rl500, Endpoints: []model.Endpoint{endpoint("/get", "GET", -1, 0)}}}, tags: noTags}},
		{row: 55, name: "GET and POST limits", policies: []string{dGet1, dGet2, dGet3, dPost1},
			want: outcome{root: root500, rights: map[string]model.AccessDefinition{
				"d": {Limit: rl500, Endpoints: []model.Endpoint{
					endpoint("/get", "GET", -1, 0), endpoint("/post", "POST", 20, 60)}}}, tags: noTags}},
	}
	for _, c := range both {
		r := c
		r.name += " (reversed)"
		r.policies = reversed(c.policies)
		cases = append(cases, c, r)
	}

	// Row 51: a single policy.
	cases = append(cases, tableCase{row: 51, name: "endpoints on acl-only partition", policies: []string{endpointsACLOnly},
		want: outcome{rights: map[string]model.AccessDefinition{"d": empty}, tags: noTags}})

	// Row 56 in both orders: d and e are granted by different policies, so
	// each gets the id of the last policy granting it as its counter scope,
	// which depends on the order.
	row56 := []string{dGet1, dGet2, dGet3, dPost1, eGet1}
	d56 := model.AccessDefinition{Limit: rl500, Endpoints: []model.Endpoint{
		endpoint("/get", "GET", -1, 0), endpoint("/post", "POST", 20, 60)}}
	e56 := model.AccessDefinition{Limit: rl500, Endpoints: []model.Endpoint{endpoint("/get", "GET", 100, 60)}, AllowanceScope: eGet1}
	for _, order := range []struct {
		name     string
		policies []string
		dScope   string
	}{
		{"APIs d and e", row56, dPost1},
		{"APIs d and e (reversed)", reversed(row56), dGet1},
	} {
		d := d56
		d.AllowanceScope = order.dScope
		cases = append(cases, tableCase{row: 56, name: order.name, policies: order.policies,
			want: outcome{root: root500, rights: map[string]model.AccessDefinition{"d": d, "e": e56}, tags: noTags}})
	}
	return cases
}

func TestApplyTable(t *testing.T) {
	store := loadStore(t)
	guard := ""
	for _, c := range tableCases() {
		t.Run(fmt.Sprintf("%02d %s", c.row, c.name), func(t *testing.T) {
			before := snapshot(store)
			s := c.session
			s.ApplyPolicies = c.policies

			err := policy.Apply(&s, store, &guard)

			assertUnchanged(t, before, store)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("error = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			checkOutcome(t, &s, c.want)
		})
	}
}

// Row 40 also requires that merging allowed_urls leaves the stored policy's
// method list alone (Tyk once appended into it).
func TestApplyMergeKeepsStoredAllowedURLs(t *testing.T) {
	store := loadStore(t)
	for range 3 { // repeated application must not accumulate anything either
		s := model.Session{ApplyPolicies: []string{"per-path2", "per-path1"}}
		if err := policy.Apply(&s, store, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := store["per-path2"].AccessRights["a"].AllowedURLs[0]
	if got.URL != "/user" || len(got.Methods) != 1 || got.Methods[0] != "GET" {
		t.Fatalf("stored per-path2 allowed_urls[0] = %+v, want /user [GET]", got)
	}
}

// Rows 57 and 58: custom policies in meta_data.policies replace the key's
// policy ids.
func TestApplyCustomPolicies(t *testing.T) {
	const (
		pol1Rate = `{"id":"pol1","partitions":{"rate_limit":true,"acl":true},"rate":8,"per":1,"access_rights":{"a":{}}}`
		pol2Rate = `{"id":"pol2","partitions":{"rate_limit":true},"rate":10,"per":1,"access_rights":{"a":{}}}`

		pol1RateOnly = `{"id":"pol1","partitions":{"rate_limit":true},"rate":8,"per":1,"access_rights":{"a":{}}}`
		pol2ACL      = `{"id":"pol2","partitions":{"acl":true},"rate":10,"per":1,"access_rights":{"a":{` +
			`"allowed_urls":[{"url":"/user","methods":["GET","POST"]},{"url":"/companies","methods":["GET","POST"]}]}}}`
	)
	aclURLs := urls(spec("/user", "GET", "POST"), spec("/companies", "GET", "POST"))
	aclURLs.Limit = limit(8, 1, 0, 0)

	cases := []struct {
		row    int
		name   string
		custom string
		want   outcome
	}{
		{57, "rate from two custom policies", "[" + pol1Rate + "," + pol2Rate + "]",
			outcome{root: root{Rate: 10, Per: 1}, rights: map[string]model.AccessDefinition{
				"a": {Limit: limit(10, 1, 0, 0)}}, tags: noTags}},
		{58, "ACL from custom policy, rate first", "[" + pol1RateOnly + "," + pol2ACL + "]",
			outcome{root: root{Rate: 8, Per: 1}, rights: map[string]model.AccessDefinition{"a": aclURLs}, tags: noTags}},
		{58, "ACL from custom policy, ACL first", "[" + pol2ACL + "," + pol1RateOnly + "]",
			outcome{root: root{Rate: 8, Per: 1}, rights: map[string]model.AccessDefinition{"a": aclURLs}, tags: noTags}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%02d %s", c.row, c.name), func(t *testing.T) {
			// The key's own policy id must be ignored in favour of the custom ones.
			s := model.Session{
				ApplyPolicies: []string{"nonexistent"},
				MetaData:      map[string]model.RawValue{"policies": model.RawValue(c.custom)},
			}
			if err := policy.Apply(&s, policy.Map{}, nil); err != nil {
				t.Fatal(err)
			}
			checkOutcome(t, &s, c.want)
		})
	}
}

// Invalid custom policies are ignored, as in Tyk: the key's own ids apply.
func TestApplyInvalidCustomPoliciesFallBack(t *testing.T) {
	store := loadStore(t)
	for _, raw := range []string{`"not a list"`, `{"id":"x"}`, `[1]`, `[{"_id":"bad"}]`} {
		t.Run(raw, func(t *testing.T) {
			s := model.Session{
				ApplyPolicies: []string{"rate1"},
				MetaData:      map[string]model.RawValue{"policies": model.RawValue(raw)},
			}
			if err := policy.Apply(&s, store, nil); err != nil {
				t.Fatal(err)
			}
			if s.Rate != 3 || s.Per != 1 {
				t.Fatalf("rate = %v/%v, want rate1's 3/1", s.Rate, s.Per)
			}
		})
	}
}

func TestApplyErrorsMatchWithErrorsIs(t *testing.T) {
	store := loadStore(t)
	guard := ""
	cases := []struct {
		policies []string
		want     error
	}{
		{[]string{"nonexistent"}, policy.ErrPolicyNotFound},
		{[]string{"difforg"}, policy.ErrDifferentOrg},
		{[]string{"per_api_and_partitions"}, policy.ErrPerAPIWithPartitions},
		{[]string{"rate1", "per_api_with_api_d"}, policy.ErrMixedPerAPIAndPartitioned},
		{[]string{"nonexistent", "missing-too"}, policy.ErrNoValidPolicies},
	}
	for _, c := range cases {
		s := model.Session{ApplyPolicies: c.policies}
		if err := policy.Apply(&s, store, &guard); !errors.Is(err, c.want) {
			t.Errorf("%v: error %v does not match %v", c.policies, err, c.want)
		}
	}
}
