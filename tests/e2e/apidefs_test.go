package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// An API definition is kept as sent: fields Turnpike does not model come
// back from GET, and the filter, which decodes the stored document, still
// enforces the ones it does.
func TestAPIDefinitionKeptAsSent(t *testing.T) {
	e := newEnv(t, options{})
	extra := `,"tags":["edge"],"enable_context_vars":true,"config_data":{"team":"payments","limits":[1,2.50]},` +
		`"auth_configs":{"authToken":{"auth_header_name":"Authorization"}}`
	e.addAPI(apiDef("kept", extra))
	key := e.createKey(`{"org_id":"org1",` + rights("kept") + `}`)
	e.expect("/kept/x", key, 200, "")
	r := e.api(http.MethodGet, "/tyk/apis/kept", "")
	if r.status != 200 || !strings.Contains(r.body, `"config_data":{"team":"payments","limits":[1,2.50]}`) ||
		!strings.Contains(r.body, `"tags":["edge"]`) {
		t.Fatalf("GET /tyk/apis/kept: %s", r)
	}
	// An auth method Turnpike does not run is refused, not stored and ignored.
	if err := apiError(e.api(http.MethodPut, "/tyk/apis/kept", apiDef("kept", `,"use_go_plugin_auth":true`)), 400,
		`API definition refused: "use_go_plugin_auth": Turnpike does not run Go plugins and never will: access is decided in a WebAssembly filter`); err != nil {
		t.Fatal(err)
	}
	e.expect("/kept/x", key, 200, "")
}

// A policy with "active": false is not loaded: the filters deny its keys as
// with a deleted policy, and reactivating it restores them.
func TestInactivePolicyEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	e.addAPI(apiDef("api1", ""))
	pol := func(active string) string {
		return `{"id":"toggle","org_id":"org1"` + active + `,"quota_max":-1,` + rights("api1") + `}`
	}
	e.mustAPI(http.MethodPost, "/tyk/policies", pol("")) // no "active": active
	key := e.createKey(`{"org_id":"org1","apply_policies":["toggle"]}`)
	e.within(propagation, "/api1/x", key, 200, "")
	e.mustAPI(http.MethodPut, "/tyk/policies/toggle", pol(`,"active":false`))
	e.within(propagation, "/api1/x", key, 403, "Access to this API has been disallowed")
	e.mustAPI(http.MethodPut, "/tyk/policies/toggle", pol(`,"active":true`))
	e.within(propagation, "/api1/x", key, 200, "")
}
