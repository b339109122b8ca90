package access_test

import (
	"fmt"
	"time"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

func Example() {
	api := &model.APIDefinition{
		APIID:       "orders",
		Proxy:       model.Proxy{ListenPath: "/orders/"},
		VersionData: model.VersionData{NotVersioned: true},
	}
	// An effective session: policies already applied.
	session := &model.Session{
		Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600,
		AccessRights: map[string]model.AccessDefinition{
			"orders": {
				APIID:       "orders",
				AllowedURLs: []model.AccessSpec{{URL: "/orders/{id}", Methods: []string{"GET"}}},
				Endpoints: []model.Endpoint{{Path: "/{id}", Methods: []model.EndpointMethod{
					{Name: "GET", Limit: model.RateLimit{Rate: 2, Per: 1}},
				}}},
			},
		},
	}
	checker := access.NewChecker(access.Options{})
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

	for _, r := range []access.Request{
		{Method: "GET", Path: "/orders/42"},
		{Method: "DELETE", Path: "/orders/42"},
	} {
		if d := checker.Check(session, api, r, now); !d.Allowed() {
			fmt.Printf("%s %s: %d {\"error\": %q}\n", r.Method, r.Path, d.Status, d.Message)
			continue
		}
		limit, _ := checker.EffectiveLimit(session, api, r.Method, r.Path)
		fmt.Printf("%s %s: allowed; rate %v per %vs (endpoint counter %q), quota %d per %ds\n",
			r.Method, r.Path, limit.Rate, limit.Per, limit.EndpointKey, limit.QuotaMax, limit.QuotaRenewalRate)
	}
	// Output:
	// GET /orders/42: allowed; rate 2 per 1s (endpoint counter "90f4a5532a3681e3"), quota 1000 per 3600s
	// DELETE /orders/42: 403 {"error": "Access to this resource has been disallowed"}
}
