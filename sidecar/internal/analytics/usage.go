package analytics

import (
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Usage aggregates: for each minute and each hour, one Redis hash of
// counters per dimension value, and per dimension a sorted set of the
// values seen in that bucket (scored by requests) for top-N questions.
//
//	turnpike:usage:{<res>:<bucket>:<dim>}:<id>   hash    Fields below
//	turnpike:usage:{<res>:<bucket>:<dim>}        zset    id -> requests
//
// res is "m" or "h", bucket the unix second the minute or hour starts, dim
// one of Dimensions ("all" has the one id ""). The braces are a Redis
// Cluster hash tag: a bucket's hashes and its index share a slot, so one
// script updates both. Keys expire after the retention of their
// resolution, counted from their last update.

// Dimensions a record is counted under. A request counts once per policy
// of its key.
var Dimensions = []string{"all", "api", "key", "org", "policy"}

// Resolutions of the aggregates.
const (
	Minute = "m"
	Hour   = "h"
)

// Decision classes, one per request: what the console charts.
const (
	DecAllowed = "allowed" // forwarded upstream (keyed or keyless)
	DecQuota   = "quota"   // quota exceeded (403 or 429)
	Dec401     = "401"
	Dec403     = "403"
	Dec429     = "429" // rate limits
	Dec5xx     = "5xx" // the filter's 503/500, or the upstream's 5xx
	DecOther   = "other"
)

// Fields of an aggregate hash. Latencies are microseconds.
var Fields = fieldNames[:]

// fieldNames are Fields in the order of the f* indexes (agg).
var fieldNames = [...]string{
	"requests",
	DecAllowed, DecQuota, Dec401, Dec403, Dec429, Dec5xx, DecOther,
	"status_2xx", "status_3xx", "status_4xx", "status_5xx",
	"latency_sum_us", "latency_max_us", "upstream_sum_us", "upstream_max_us",
}

// maxFields are kept as maxima, not sums.
var maxFields = map[string]bool{"latency_max_us": true, "upstream_max_us": true}

// Decision classifies a record. An upstream's 5xx is 5xx even though the
// filter let the request through.
func Decision(r *wire.AnalyticsRecord) string {
	switch {
	case r.Status >= 500:
		return Dec5xx
	case r.Outcome == "allowed" || r.Outcome == "keyless":
		return DecAllowed
	case r.Outcome == "quota_exceeded":
		return DecQuota
	case r.Status == 401:
		return Dec401
	case r.Status == 403:
		return Dec403
	case r.Status == 429:
		return Dec429
	}
	return DecOther
}

func statusClass(status int) string {
	if status >= 200 && status < 600 {
		return "status_" + strconv.Itoa(status/100) + "xx"
	}
	return ""
}

// bucketStart is the start of the minute or hour holding t.
func bucketStart(res string, t time.Time) int64 {
	step := int64(60)
	if res == Hour {
		step = 3600
	}
	s := t.Unix()
	return s - ((s%step)+step)%step
}

func resStep(res string) time.Duration {
	if res == Hour {
		return time.Hour
	}
	return time.Minute
}

func tag(res string, bucket int64, dim string) string {
	return "turnpike:usage:{" + res + ":" + strconv.FormatInt(bucket, 10) + ":" + dim + "}"
}

// HashKey is the aggregate of one dimension value in one bucket.
func HashKey(res string, bucket int64, dim, id string) string {
	return tag(res, bucket, dim) + ":" + id
}

// IndexKey is the sorted set of a dimension's values in one bucket.
func IndexKey(res string, bucket int64, dim string) string { return tag(res, bucket, dim) }

// aggKey names one aggregate hash.
type aggKey struct {
	res    string
	bucket int64
	dim    string
	id     string
}

// agg is what a batch adds to one aggregate hash: v[i] for Fields[i],
// the fields set in set (the ones the hash receives, even when 0: HINCRBY
// creates them). Arrays, not maps: aggregate runs for every record, in
// each of its hashes.
type agg struct {
	v   [len(fieldNames)]int64
	set uint32
}

// Indexes into Fields.
const (
	fRequests = iota
	fAllowed
	fQuota
	f401
	f403
	f429
	f5xx
	fOther
	f2xx
	f3xx
	f4xx
	f5xxStatus
	fLatencySum
	fLatencyMax
	fUpstreamSum
	fUpstreamMax
)

// add adds d to the sum of field f.
func (a *agg) add(f int, d int64) {
	a.v[f] += d
	a.set |= 1 << f
}

// max raises the maximum of field f to v.
func (a *agg) max(f int, v int64) {
	a.v[f] = max(a.v[f], v)
	a.set |= 1 << f
}

// decisionField is the field counting a decision class (Decision).
var decisionField = map[string]int{
	DecAllowed: fAllowed, DecQuota: fQuota, Dec401: f401, Dec403: f403, Dec429: f429, Dec5xx: f5xx, DecOther: fOther,
}

// statusField is the field counting status's class, -1 for none.
func statusField(status int) int {
	if status >= 200 && status < 600 {
		return f2xx + status/100 - 2
	}
	return -1
}

// aggregate adds records to out, grouped by aggregate hash.
func aggregate(out map[aggKey]*agg, recs []wire.AnalyticsRecord) {
	ids := make([][2]string, 0, 8)
	for i := range recs {
		r := &recs[i]
		t := time.Unix(0, r.Time)
		dec := decisionField[Decision(r)]
		class := statusField(r.Status)
		ids = append(ids[:0], [2]string{"all", ""}, [2]string{"api", r.APIID}, [2]string{"org", r.OrgID})
		if r.KeyHash != "" {
			ids = append(ids, [2]string{"key", r.KeyHash})
		}
		for _, p := range r.Policies {
			ids = append(ids, [2]string{"policy", p})
		}
		for _, res := range [...]string{Minute, Hour} {
			b := bucketStart(res, t)
			for _, d := range ids {
				if d[0] != "all" && d[1] == "" {
					continue
				}
				k := aggKey{res, b, d[0], d[1]}
				a := out[k]
				if a == nil {
					a = &agg{}
					out[k] = a
				}
				a.add(fRequests, 1)
				a.add(dec, 1)
				if class >= 0 {
					a.add(class, 1)
				}
				a.add(fLatencySum, r.TotalUS)
				a.add(fUpstreamSum, r.UpstreamUS)
				a.max(fLatencyMax, r.TotalUS)
				a.max(fUpstreamMax, r.UpstreamUS)
			}
		}
	}
}

// updateScript adds one batch's part to one aggregate hash and its index.
// KEYS: hash, index. ARGV: ttl seconds, id, requests, number of sums, the
// sums as field/value pairs, then the maxima as field/value pairs.
const updateScript = `
local n = tonumber(ARGV[4])
local i = 5
for _ = 1, n do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i+1])
  i = i + 2
end
while i < #ARGV do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i+1]) > cur then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  end
  i = i + 2
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZINCRBY', KEYS[2], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
`
