package main

import (
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

func counter(name string, v int64) wasmhost.Metric {
	return wasmhost.Metric{Name: name, Type: wasmhost.MetricCounter, Value: v}
}

// The filter's metrics as Envoy's /stats/prometheus shows them (prometheus.go cites the
// Envoy source): the "wasmcustom" namespace stripped with no envoy_ prefix
// (prometheus_stats_formatter.cc, PrometheusStatsFormatter::metricName: "We expose these
// metrics without modifying (e.g. without "envoy_")"), no labels (no default tag extractor
// matches them), "{}" even so, in symbol-table order, a name defined by two VMs summed.
func TestPrometheusFilterMetrics(t *testing.T) {
	got := string(renderPrometheus([]wasmhost.Metric{
		counter("turnpike.sidecar.calls.lookup", 2),
		counter("turnpike.decision.rate_limited", 1),
		counter("turnpike.decision.allowed", 5),
		counter("turnpike.cache.hits", 3),
		counter("turnpike.decision.allowed", 4), // the same stat, from another host
		counter("turnpike.response_cache.hits", 0),
	}))
	want := `# TYPE turnpike_cache_hits counter
turnpike_cache_hits{} 3
# TYPE turnpike_decision_allowed counter
turnpike_decision_allowed{} 9
# TYPE turnpike_decision_rate_limited counter
turnpike_decision_rate_limited{} 1
# TYPE turnpike_response_cache_hits counter
turnpike_response_cache_hits{} 0
# TYPE turnpike_sidecar_calls_lookup counter
turnpike_sidecar_calls_lookup{} 2
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Envoy's rules a filter's metric names can run into, each from Envoy's source:
//   - response-code tag extraction, the only default extractors not anchored to an Envoy
//     stat prefix (well_known_names.cc: `_rq(_(\d{3}))$`, `_rq_(\d)xx$`);
//   - a custom-namespace name starting with a digit is not exported
//     (prometheus_stats_test.cc, OutputWithAllMetricTypes: "promtest.1234abcd.test.bar" is
//     excluded while "promtest.MYAPP.test.bar" is MYAPP_test_bar);
//   - counters, then gauges, then histograms; names ordered element by element between the
//     dots (SymbolTable::lessThan), so "a.z" comes before "a_b";
//   - tag values escaped (prometheus_stats_formatter.cc, sanitizeValue);
//   - gauges are uint64 (Stats::Gauge::value): one taken below zero wraps.
func TestPrometheusEnvoyRules(t *testing.T) {
	got := string(renderPrometheus([]wasmhost.Metric{
		{Name: "aaa", Type: wasmhost.MetricGauge, Value: -2},
		{Name: "1234abcd.test.bar", Type: wasmhost.MetricGauge, Value: 1},
		{Name: "MYAPP.test.bar", Type: wasmhost.MetricGauge, Value: 7},
		counter("upstream_rq_404", 2),
		counter("upstream_rq_200", 1),
		counter("upstream_rq_5xx", 3),
		counter("a_b", 1),
		counter("a.z", 1),
		counter("zzz", 1),
	}))
	want := `# TYPE a_z counter
a_z{} 1
# TYPE a_b counter
a_b{} 1
# TYPE upstream_rq counter
upstream_rq{envoy_response_code="200"} 1
upstream_rq{envoy_response_code="404"} 2
# TYPE upstream_rq_xx counter
upstream_rq_xx{envoy_response_code_class="5"} 3
# TYPE zzz counter
zzz{} 1
# TYPE MYAPP_test_bar gauge
MYAPP_test_bar{} 7
# TYPE aaa gauge
aaa{} 18446744073709551614
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := formatTags([]tag{{"a.tag", "x\\y\n\"z"}}); got != `a_tag="x\\y\n\"z"` {
		t.Errorf("formatTags: %s", got)
	}
}
