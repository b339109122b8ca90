package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Batch requests through turnpike-gateway: the batch needs no key, each
// sub-request is decided with its own key and counts against its quota,
// denied ones carry their status and error body, allowed ones reach the
// upstream through the cluster the plugin configuration names.
func TestBatchEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	gw := e.extraGateway(`,"batch":{"upstream_clusters":{"batched":"upstream"},"max_requests":10}`)
	e.addAPI(apiDef("batched", `,"enable_batch_request_support":true`))
	key := e.createKey(`{"org_id":"org1","quota_max":3,"quota_renewal_rate":3600,` + rights("batched") + `}`)
	e.getFrom(gw, "/batched/warm", "") // wait until gw2 has the API
	e.eventually(propagation, "gateway2 has the API", func() error {
		return e.getFrom(gw, "/batched/x", "").is(401, "Authorization field missing")
	})

	item := func(url, k string) string {
		return `{"method":"GET","relative_url":"` + url + `","headers":{"Authorization":"` + k + `","X-Tyk-Test":"1"},"body":""}`
	}
	body := `{"requests":[` + strings.Join([]string{
		item("get?n=1", key), item("get?n=2", key), item("get?n=3", key), item("get?n=4", key), // quota 3
		item("get", "not-a-key"), item("../../elsewhere", key),
	}, ",") + `],"suppress_parallel_execution":true}`
	req, _ := http.NewRequest(http.MethodPost, gw+"/batched/tyk/batch/", strings.NewReader(body))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []struct {
		RelativeURL string              `json:"relative_url"`
		Code        int                 `json:"code"`
		Headers     map[string][]string `json:"headers"`
		Body        string              `json:"body"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got) != 6 {
		t.Fatalf("batch answer %d %v %+v", resp.StatusCode, err, got)
	}
	codes := []int{200, 200, 200, 403, 403, 400}
	for i, c := range codes {
		if got[i].Code != c {
			t.Errorf("sub-request %d (%s): %d %s, want %d", i, got[i].RelativeURL, got[i].Code, got[i].Body, c)
		}
	}
	var echoed struct {
		Path    string
		Query   string
		Headers http.Header
	}
	if err := json.Unmarshal([]byte(got[0].Body), &echoed); err != nil || echoed.Path != "/batched/get" ||
		echoed.Query != "n=1" || echoed.Headers.Get("X-Tyk-Test") != "1" {
		t.Errorf("upstream saw %+v (%v): %q", echoed, err, got[0].Body)
	}
	if got[3].Body != tykError("Quota exceeded") || got[4].Body != tykError("Access to this API has been disallowed") {
		t.Errorf("denials: %q, %q", got[3].Body, got[4].Body)
	}
	// Three units spent: the key's quota is gone for ordinary requests too.
	if k := e.getKey(key); num(t, k, "quota_remaining") != 0 {
		t.Errorf("quota_remaining %d after the batch, want 0", num(t, k, "quota_remaining"))
	}
	if r := e.getFrom(gw, "/batched/get", key); r.is(403, "Quota exceeded") != nil {
		t.Errorf("after the batch: %s", r)
	}
}
