package e2e

import (
	"net/http"
	"testing"
)

func TestPolicies(t *testing.T) {
	e := newEnv(t, options{})
	for _, p := range []string{
		`{"id":"mono","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":5,"quota_renewal_rate":3600,` + rights("api1") + `}`,
		// Partitioned: access from one policy, rate from another, quota from
		// a third. The rate and quota policies also name api2, which no ACL
		// grants: partitions never grant access.
		`{"id":"p-acl","org_id":"org1","active":true,"rate":1000,"per":1,"quota_max":-1,"partitions":{"acl":true},` + rights("api1") + `}`,
		`{"id":"p-rate","org_id":"org1","active":true,"rate":3,"per":60,"partitions":{"rate_limit":true},` + rights("api1", "api2") + `}`,
		`{"id":"p-quota","org_id":"org1","active":true,"quota_max":2,"quota_renewal_rate":3600,"partitions":{"quota":true},` + rights("api1", "api2") + `}`,
		// Per-API limits: each API its own limit and counter.
		`{"id":"per-api","org_id":"org1","active":true,"partitions":{"per_api":true},"access_rights":{
			"api1":{"api_id":"api1","versions":["Default"],"limit":{"rate":2,"per":60,"quota_max":-1}},
			"api2":{"api_id":"api2","versions":["Default"],"limit":{"rate":4,"per":60,"quota_max":-1}}}}`,
		// One policy for two APIs: one shared counter.
		`{"id":"shared","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":-1,` + rights("api1", "api2") + `}`,
		// Two policies for two APIs: each API counted apart (allowance_scope).
		`{"id":"only-api1","org_id":"org1","active":true,"rate":2,"per":60,"quota_max":-1,` + rights("api1") + `}`,
		`{"id":"only-api2","org_id":"org1","active":true,"rate":2,"per":60,"quota_max":-1,` + rights("api2") + `}`,
		`{"id":"editable","org_id":"org1","active":true,"quota_max":-1,` + rights("api1") + `}`,
	} {
		e.mustAPI(http.MethodPost, "/tyk/policies", p)
	}
	e.addAPI(apiDef("api1", ""))
	e.addAPI(apiDef("api2", ""))

	t.Run("monolithic", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["mono"]}`)
		if got := e.statuses(4, "/api1/x", key); !equal(got, 200, 200, 200, 429) {
			t.Fatalf("statuses %v, want 3 x 200 then 429 (rate 3 per 60)", got)
		}
		s := e.getKey(key)
		if num(t, s, "rate") != 3 || num(t, s, "per") != 60 || num(t, s, "quota_max") != 5 || num(t, s, "quota_remaining") != 2 {
			t.Fatalf("session rate %v per %v quota_max %v quota_remaining %v; want 3, 60, 5, 2",
				s["rate"], s["per"], s["quota_max"], s["quota_remaining"])
		}
	})

	t.Run("partitioned", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["p-acl","p-rate","p-quota"]}`)
		// Quota 2 stops the 3rd request (which still spent a rate token);
		// rate 3 stops the 4th.
		e.expect("/api1/x", key, 200, "")
		e.expect("/api1/x", key, 200, "")
		e.expect("/api1/x", key, 403, "Quota exceeded")
		e.expect("/api1/x", key, 429, "Rate Limit Exceeded")
		e.expect("/api2/x", key, 403, "Access to this API has been disallowed")
	})

	t.Run("per-API limits", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["per-api"]}`)
		if got := e.statuses(3, "/api1/x", key); !equal(got, 200, 200, 429) {
			t.Fatalf("api1 statuses %v, want rate 2: 200 200 429", got)
		}
		if got := e.statuses(5, "/api2/x", key); !equal(got, 200, 200, 200, 200, 429) {
			t.Fatalf("api2 statuses %v, want rate 4 on its own counter: 4 x 200 then 429", got)
		}
	})

	t.Run("one policy, two APIs: shared counter", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["shared"]}`)
		got := append(e.statuses(2, "/api1/x", key), e.statuses(2, "/api2/x", key)...)
		if !equal(got, 200, 200, 200, 429) {
			t.Fatalf("statuses api1, api1, api2, api2 = %v; want one counter of 3", got)
		}
	})

	t.Run("two policies, two APIs: separate counters", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["only-api1","only-api2"]}`)
		got := append(e.statuses(3, "/api1/x", key), e.statuses(3, "/api2/x", key)...)
		if !equal(got, 200, 200, 429, 200, 200, 429) {
			t.Fatalf("statuses 3 x api1, 3 x api2 = %v; want rate 2 counted per API", got)
		}
		s := e.getKey(key)
		ar, _ := s["access_rights"].(map[string]any)
		for _, api := range []string{"api1", "api2"} {
			entry, _ := ar[api].(map[string]any)
			if want := "only-" + api; entry["allowance_scope"] != want {
				t.Errorf("%s allowance_scope %v, want %q", api, entry["allowance_scope"], want)
			}
		}
	})

	t.Run("allowed_urls with methods", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","quota_max":-1,"access_rights":{"api1":{"api_id":"api1","versions":["Default"],
			"allowed_urls":[{"url":"^/api1/items(/[0-9]+)?$","methods":["GET"]},{"url":"^/api1/orders$","methods":["POST"]}]}}}`)
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/api1/items", 200},
			{"GET", "/api1/items/42", 200},
			{"DELETE", "/api1/items/42", 403},
			{"GET", "/api1/items/abc", 403},
			{"POST", "/api1/orders", 200},
			{"GET", "/api1/orders", 403},
			{"GET", "/api1/other", 403},
		} {
			r, err := e.try(c.method, c.path, nil, key)
			if err != nil {
				t.Fatal(err)
			}
			msg := ""
			if c.status == 403 {
				msg = "Access to this resource has been disallowed"
			}
			if err := r.is(c.status, msg); err != nil {
				t.Errorf("%s %s: %v", c.method, c.path, err)
			}
		}
	})

	t.Run("versions", func(t *testing.T) {
		e.addVersionedAPI(`{"api_id":"vapi","name":"vapi","org_id":"org1","active":true,
			"proxy":{"listen_path":"/vapi/"},"definition":{"location":"header","key":"x-api-version"},
			"version_data":{"not_versioned":false,"versions":{"v1":{"name":"v1"},"v2":{"name":"v2"}}}}`, "/vapi/")
		key := e.createKey(`{"org_id":"org1","quota_max":-1,"access_rights":{"vapi":{"api_id":"vapi","versions":["v1"]}}}`)
		for _, c := range []struct {
			version string
			status  int
			msg     string
		}{
			{"v1", 200, ""},
			{"v2", 403, "Access to this API has been disallowed"},
			{"v9", 403, "This API version does not seem to exist"},
			{"", 403, "Version information not found"},
		} {
			h := http.Header{}
			if c.version != "" {
				h.Set("X-Api-Version", c.version)
			}
			r, err := e.try("GET", "/vapi/x", h, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.is(c.status, c.msg); err != nil {
				t.Errorf("version %q: %v", c.version, err)
			}
		}
	})

	t.Run("edited policy applies without touching keys", func(t *testing.T) {
		key := e.createKey(`{"org_id":"org1","apply_policies":["editable"]}`)
		e.within(propagation, "/api1/x", key, 200, "")
		e.expect("/api2/x", key, 403, "Access to this API has been disallowed")
		e.mustAPI(http.MethodPut, "/tyk/policies/editable",
			`{"id":"editable","org_id":"org1","active":true,"quota_max":-1,`+rights("api1", "api2")+`}`)
		d := e.within(propagation, "/api2/x", key, 200, "")
		t.Logf("policy edit applied on every VM after %v", d)

		e.mustAPI(http.MethodDelete, "/tyk/policies/editable", "")
		d = e.within(propagation, "/api1/x", key, 403, "Access to this API has been disallowed")
		t.Logf("policy deletion applied on every VM after %v", d)
		if err := apiError(e.api(http.MethodGet, "/tyk/policies/editable", ""), 404, "Policy not found"); err != nil {
			t.Fatal(err)
		}
	})
}
