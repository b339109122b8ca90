package e2e

import (
	"net/http"
	"strconv"
	"testing"
)

// TestWritesAreInForceForTheNextRequest: a provisioning script creates an
// API, a policy and a key through one sidecar replica and calls the API at
// once through a 4-VM gateway whose filters read the other replica. Every
// first request must be decided by what was just written: the API is
// found, the policy applies (rate 1: the second request is refused), never
// a 404 or 403 from a configuration the VM polled before the writes.
func TestWritesAreInForceForTheNextRequest(t *testing.T) {
	e := newEnv(t, options{plugin: `,"unmatched":"reject"`})
	const rounds = 50
	ok := 0
	for i := range rounds {
		id := "fresh" + strconv.Itoa(i)
		e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"`+id+`-pol","org_id":"org1","active":true,`+
			`"rate":1,"per":60,"quota_max":-1,`+rights(id)+`}`)
		e.mustAPI(http.MethodPost, "/tyk/apis", apiDef(id, ""))
		key := e.createKey(`{"org_id":"org1","apply_policies":["` + id + `-pol"]}`)
		first := e.get("/"+id+"/x", key)
		second := e.get("/"+id+"/x", key)
		if err := first.is(200, ""); err != nil {
			t.Errorf("round %d, first request: %v", i, err)
			continue
		}
		if err := second.is(429, "Rate Limit Exceeded"); err != nil {
			t.Errorf("round %d, second request (the policy's rate 1 per 60 s): %v", i, err)
			continue
		}
		ok++
	}
	t.Logf("%d of %d rounds answered as configured on the first request", ok, rounds)
}
