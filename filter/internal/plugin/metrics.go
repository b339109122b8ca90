package plugin

import "github.com/turnpike-dev/turnpike/filter/proxywasm"

// Outcomes of a request, the suffix of its turnpike.decision.<outcome>
// counter.
const (
	outAllowed        = "allowed"          // authorized and forwarded
	outKeyless        = "keyless"          // API with use_keyless_access: forwarded without a key
	outUnmatched      = "unmatched"        // no API matched; forwarded (unmatched: pass)
	outNoAPI          = "no_api"           // no API matched; 404 (unmatched: reject)
	outMissingKey     = "missing_key"      // 401 Authorization field missing
	outKeyNotFound    = "key_not_found"    // 403 unknown, malformed or too short key
	outRateLimited    = "rate_limited"     // 429 key rate limit
	outAPIRateLimited = "api_rate_limited" // 429 API-wide global_rate_limit
	outQuotaExceeded  = "quota_exceeded"   // 403/429 quota
	outUnavailable    = "unavailable"      // 503, sidecar unreachable and nothing cached
	outInternal       = "internal_error"   // 500
	// Other denials use the access.Reason name: key_inactive, key_expired,
	// api_disallowed, version_disallowed, resource_disallowed,
	// version_not_found, version_does_not_exist, version_expired,
	// org_inactive.
)

// Sidecar call kinds, the suffix of turnpike.sidecar.calls.<kind> and
// turnpike.sidecar.failures.<kind>.
const (
	callLookup = "lookup"
	callQuota  = "quota"
	callSync   = "sync"
)

// metrics are this VM's counters, defined with proxy_define_metric. Envoy
// sums counters of the same name across its worker VMs.
type metrics struct {
	decisions map[string]proxywasm.MetricCounter
	calls     map[string]proxywasm.MetricCounter
	failures  map[string]proxywasm.MetricCounter

	cacheHit      proxywasm.MetricCounter // per-VM cache
	cacheShared   proxywasm.MetricCounter // found in shared data (another VM fetched it)
	cacheMiss     proxywasm.MetricCounter // sidecar lookup needed
	cacheNegative proxywasm.MetricCounter // unknown key answered from the negative cache
	cacheStale    proxywasm.MetricCounter // stale session used because the sidecar failed
	quotaLocal    proxywasm.MetricCounter // quota counted locally (open failure mode)
	evictions     proxywasm.MetricCounter // sessions evicted by the sync feed
	snapshots     proxywasm.MetricCounter // snapshots applied
}

func newMetrics() *metrics {
	m := &metrics{
		decisions: map[string]proxywasm.MetricCounter{},
		calls:     map[string]proxywasm.MetricCounter{},
		failures:  map[string]proxywasm.MetricCounter{},

		cacheHit:      proxywasm.DefineCounterMetric("turnpike.cache.hits"),
		cacheShared:   proxywasm.DefineCounterMetric("turnpike.cache.shared_hits"),
		cacheMiss:     proxywasm.DefineCounterMetric("turnpike.cache.misses"),
		cacheNegative: proxywasm.DefineCounterMetric("turnpike.cache.negative_hits"),
		cacheStale:    proxywasm.DefineCounterMetric("turnpike.cache.stale_hits"),
		quotaLocal:    proxywasm.DefineCounterMetric("turnpike.quota.local"),
		evictions:     proxywasm.DefineCounterMetric("turnpike.sync.evictions"),
		snapshots:     proxywasm.DefineCounterMetric("turnpike.sync.snapshots"),
	}
	for _, k := range []string{callLookup, callQuota, callSync} {
		m.calls[k] = proxywasm.DefineCounterMetric("turnpike.sidecar.calls." + k)
		m.failures[k] = proxywasm.DefineCounterMetric("turnpike.sidecar.failures." + k)
	}
	return m
}

// decision counts one request outcome. Counters are defined on first use,
// so the set of outcomes needs no second list to keep in sync.
func (m *metrics) decision(outcome string) {
	c, ok := m.decisions[outcome]
	if !ok {
		c = proxywasm.DefineCounterMetric("turnpike.decision." + outcome)
		m.decisions[outcome] = c
	}
	c.Increment(1)
}
