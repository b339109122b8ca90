package proxywasm

import "math"

// Metrics are defined once (in OnVMStart or OnPluginStart, not in init) and
// updated per request. The update methods return no error because a failing
// metric must never affect request handling; a failed definition is logged
// once and yields a metric whose updates the host ignores. Envoy exports
// custom metrics under the "wasmcustom." namespace.

// MetricCounter is a monotonically increasing counter.
type MetricCounter uint32

// MetricGauge is a value that can go up and down.
type MetricGauge uint32

// MetricHistogram records a distribution of values.
type MetricHistogram uint32

func DefineCounterMetric(name string) MetricCounter {
	return MetricCounter(defineMetric(metricTypeCounter, name))
}

func DefineGaugeMetric(name string) MetricGauge {
	return MetricGauge(defineMetric(metricTypeGauge, name))
}

func DefineHistogramMetric(name string) MetricHistogram {
	return MetricHistogram(defineMetric(metricTypeHistogram, name))
}

func defineMetric(mt metricType, name string) uint32 {
	var id uint32
	if err := statusError(proxyDefineMetric(mt, name, &id)); err != nil {
		logError("proxy-wasm: defining metric %q: %v", name, err)
		return 0
	}
	return id
}

// Increment adds n to the counter.
func (c MetricCounter) Increment(n uint64) {
	// Envoy rejects a zero delta; skipping it also saves a host call.
	if n == 0 {
		return
	}
	if n > math.MaxInt64 {
		n = math.MaxInt64
	}
	proxyIncrementMetric(uint32(c), int64(n))
}

// Value returns the counter's value, 0 if the host cannot read it.
func (c MetricCounter) Value() uint64 { return getMetric(uint32(c)) }

// Add adds n (possibly negative) to the gauge.
func (g MetricGauge) Add(n int64) { proxyIncrementMetric(uint32(g), n) }

// Value returns the gauge's value, 0 if the host cannot read it.
func (g MetricGauge) Value() int64 { return int64(getMetric(uint32(g))) }

// Record adds v to the histogram.
func (h MetricHistogram) Record(v uint64) { proxyRecordMetric(uint32(h), v) }

func getMetric(id uint32) uint64 {
	var v uint64
	if statusError(proxyGetMetric(id, &v)) != nil {
		return 0
	}
	return v
}
