package plugin

import (
	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
)

// Outcomes of a request, the suffix of its turnpike.decision.<outcome>
// counter.
const (
	outAllowed        = "allowed"           // authorized and forwarded
	outKeyless        = "keyless"           // API with use_keyless_access: forwarded without a key
	outUnmatched      = "unmatched"         // no API matched; forwarded (unmatched: pass)
	outNoAPI          = "no_api"            // no API matched; 404 (unmatched: reject)
	outBadPath        = "bad_path"          // 400: the path cannot be normalized safely
	outMissingKey     = auth.OutMissingKey  // 401 Authorization field missing
	outKeyNotFound    = auth.OutKeyNotFound // 403 unknown, malformed or too short key
	outRateLimited    = "rate_limited"      // 429 key rate limit
	outAPIRateLimited = "api_rate_limited"  // 429 API-wide global_rate_limit
	outQuotaExceeded  = "quota_exceeded"    // 403/429 quota
	outUnavailable    = "unavailable"       // 503, sidecar unreachable and nothing cached
	outInternal       = "internal_error"    // 500
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
	// callRelease gives unspent units of a quota lease back.
	callRelease = "release"
)

// counter is a host counter (proxy_define_metric) whose increments are
// gathered in the VM and added to the host's value by flush, once per tick.
// Every proxy_increment_metric is a crossing of the wasm boundary, and a
// warm request counts twice (cache hit, outcome): batching takes two host
// calls off each request for a delay of at most one tick in what the host
// reports.
type counter struct {
	host    host.Host
	id      uint32
	pending uint64
}

func newCounter(h host.Host, name string) *counter {
	return &counter{host: h, id: h.Counter(name)}
}

// Increment counts n now; the host sees it at the next flush.
func (c *counter) Increment(n uint64) { c.pending += n }

func (c *counter) flush() {
	if c.pending != 0 {
		c.host.AddCounter(c.id, c.pending)
		c.pending = 0
	}
}

// metrics are this VM's counters. Envoy sums counters of the same name
// across its worker VMs.
type metrics struct {
	host      host.Host
	decisions map[string]*counter
	// last is the outcome counted last and its counter: a run of requests
	// mostly ends the same way, and comparing the (constant) outcome
	// string is cheaper in the VM than hashing it for the map.
	last        string
	lastCounter *counter
	calls       map[string]*counter
	failures    map[string]*counter

	cacheHit      *counter // per-VM cache
	cacheShared   *counter // found in shared data (another VM fetched it)
	cacheMiss     *counter // sidecar lookup needed
	cacheNegative *counter // unknown key answered from the negative cache
	cacheStale    *counter // stale session used because the sidecar failed
	quotaLocal    *counter // quota counted locally (open failure mode)
	evictions     *counter // sessions evicted by the sync feed
	snapshots     *counter // snapshots applied

	// all lists every counter, in definition order, for flush.
	all []*counter
}

func newMetrics(h host.Host) *metrics {
	m := &metrics{
		host:      h,
		decisions: map[string]*counter{},
		calls:     map[string]*counter{},
		failures:  map[string]*counter{},
	}
	def := func(name string) *counter {
		c := newCounter(h, name)
		m.all = append(m.all, c)
		return c
	}
	m.cacheHit = def("turnpike.cache.hits")
	m.cacheShared = def("turnpike.cache.shared_hits")
	m.cacheMiss = def("turnpike.cache.misses")
	m.cacheNegative = def("turnpike.cache.negative_hits")
	m.cacheStale = def("turnpike.cache.stale_hits")
	m.quotaLocal = def("turnpike.quota.local")
	m.evictions = def("turnpike.sync.evictions")
	m.snapshots = def("turnpike.sync.snapshots")
	for _, k := range []string{callLookup, callQuota, callSync, callJWTSession, callRelease} {
		m.calls[k] = def("turnpike.sidecar.calls." + k)
		m.failures[k] = def("turnpike.sidecar.failures." + k)
	}
	return m
}

// decision counts one request outcome. Counters are defined on first use,
// so the set of outcomes needs no second list to keep in sync.
func (m *metrics) decision(outcome string) {
	if m.lastCounter != nil && outcome == m.last {
		m.lastCounter.Increment(1)
		return
	}
	c, ok := m.decisions[outcome]
	if !ok {
		c = newCounter(m.host, "turnpike.decision."+outcome)
		m.decisions[outcome] = c
		m.all = append(m.all, c)
	}
	m.last, m.lastCounter = outcome, c
	c.Increment(1)
}

// flush adds what was counted since the last flush to the host's counters.
func (m *metrics) flush() {
	for _, c := range m.all {
		c.flush()
	}
}
