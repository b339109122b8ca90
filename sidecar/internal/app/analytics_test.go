package app

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// A batch posted to the Filter API is counted by the usage API, which
// takes the Gateway API secret, not the filter token; the console is
// served beside them.
func TestAnalyticsRoutes(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		s := start(t, redisURL)
		now := time.Now().UnixNano()
		batch := `{"vm":"vm1","dropped":2,"records":[` +
			`{"t":` + strconv.FormatInt(now, 10) + `,"status":200,"outcome":"allowed","api_id":"a1","org_id":"o1"},` +
			`{"t":` + strconv.FormatInt(now, 10) + `,"status":429,"outcome":"rate_limited","api_id":"a1","org_id":"o1"}]}`
		expect(t, "batch without the token", s.do("POST", "/turnpike/v1/analytics", batch), 403, "invalid filter token")
		expect(t, "malformed batch", s.filter("POST", "/turnpike/v1/analytics", `{"records":{}}`), 400, "malformed analytics batch")
		expect(t, "batch", s.filter("POST", "/turnpike/v1/analytics", batch), 200, "{}")

		expect(t, "usage with the filter token", s.filter("GET", "/turnpike/v1/usage", ""), 403, "invalid or missing key")
		// Aggregates reach Redis at the next flush (usageFlush).
		var r reply
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if r = s.tyk("GET", "/turnpike/v1/usage/top?by=api", ""); strings.Contains(string(r.body), `"id":"a1"`) ||
				time.Now().After(deadline) {
				break
			}
		}
		expect(t, "usage top", r, 200, `"id":"a1"`)
		if !strings.Contains(string(r.body), `"requests":2`) || !strings.Contains(string(r.body), `"429":1`) {
			t.Fatalf("top: %s", r.body)
		}
		expect(t, "console", s.do("GET", "/console/", ""), 200, "assets/app.js")
		expect(t, "metrics", s.do("GET", "/metrics", ""), 200, `turnpike_sidecar_analytics_records_total{result="dropped"} 2`)
	})
}
