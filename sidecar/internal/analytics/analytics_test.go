package analytics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
	"github.com/turnpike-dev/turnpike/tests/testenv"
	pumpmsgpack "gopkg.in/vmihailenco/msgpack.v2"
)

// pumpRecord mirrors Tyk Pump's analytics.AnalyticsRecord
// (github.com/TykTechnologies/tyk-pump, analytics/analytics.go): the same
// field names and Go types, decoded with the msgpack library and version
// Pump decodes the list with (gopkg.in/vmihailenco/msgpack.v2), so a
// record this test reads is a record Pump reads.
type pumpRecord struct {
	Method        string
	Host          string
	Path          string
	RawPath       string
	ContentLength int64
	UserAgent     string
	Day           int
	Month         time.Month
	Year          int
	Hour          int
	ResponseCode  int
	APIKey        string
	TimeStamp     time.Time
	APIVersion    string
	APIName       string
	APIID         string
	OrgID         string
	OauthID       string
	RequestTime   int64
	RawRequest    string
	RawResponse   string
	IPAddress     string
	Geo           struct {
		Country struct{ ISOCode string }
		City    struct {
			GeoNameID uint
			Names     map[string]string
		}
		Location struct {
			Latitude  float64
			Longitude float64
			TimeZone  string
		}
	}
	Network struct {
		OpenConnections  int64
		ClosedConnection int64
		BytesIn          int64
		BytesOut         int64
	}
	Latency struct {
		Total    int64
		Upstream int64
		Gateway  int64
	}
	Tags         []string
	Alias        string
	TrackPath    bool
	ExpireAt     time.Time
	ApiSchema    string //nolint:revive // Tyk's field name
	OriginalPath string
	ListenPath   string
	GraphQLStats struct {
		Variables     string
		RootFields    []string
		Types         map[string][]string
		Errors        []struct{ Message string }
		OperationType int
		HasErrors     bool
		IsGraphQL     bool
	}
	MCPStats struct {
		IsMCP         bool
		JSONRPCMethod string
		PrimitiveType string
		PrimitiveName string
	}
	CollectionName string
}

const hashA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// t0 is a minute start well inside an hour.
var t0 = time.Date(2026, 3, 4, 10, 20, 0, 0, time.UTC)

func rec(at time.Duration, api, key, outcome string, status int, policies ...string) wire.AnalyticsRecord {
	return wire.AnalyticsRecord{Time: t0.Add(at).UnixNano(), APIID: api, APIName: "API " + api, OrgID: "org1",
		ListenPath: "/" + api + "/", Method: "GET", Host: "example.com", Path: "/" + api + "/x", Status: status,
		Outcome: outcome, KeyHash: key, Policies: policies, TotalUS: 2500, UpstreamUS: 2000, ClientIP: "192.0.2.1",
		UserAgent: "ua/1", RequestBytes: 5, ResponseBytes: 7}
}

func newRedis(t *testing.T) redis.UniversalClient {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	c, err := store.Dial(r.URL(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func snapWith(docs map[string]string) func() *snapshot.Snapshot {
	apis := map[string]*model.APIDefinition{}
	raw := map[string][]byte{}
	for id, d := range docs {
		apis[id] = &model.APIDefinition{APIID: id}
		raw[id] = []byte(d)
	}
	s := snapshot.BuildDocs(nil, apis, raw, nil)
	return func() *snapshot.Snapshot { return s }
}

func TestTykRecordsDecodeAsPumpDoes(t *testing.T) {
	c := newRedis(t)
	ctx := context.Background()
	w := NewWriter(Options{Client: c, Timeout: time.Second, TykRecords: true, MinuteRetention: time.Hour,
		HourRetention: time.Hour, Snapshot: snapWith(map[string]string{
			"a":     `{"api_id":"a","expire_analytics_after":3600}`,
			"b":     `{"api_id":"b"}`,
			"quiet": `{"api_id":"quiet","do_not_track":true}`,
		})})
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	r := rec(1500*time.Millisecond, "a", hashA, "allowed", 200, "p1")
	r.Tags, r.Alias, r.OAuthID, r.APIVersion = []string{"gold"}, "alice", "client1", "v2"
	batch := &wire.AnalyticsBatch{VM: "vm1", Records: []wire.AnalyticsRecord{r,
		rec(0, "b", "", "missing_key", 401), rec(0, "quiet", "", "keyless", 200)}}
	if err := w.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	raw, err := c.LRange(ctx, TykListKey, 0, -1).Result()
	if err != nil || len(raw) != 2 {
		t.Fatalf("list %s: %d records, %v (do_not_track must drop one)", TykListKey, len(raw), err)
	}
	var got [2]pumpRecord
	for i := range raw {
		if err := pumpmsgpack.Unmarshal([]byte(raw[i]), &got[i]); err != nil {
			t.Fatalf("record %d: Pump's decoder: %v", i, err)
		}
	}
	a := got[0]
	ts := t0.Add(1500 * time.Millisecond)
	if a.Method != "GET" || a.Host != "example.com" || a.Path != "/a/x" || a.RawPath != "/a/x" ||
		a.ContentLength != 5 || a.UserAgent != "ua/1" || a.ResponseCode != 200 || a.APIKey != hashA ||
		a.APIVersion != "v2" || a.APIName != "API a" || a.APIID != "a" || a.OrgID != "org1" ||
		a.OauthID != "client1" || a.IPAddress != "192.0.2.1" || a.Alias != "alice" || a.ListenPath != "/a/" ||
		a.Day != 4 || a.Month != time.March || a.Year != 2026 || a.Hour != 10 || a.RequestTime != 2 ||
		a.Latency.Total != 2 || a.Latency.Upstream != 2 || a.Latency.Gateway != 0 ||
		a.Network.BytesIn != 5 || a.Network.BytesOut != 7 {
		t.Errorf("record: %+v", a)
	}
	if !a.TimeStamp.Equal(ts) || !a.ExpireAt.Equal(ts.Add(time.Hour)) {
		t.Errorf("timestamp %v, expireAt %v; want %v and an hour later (expire_analytics_after)", a.TimeStamp, a.ExpireAt, ts)
	}
	if strings.Join(a.Tags, " ") != "pol-p1 gold key-"+hashA+" org-org1 api-a" {
		t.Errorf("tags %q", a.Tags)
	}
	b := got[1]
	if b.ResponseCode != 401 || b.APIKey != "" || b.APIVersion != "Non Versioned" ||
		!b.ExpireAt.Equal(t0.Add(hundredYears)) {
		t.Errorf("second record: %+v", b)
	}
}

func TestAggregatesAndUsageAPI(t *testing.T) {
	c := newRedis(t)
	ctx := context.Background()
	w := NewWriter(Options{Client: c, Timeout: time.Second, MinuteRetention: time.Hour, HourRetention: 2 * time.Hour})
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Minute 0: three allowed (key A, two policies), one 429; minute 1:
	// one quota, one 401, one upstream 502.
	recs := []wire.AnalyticsRecord{
		rec(1*time.Second, "a", hashA, "allowed", 200, "p1", "p2"),
		rec(2*time.Second, "a", hashA, "allowed", 200, "p1", "p2"),
		rec(3*time.Second, "b", hashA, "allowed", 304, "p1", "p2"),
		rec(4*time.Second, "a", hashA, "rate_limited", 429, "p1", "p2"),
		rec(61*time.Second, "a", hashA, "quota_exceeded", 403, "p1", "p2"),
		rec(62*time.Second, "a", "", "missing_key", 401),
		rec(63*time.Second, "b", "", "keyless", 502),
	}
	recs[1].TotalUS = 9000
	// Two batches, as two VMs would send them: the sums add up.
	if err := w.Write(ctx, &wire.AnalyticsBatch{Records: recs[:3]}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, &wire.AnalyticsBatch{Records: recs[3:]}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, TykListKey).Result(); n != 0 {
		t.Error("Tyk records written with TykRecords off")
	}
	m0 := t0.Unix()
	h := HashKey(Minute, m0, "api", "a")
	if ttl := c.TTL(ctx, h).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL of %s: %v, want the minute retention", h, ttl)
	}
	if ttl := c.TTL(ctx, HashKey(Hour, bucketStart(Hour, t0), "all", "")).Val(); ttl <= time.Hour {
		t.Errorf("hour aggregate TTL %v, want the hour retention", ttl)
	}

	mux := http.NewServeMux()
	(&UsageAPI{Reader: &Reader{Client: c, Timeout: time.Second}, Secret: "s3cret",
		Now: func() time.Time { return t0.Add(5 * time.Minute) }}).Register(mux)
	get := func(path string, into any) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Tyk-Authorization", "s3cret")
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, req)
		if into != nil && rr.Code == 200 {
			if err := json.Unmarshal(rr.Body.Bytes(), into); err != nil {
				t.Fatal(err)
			}
		}
		return rr.Code
	}
	from := strconv.FormatInt(m0, 10)
	var series struct {
		Res    string
		Series []Point
	}
	if code := get("/turnpike/v1/usage?by=api&id=a&from="+from, &series); code != 200 || series.Res != "minute" {
		t.Fatalf("series: %d %+v", code, series)
	}
	if len(series.Series) != 6 { // minute 0 to 5, empty ones included
		t.Fatalf("%d points", len(series.Series))
	}
	want0 := map[string]int64{"requests": 3, DecAllowed: 2, Dec429: 1, "status_2xx": 2, "status_4xx": 1,
		"latency_sum_us": 14000, "latency_max_us": 9000, "upstream_sum_us": 6000, "upstream_max_us": 2000}
	want1 := map[string]int64{"requests": 2, DecQuota: 1, Dec401: 1, "status_4xx": 2,
		"latency_sum_us": 5000, "latency_max_us": 2500, "upstream_sum_us": 4000, "upstream_max_us": 2000}
	for i, want := range []map[string]int64{want0, want1, {}} {
		if got := series.Series[i].Values; !sameCounts(got, want) {
			t.Errorf("minute %d: %v, want %v", i, got, want)
		}
	}
	var all struct{ Series []Point }
	get("/turnpike/v1/usage?res=hour&from="+from, &all)
	if len(all.Series) != 1 || !sameCounts(all.Series[0].Values, map[string]int64{"requests": 7, DecAllowed: 3,
		Dec429: 1, DecQuota: 1, Dec401: 1, Dec5xx: 1, "status_2xx": 2, "status_3xx": 1, "status_4xx": 3, "status_5xx": 1,
		"latency_sum_us": 24000, "latency_max_us": 9000, "upstream_sum_us": 14000, "upstream_max_us": 2000}) {
		t.Errorf("hour total: %+v", all.Series)
	}
	var top struct{ Top []Entry }
	get("/turnpike/v1/usage/top?by=api&from="+from, &top)
	if len(top.Top) != 2 || top.Top[0].ID != "a" || top.Top[0].Values["requests"] != 5 ||
		top.Top[1].ID != "b" || top.Top[1].Values["requests"] != 2 {
		t.Errorf("top APIs: %+v", top.Top)
	}
	get("/turnpike/v1/usage/top?by=policy&sort=429&n=1&from="+from, &top)
	if len(top.Top) != 1 || top.Top[0].ID != "p1" || top.Top[0].Values[Dec429] != 1 || top.Top[0].Values["requests"] != 5 {
		t.Errorf("top policy by 429: %+v", top.Top)
	}
	get("/turnpike/v1/usage/top?by=key&from="+from, &top)
	if len(top.Top) != 1 || top.Top[0].ID != hashA || top.Top[0].Values["requests"] != 5 {
		t.Errorf("top keys: %+v", top.Top)
	}
	for path, code := range map[string]int{
		"/turnpike/v1/usage?by=colour":                                400,
		"/turnpike/v1/usage?res=day":                                  400,
		"/turnpike/v1/usage?from=100&to=50":                           400,
		"/turnpike/v1/usage?res=minute&from=0":                        400, // too many buckets
		"/turnpike/v1/usage/top?by=all":                               400,
		"/turnpike/v1/usage/top?by=api&sort=bogus":                    400,
		"/turnpike/v1/usage/top?by=api&n=0":                           400,
		"/turnpike/v1/usage?from=2026-03-04T10:20:00Z&by=org&id=org1": 200,
	} {
		if got := get(path, nil); got != code {
			t.Errorf("%s: %d, want %d", path, got, code)
		}
	}
	req := httptest.NewRequest("GET", "/turnpike/v1/usage", nil)
	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, req)
	if rr.Code != 403 {
		t.Errorf("without the secret: %d", rr.Code)
	}
}

// NOSCRIPT (Redis restarted, script cache gone) is recovered from within
// the same batch.
func TestScriptReloaded(t *testing.T) {
	c := newRedis(t)
	ctx := context.Background()
	w := NewWriter(Options{Client: c, Timeout: time.Second, MinuteRetention: time.Hour, HourRetention: time.Hour})
	if err := w.Write(ctx, &wire.AnalyticsBatch{Records: []wire.AnalyticsRecord{rec(0, "a", "", "keyless", 200)}}); err != nil {
		t.Fatal(err)
	}
	if got := c.HGet(ctx, HashKey(Minute, t0.Unix(), "all", ""), "requests").Val(); got != "1" {
		t.Fatalf("requests %q", got)
	}
}

func sameCounts(got, want map[string]int64) bool {
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// With FlushEvery, batches are gathered in memory and added at the flush:
// the sums are those of every batch.
func TestAggregatesGatheredUntilFlush(t *testing.T) {
	c := newRedis(t)
	ctx := context.Background()
	w := NewWriter(Options{Client: c, Timeout: time.Second, FlushEvery: time.Hour})
	for range 3 {
		if err := w.Write(ctx, &wire.AnalyticsBatch{Records: []wire.AnalyticsRecord{rec(0, "a", hashA, "allowed", 200)}}); err != nil {
			t.Fatal(err)
		}
	}
	key := HashKey(Minute, t0.Unix(), "api", "a")
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Fatal("aggregates written before the flush")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.HGetAll(ctx, key).Val(); got["requests"] != "3" || got["allowed"] != "3" || got["latency_max_us"] != "2500" {
		t.Fatalf("after the flush: %v", got)
	}
	if err := w.Flush(ctx); err != nil || c.HGet(ctx, key, "requests").Val() != "3" {
		t.Fatal("a second flush counted again")
	}
}
