package policy_test

import (
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// BenchmarkApply measures the per-request cost in the VM for a typical key:
// two partitioned policies (one grants ACL and rate, one the quota) on two
// APIs, applied to a freshly decoded session.
func BenchmarkApply(b *testing.B) {
	access := func() map[string]model.AccessDefinition {
		return map[string]model.AccessDefinition{
			"api-1": {APIName: "one", APIID: "api-1", Versions: []string{"Default"}},
			"api-2": {APIName: "two", APIID: "api-2", Versions: []string{"Default"}},
		}
	}
	store := policy.Map{
		"acl-rate": {ID: "acl-rate", OrgID: "org", Rate: 100, Per: 60, AccessRights: access(),
			Partitions: model.PolicyPartitions{Acl: true, RateLimit: true}},
		"quota": {ID: "quota", OrgID: "org", QuotaMax: 1000, QuotaRenewalRate: 3600, AccessRights: access(),
			Partitions: model.PolicyPartitions{Quota: true}},
	}
	org := "org"
	base := model.Session{
		OrgID:         "org",
		ApplyPolicies: []string{"acl-rate", "quota"},
		MetaData:      map[string]model.RawValue{},
		Tags:          []string{},
	}
	b.ReportAllocs()
	for b.Loop() {
		// A shallow copy is a fresh session here: Apply replaces rather than
		// modifies everything base shares (access rights, tags).
		s := base
		if err := policy.Apply(&s, store, &org); err != nil {
			b.Fatal(err)
		}
	}
}
