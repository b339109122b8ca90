package wasmhost

import (
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
// Sum, Min and Max of the recorded values.
type Metric struct {
	Name  string
	Type  MetricType
	Value int64
	Count uint64
	Sum   uint64
	Min   uint64
	Max   uint64
}

type metric struct {
	name  string
	typ   MetricType
	value atomic.Int64

	hmu                  sync.Mutex
	count, sum, min, max uint64
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
		m.hmu.Unlock()
	}
	return abi.OK
}

func (m *metric) snapshot() Metric {
	s := Metric{Name: m.name, Type: m.typ, Value: m.value.Load()}
	m.hmu.Lock()
	s.Count, s.Sum, s.Min, s.Max = m.count, m.sum, m.min, m.max
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
