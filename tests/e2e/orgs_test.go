package e2e

import (
	"net/http"
	"testing"
)

const msgOrgDisabled = "this organisation access has been disabled, please contact your API administrator"

func TestOrgSessions(t *testing.T) {
	e := newEnv(t, options{})
	e.mustAPI(http.MethodPost, "/tyk/org/keys/org2", `{"org_id":"org2","is_inactive":false}`)
	e.addAPI(apiDef("api1", ""))
	org2Key := e.createKey(`{"org_id":"org2","quota_max":-1,` + rights("api1") + `}`)
	org1Key := e.createKey(`{"org_id":"org1","quota_max":-1,` + rights("api1") + `}`)
	e.within(propagation, "/api1/x", org2Key, 200, "")

	v := e.mustAPI(http.MethodPut, "/tyk/org/keys/org2", `{"org_id":"org2","is_inactive":true}`)
	if v["action"] != "modified" {
		t.Fatalf("PUT org: %v", v)
	}
	d := e.within(propagation, "/api1/x", org2Key, 403, msgOrgDisabled)
	t.Logf("inactive org applied on every VM after %v", d)
	e.within(propagation, "/api1/x", org1Key, 200, "") // other orgs unaffected

	e.mustAPI(http.MethodPut, "/tyk/org/keys/org2", `{"org_id":"org2","is_inactive":false}`)
	e.within(propagation, "/api1/x", org2Key, 200, "")

	e.mustAPI(http.MethodPut, "/tyk/org/keys/org2", `{"org_id":"org2","is_inactive":true}`)
	e.within(propagation, "/api1/x", org2Key, 403, msgOrgDisabled)
	// Without an org session the check is skipped, as in Tyk.
	e.mustAPI(http.MethodDelete, "/tyk/org/keys/org2", "")
	e.within(propagation, "/api1/x", org2Key, 200, "")
	if err := apiError(e.api(http.MethodGet, "/tyk/org/keys/org2", ""), 404, "Org not found"); err != nil {
		t.Fatal(err)
	}
}
