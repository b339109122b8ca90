package policy_test

import (
	"fmt"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// A key with two partitioned policies: "gold" grants access to two APIs with
// a rate limit, "quota" adds a monthly quota. The key's own rate is replaced
// because a policy governs the rate.
func ExampleApply() {
	store := policy.Map{
		"gold": {ID: "gold", Rate: 100, Per: 60,
			Partitions:   model.PolicyPartitions{Acl: true, RateLimit: true},
			AccessRights: map[string]model.AccessDefinition{"orders": {Versions: []string{"v1"}}, "users": {}}},
		"quota": {ID: "quota", QuotaMax: 10000, QuotaRenewalRate: 2592000,
			Partitions:   model.PolicyPartitions{Quota: true},
			AccessRights: map[string]model.AccessDefinition{"orders": {}, "users": {}}},
	}
	key := &model.Session{Rate: 1, Per: 1, ApplyPolicies: []string{"gold", "quota"}}

	if err := policy.Apply(key, store, nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("key: %v per %vs, quota %d per %ds\n", key.Rate, key.Per, key.QuotaMax, key.QuotaRenewalRate)
	for _, api := range []string{"orders", "users"} {
		l := key.AccessRights[api].Limit
		fmt.Printf("%s: versions %q, %v per %vs, quota %d\n", api, key.AccessRights[api].Versions, l.Rate, l.Per, l.QuotaMax)
	}

	key.ApplyPolicies = []string{"missing"}
	fmt.Println(policy.Apply(key, store, nil))
	// Output:
	// key: 100 per 60s, quota 10000 per 2592000s
	// orders: versions ["v1"], 100 per 60s, quota 10000
	// users: versions [], 100 per 60s, quota 10000
	// policy not found: "missing"
}
