package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	pumpmsgpack "gopkg.in/vmihailenco/msgpack.v2"
)

// pumpRecord is the part of Tyk Pump's analytics.AnalyticsRecord this test
// checks, decoded as Pump decodes it (msgpack.v2, fields by Go name; the
// full mirror is in sidecar/internal/analytics).
type pumpRecord struct {
	Method       string
	Path         string
	ResponseCode int
	APIKey       string
	APIID        string
	APIName      string
	OrgID        string
	TimeStamp    time.Time
	ExpireAt     time.Time
	Alias        string
	Tags         []string
	Latency      struct{ Total, Upstream, Gateway int64 }
}

// Requests through the gateway become Tyk records on Tyk's list, with
// expireAt from the API's expire_analytics_after, and usage aggregates
// that count exactly the requests sent; an API with do_not_track is not
// recorded.
func TestAnalyticsEndToEnd(t *testing.T) {
	e := newEnv(t, options{plugin: `,"analytics":{"enabled":true}`, sidecarArgs: []string{"--tyk-analytics"}})
	rdb := e.redis.Client()
	ctx := context.Background()

	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"pol-a","org_id":"org1","active":true,"quota_max":-1,`+
		rights("tracked")+`}`)
	e.addAPI(apiDef("tracked", `,"expire_analytics_after":600`))
	e.addAPI(apiDef("quiet", `,"do_not_track":true`))
	key := e.createKey(`{"org_id":"org1","apply_policies":["pol-a"],"alias":"alice"}`)
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:])

	// The set-up's probes are recorded too: let them land (a tick, then
	// the sidecar's once-a-second aggregate flush), then start from an
	// empty list and a known aggregate.
	var before map[string]int64
	e.eventually(10*time.Second, "the set-up's records settled", func() error {
		first := e.usageTotal("api", "tracked")
		time.Sleep(1500 * time.Millisecond)
		before = e.usageTotal("api", "tracked")
		if first["requests"] == 0 || first["requests"] != before["requests"] {
			return fmt.Errorf("aggregate moved from %d to %d requests", first["requests"], before["requests"])
		}
		return nil
	})
	rdb.Del(ctx, "analytics-tyk-system-analytics")

	start := time.Now()
	for range 5 {
		e.expect("/tracked/items", key, 200, "")
	}
	e.expect("/tracked/items", "", 401, "Authorization field missing")
	e.expect("/tracked/items", "", 401, "Authorization field missing")
	e.expect("/tracked/items", "not-a-key-at-all", 403, "Access to this API has been disallowed")
	for range 3 {
		e.expect("/quiet/items", "", 401, "Authorization field missing")
	}

	var raw []string
	e.eventually(5*time.Second, "8 records on Tyk's list", func() error {
		raw = rdb.LRange(ctx, "analytics-tyk-system-analytics", 0, -1).Val()
		if len(raw) != 8 {
			return fmt.Errorf("%d records", len(raw))
		}
		return nil
	})
	codes := map[int]int{}
	for i, r := range raw {
		var rec pumpRecord
		if err := pumpmsgpack.Unmarshal([]byte(r), &rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		codes[rec.ResponseCode]++
		if rec.APIID != "tracked" || rec.APIName != "tracked" || rec.OrgID != "org1" || rec.Method != "GET" ||
			rec.Path != "/tracked/items" {
			t.Errorf("record %d: %+v", i, rec)
		}
		if rec.TimeStamp.Before(start.Add(-time.Second)) || rec.TimeStamp.After(time.Now()) {
			t.Errorf("record %d: timestamp %v", i, rec.TimeStamp)
		}
		if d := rec.ExpireAt.Sub(rec.TimeStamp); d != 600*time.Second {
			t.Errorf("record %d: expireAt %v after the timestamp, want 600 s (expire_analytics_after)", i, d)
		}
		if rec.ResponseCode == 200 && (rec.APIKey != hash || rec.Alias != "alice" || rec.Tags[0] != "pol-pol-a") {
			t.Errorf("record %d: key %q alias %q tags %v; want the key's hash, never the key", i, rec.APIKey, rec.Alias, rec.Tags)
		}
		if rec.APIKey == key {
			t.Fatal("the raw key is in a record")
		}
	}
	if codes[200] != 5 || codes[401] != 2 || codes[403] != 1 {
		t.Errorf("response codes %v, want 5 x 200, 2 x 401, 1 x 403", codes)
	}

	e.eventually(5*time.Second, "aggregates", func() error {
		after := e.usageTotal("api", "tracked")
		for f, want := range map[string]int64{"requests": 8, "allowed": 5, "401": 2, "403": 1, "status_2xx": 5} {
			if got := after[f] - before[f]; got != want {
				return fmt.Errorf("%s: %d more, want %d (before %v, after %v)", f, got, want, before, after)
			}
		}
		return nil
	})
	if byKey := e.usageTotal("key", hash); byKey["requests"] != 5 || byKey["allowed"] != 5 {
		t.Errorf("key aggregate %v", byKey)
	}
	if byPolicy := e.usageTotal("policy", "pol-a"); byPolicy["requests"] != 5 {
		t.Errorf("policy aggregate %v", byPolicy)
	}
	if quiet := e.usageTotal("api", "quiet"); quiet["requests"] != 0 {
		t.Errorf("do_not_track API aggregated: %v", quiet)
	}
}

// usageTotal sums the hourly usage series of one dimension value over the
// last two hours, read through the usage API of replica 1.
func (e *env) usageTotal(by, id string) map[string]int64 {
	e.t.Helper()
	from := strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10)
	r := e.api(http.MethodGet, "/turnpike/v1/usage?res=hour&by="+by+"&id="+id+"&from="+from, "")
	if r.status != 200 {
		e.t.Fatalf("usage: %s", r)
	}
	var v struct {
		Series []struct {
			Values map[string]int64
		}
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		e.t.Fatal(err)
	}
	total := map[string]int64{}
	for _, p := range v.Series {
		for f, n := range p.Values {
			total[f] += n
		}
	}
	return total
}
