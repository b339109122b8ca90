package policy_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// Missing, deleted and inactive policies (the table in README.md, "What Apply does").
func TestApplyMissingAndInactivePolicies(t *testing.T) {
	store := loadStore(t)
	cases := []struct {
		name     string
		policies []string
		wantErr  error
		check    func(t *testing.T, s *model.Session)
	}{
		{name: "only policy missing", policies: []string{"deleted"}, wantErr: policy.ErrPolicyNotFound},
		{name: "one of several missing is skipped", policies: []string{"deleted", "rate1"},
			check: func(t *testing.T, s *model.Session) {
				if s.Rate != 3 || len(s.AccessRights) != 1 {
					t.Errorf("rate %v, rights %v; want rate1 applied", s.Rate, s.AccessRights)
				}
			}},
		{name: "all missing", policies: []string{"deleted", "gone"}, wantErr: policy.ErrNoValidPolicies},
		{name: "no policy grants access", policies: []string{"rate3"}, wantErr: policy.ErrNoValidPolicies},
		{name: "quota-only partition grants no access", policies: []string{"quota4"}, wantErr: policy.ErrNoValidPolicies},
		{name: "inactive policy makes the key inactive", policies: []string{"rate1", "inactive1"},
			check: func(t *testing.T, s *model.Session) {
				if !s.IsInactive {
					t.Error("key is active, want inactive")
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := model.Session{ApplyPolicies: c.policies}
			err := policy.Apply(&s, store, nil)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error = %v, want %v", err, c.wantErr)
			}
			if c.check != nil {
				c.check(t, &s)
			}
		})
	}
	if err := policy.Apply(&model.Session{ApplyPolicies: []string{"deleted"}}, store, nil); err.Error() != `policy not found: "deleted"` {
		t.Errorf("error text = %q", err)
	}
}

func TestApplyPolicyIDFallback(t *testing.T) {
	store := loadStore(t)

	s := model.Session{ApplyPolicyID: "rate1"}
	if err := policy.Apply(&s, store, nil); err != nil || s.Rate != 3 {
		t.Fatalf("apply_policy_id alone: err %v, rate %v; want rate1's 3", err, s.Rate)
	}

	s = model.Session{ApplyPolicyID: "rate1", ApplyPolicies: []string{"rate2"}}
	if err := policy.Apply(&s, store, nil); err != nil || s.Rate != 4 {
		t.Fatalf("with apply_policies: err %v, rate %v; want rate2's 4", err, s.Rate)
	}
}

func TestApplyOrgGuard(t *testing.T) {
	store := policy.Map{"p": {ID: "p", OrgID: "org1", AccessRights: map[string]model.AccessDefinition{"a": {}}}}
	org1, org2, none := "org1", "org2", ""
	cases := []struct {
		name  string
		guard *string
		want  error
	}{
		{"no guard", nil, nil},
		{"same org", &org1, nil},
		{"other org", &org2, policy.ErrDifferentOrg},
		{"empty guard is still a guard", &none, policy.ErrDifferentOrg},
	}
	for _, c := range cases {
		s := model.Session{ApplyPolicies: []string{"p"}}
		if err := policy.Apply(&s, store, c.guard); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

func TestApplyKeyWithoutPolicies(t *testing.T) {
	s := model.Session{Rate: 5, Per: 1, AccessRights: map[string]model.AccessDefinition{
		"limited":   {Limit: model.APILimit{Rate: 10, Per: 1}},
		"unlimited": {Versions: []string{"v1"}},
	}}
	if err := policy.Apply(&s, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]model.AccessDefinition{
		// Its own limit: counted separately, under the API id.
		"limited":   {Limit: model.APILimit{Rate: 10, Per: 1}, AllowanceScope: "limited"},
		"unlimited": {Versions: []string{"v1"}},
	}
	if !reflect.DeepEqual(s.AccessRights, want) {
		t.Fatalf("rights = %+v, want %+v", s.AccessRights, want)
	}
	if s.Rate != 5 || s.MetaData == nil {
		t.Fatalf("rate %v, meta_data %v; want the key's own rate and an empty meta_data", s.Rate, s.MetaData)
	}
}

// The key's own root values survive for aspects no policy governs, and the
// granted APIs inherit them.
func TestApplyClearsOnlyGovernedAspects(t *testing.T) {
	store := loadStore(t)
	s := model.Session{Rate: 20, Per: 1, QuotaMax: 50, QuotaRenewalRate: 60, MaxQueryDepth: 7,
		ApplyPolicies: []string{"acl1", "quota1"}}
	if err := policy.Apply(&s, store, nil); err != nil {
		t.Fatal(err)
	}
	// quota1 governs a's quota: a gets quota1's renewal rate, 0, even though
	// clearing leaves the root's 60 in place (renewal rates are never cleared).
	want := model.APILimit{Rate: 20, Per: 1, QuotaMax: 2, QuotaRenewalRate: 0, MaxQueryDepth: 7}
	if got := s.AccessRights["a"].Limit; got != want {
		t.Fatalf("limit of a = %+v, want %+v", got, want)
	}
	if s.Rate != 20 || s.QuotaMax != 2 || s.QuotaRenewalRate != 60 || s.MaxQueryDepth != 7 {
		t.Fatalf("root rate %v quota %v/%v depth %v; want 20, 2/60, 7", s.Rate, s.QuotaMax, s.QuotaRenewalRate, s.MaxQueryDepth)
	}
}

func TestApplyKeepsStoredQuotaRenews(t *testing.T) {
	store := loadStore(t)
	s := model.Session{
		ApplyPolicies: []string{"quota1"},
		AccessRights:  map[string]model.AccessDefinition{"a": {Limit: model.APILimit{QuotaMax: 2, QuotaRenews: 1700000000}}},
	}
	if err := policy.Apply(&s, store, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.AccessRights["a"].Limit.QuotaRenews; got != 1700000000 {
		t.Fatalf("quota_renews = %d, want the stored 1700000000", got)
	}
}

// A quota's renewal rate is merged on its own (Tyk quirk): 100 per 3600
// with 1000 per 60 gives 1000 per 3600.
func TestApplyQuotaRenewalMergedIndependently(t *testing.T) {
	part := model.PolicyPartitions{Acl: true, Quota: true}
	acl := map[string]model.AccessDefinition{"a": {}}
	store := policy.Map{
		"hourly": {Partitions: part, QuotaMax: 100, QuotaRenewalRate: 3600, AccessRights: acl},
		"minute": {Partitions: part, QuotaMax: 1000, QuotaRenewalRate: 60, AccessRights: acl},
	}
	s := model.Session{ApplyPolicies: []string{"hourly", "minute"}}
	if err := policy.Apply(&s, store, nil); err != nil {
		t.Fatal(err)
	}
	if l := s.AccessRights["a"].Limit; l.QuotaMax != 1000 || l.QuotaRenewalRate != 3600 {
		t.Fatalf("quota %d per %d, want 1000 per 3600", l.QuotaMax, l.QuotaRenewalRate)
	}
}

func TestApplyMergesMetaDataLastUpdatedAndSignatureFlags(t *testing.T) {
	acl := map[string]model.AccessDefinition{"a": {Versions: []string{"v1"}}}
	store := policy.Map{
		"first": {ID: "first", AccessRights: acl, LastUpdated: "1700000200", HMACEnabled: true,
			MetaData: map[string]model.RawValue{"tier": model.RawValue(`"gold"`), "team": model.RawValue(`"a"`)}},
		"second": {ID: "second", AccessRights: map[string]model.AccessDefinition{"a": {Versions: []string{"v2", "v1"}}},
			LastUpdated: "1700000100",
			MetaData:    map[string]model.RawValue{"tier": model.RawValue(`"silver"`)}},
	}
	before := snapshot(store)
	s := model.Session{ApplyPolicies: []string{"first", "second"}, LastUpdated: "1600000000",
		MetaData: map[string]model.RawValue{"own": model.RawValue(`1`), "tier": model.RawValue(`"none"`)}}
	if err := policy.Apply(&s, store, nil); err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]model.RawValue{"own": model.RawValue(`1`), "tier": model.RawValue(`"silver"`), "team": model.RawValue(`"a"`)}
	if !reflect.DeepEqual(s.MetaData, wantMeta) {
		t.Errorf("meta_data = %q, want %q", s.MetaData, wantMeta)
	}
	if s.LastUpdated != "1700000200" {
		t.Errorf("last_updated = %q, want the greatest, 1700000200", s.LastUpdated)
	}
	if !s.HMACEnabled || s.EnableHTTPSignatureValidation {
		t.Errorf("hmac %v, signature %v; want true, false", s.HMACEnabled, s.EnableHTTPSignatureValidation)
	}
	if got := s.AccessRights["a"].Versions; !reflect.DeepEqual(got, []string{"v1", "v2"}) {
		t.Errorf("versions = %q, want the union [v1 v2]", got)
	}
	// The session's meta_data values are copies: changing one leaves the store alone.
	s.MetaData["team"][1] = 'b'
	assertUnchanged(t, before, store)
}

// Tyk records only whether the *last* non-per-API policy was partitioned, so
// a non-partitioned policy between a partitioned and a per-API one lets the
// mix through. Reproduced, not fixed, so that keys behave as under Tyk.
func TestApplyMixQuirk(t *testing.T) {
	store := loadStore(t)
	s := model.Session{ApplyPolicies: []string{"rate1", "nonpart1", "per_api_with_api_d"}}
	if err := policy.Apply(&s, store, nil); err != nil {
		t.Fatalf("error %v, want the mix accepted as by Tyk", err)
	}
	if _, ok := s.AccessRights["d"]; !ok {
		t.Fatal("per-API policy not applied")
	}
}

func TestApplyBadInput(t *testing.T) {
	if err := policy.Apply(nil, policy.Map{}, nil); !errors.Is(err, policy.ErrNilSession) {
		t.Errorf("nil session: %v", err)
	}
	s := model.Session{ApplyPolicies: []string{"x"}}
	if err := policy.Apply(&s, nil, nil); !errors.Is(err, policy.ErrPolicyNotFound) {
		t.Errorf("nil store: %v", err)
	}
	s = model.Session{ApplyPolicies: []string{"x"}}
	if err := policy.Apply(&s, policy.Map{"x": nil}, nil); !errors.Is(err, policy.ErrPolicyNotFound) {
		t.Errorf("nil policy in store: %v", err)
	}
}
