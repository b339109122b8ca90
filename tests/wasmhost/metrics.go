package wasmhost

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/abi"
)

// MetricType is proxy_metric_type_t.
type MetricType uint32

// Metric types.
const (
	MetricCounter   = MetricType(abi.MetricCounter)
	MetricGauge     = MetricType(abi.MetricGauge)
	MetricHistogram = MetricType(abi.MetricHistogram)
)

func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "unknown"
}

// Metric is a snapshot of one metric. Counters and gauges use Value; histograms record Count,
// Sum, Min and Max of the recorded values, and what Envoy's /stats/prometheus shows of them:
// Buckets[i] counts the samples below HistogramBuckets[i], and BinSum is the sum Envoy reports.
type Metric struct {
	Name    string
	Type    MetricType
	Value   int64
	Count   uint64
	Sum     uint64
	Min     uint64
	Max     uint64
	Buckets []uint64
	BinSum  float64
}

// HistogramBuckets are Envoy's default histogram bucket bounds
// (source/common/stats/histogram_impl.cc, HistogramSettingsImpl::defaultBuckets), which
// /stats/prometheus prints as le="…" buckets.
var HistogramBuckets = [...]float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
	30000, 60000, 300000, 600000, 1800000, 3600000}

type metric struct {
	name  string
	typ   MetricType
	value atomic.Int64

	hmu                  sync.Mutex
	count, sum, min, max uint64
	buckets              [len(HistogramBuckets)]uint64
	bins                 map[uint64]uint64 // samples per bin, by the bin's lower bound (envoyBin)
}

// envoyBin is the bin of Envoy's log-linear histogram (circllhist: two significant decimal
// digits) that holds v: a sample of 50 is in [50, 51), one of 5000 in [5000, 5100). Envoy
// counts a sample in a bucket when its whole bin is below the bound, and reports the sum of
// the bins' midpoints: samples 50, 20, 30, 70, 100, 5000 and 200 give buckets le="50" 2,
// le="100" 4 and a sum of 5532 (test/server/admin/prometheus_stats_test.cc,
// OutputWithAllMetricTypes).
func envoyBin(v uint64) (lo, width float64) {
	switch {
	case v == 0:
		return 0, 0
	case v < 10:
		return float64(v), 0.1
	}
	w := uint64(1)
	for v/w >= 100 {
		w *= 10
	}
	return float64(v / w * w), float64(w)
}

// metricRegistry is process-wide like Envoy's stats store: every VM defining the same name and
// type gets the same metric.
type metricRegistry struct {
	mu   sync.RWMutex
	ids  map[metricKey]uint32
	list []*metric
}

type metricKey struct {
	typ  MetricType
	name string
}

func newMetricRegistry() *metricRegistry {
	return &metricRegistry{ids: map[metricKey]uint32{}}
}

// define returns the id of (typ, name), creating it; ids start at 1 so 0 is never valid.
func (r *metricRegistry) define(typ MetricType, name string) uint32 {
	k := metricKey{typ, name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[k]; ok {
		return id
	}
	r.list = append(r.list, &metric{name: name, typ: typ})
	id := uint32(len(r.list))
	r.ids[k] = id
	return id
}

func (r *metricRegistry) get(id uint32) *metric {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if id == 0 || int(id) > len(r.list) {
		return nil
	}
	return r.list[id-1]
}

// increment follows Envoy: counters only go up, histograms cannot be incremented.
func (m *metric) increment(delta int64) abi.Status {
	switch m.typ {
	case MetricCounter:
		if delta <= 0 {
			return abi.BadArgument
		}
		m.value.Add(delta)
	case MetricGauge:
		m.value.Add(delta)
	default:
		return abi.BadArgument
	}
	return abi.OK
}

// record follows Envoy: a counter adds, a gauge is set, a histogram records a sample.
func (m *metric) record(v int64) abi.Status {
	switch m.typ {
	case MetricCounter:
		m.value.Add(v)
	case MetricGauge:
		m.value.Store(v)
	default:
		u := uint64(v)
		m.hmu.Lock()
		if m.count == 0 || u < m.min {
			m.min = u
		}
		if u > m.max {
			m.max = u
		}
		m.count++
		m.sum += u
		lo, width := envoyBin(u)
		for i, bound := range HistogramBuckets {
			if lo+width <= bound {
				m.buckets[i]++
			}
		}
		if m.bins == nil {
			m.bins = map[uint64]uint64{}
		}
		m.bins[uint64(lo)]++
		m.hmu.Unlock()
	}
	return abi.OK
}

func (m *metric) snapshot() Metric {
	s := Metric{Name: m.name, Type: m.typ, Value: m.value.Load()}
	m.hmu.Lock()
	s.Count, s.Sum, s.Min, s.Max = m.count, m.sum, m.min, m.max
	if m.typ == MetricHistogram {
		s.Buckets = append([]uint64(nil), m.buckets[:]...)
		// As circllhist's hist_approx_sum: bins in ascending order, midpoint × count.
		for _, lo := range slices.Sorted(maps.Keys(m.bins)) {
			lo, width := envoyBin(lo)
			if width > 0 {
				s.BinSum += (lo + width/2) * float64(m.bins[uint64(lo)])
			}
		}
	}
	m.hmu.Unlock()
	return s
}

func (r *metricRegistry) byName(name string) (Metric, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, m := range r.list {
		if m.name == name {
			return m.snapshot(), true
		}
	}
	return Metric{}, false
}

func (r *metricRegistry) snapshot() []Metric {
	r.mu.RLock()
	out := make([]Metric, 0, len(r.list))
	for _, m := range r.list {
		out = append(out, m.snapshot())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
