package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// prometheusText renders the filters' metrics as Envoy's /stats/prometheus renders Wasm
// metrics (Envoy 1.20 and later, PR #17357; checked against Envoy's main branch):
//
//   - Envoy keeps a metric a plugin defines as the stat "wasmcustom.<name>"
//     (source/extensions/common/wasm/context.cc, Context::defineMetric: counterFromElements(
//     scope, {custom_stat_namespace_, stat_name}); stats_handler.h: CustomStatNamespace =
//     "wasmcustom"), and the Wasm filter registers "wasmcustom" as a custom stat namespace.
//   - Its stats store runs the default tag extractors over every stat name
//     (source/common/config/well_known_names.cc); see extractTags.
//   - PrometheusStatsFormatter::metricName (source/server/admin/prometheus_stats_formatter.cc,
//     formerly prometheus_stats.cc) strips a registered custom namespace and sanitizes the rest
//     ([^a-zA-Z0-9_] → '_') *without* the "envoy_" prefix native stats get; a custom name that
//     is empty or starts with a digit is left out. So "turnpike.decision.allowed" is exported as
//     turnpike_decision_allowed, with no labels: `turnpike_decision_allowed{} 3`.
//   - statsAsPrometheus writes counters, then gauges, then histograms; within a type one
//     "# TYPE" line per tag-extracted name, in the stats' symbol-table order (element by
//     element between the dots), each followed by its series sorted by their full names.
//   - A histogram has Envoy's default buckets (wasmhost.HistogramBuckets) with the counts and
//     the bin-midpoint sum Envoy's histogram reports (wasmhost.Metric.Buckets, BinSum).
//
// A metric defined by several filters or VMs with the same name is one stat in Envoy (one
// store per process) and is summed here.
func prometheusText(hosts []*wasmhost.Host) []byte {
	var ms []wasmhost.Metric
	for _, h := range hosts {
		ms = append(ms, h.Metrics()...)
	}
	return renderPrometheus(ms)
}

// renderPrometheus is prometheusText for metric snapshots (of any number of hosts).
func renderPrometheus(ms []wasmhost.Metric) []byte {
	type key struct {
		typ  wasmhost.MetricType
		name string
	}
	stats := map[key]*wasmhost.Metric{}
	for _, m := range ms {
		k := key{m.Type, m.Name}
		a := stats[k]
		if a == nil {
			a = &wasmhost.Metric{Name: m.Name, Type: m.Type, Buckets: make([]uint64, len(m.Buckets))}
			stats[k] = a
		}
		a.Value += m.Value
		a.Count += m.Count
		a.BinSum += m.BinSum
		for i, n := range m.Buckets {
			a.Buckets[i] += n
		}
	}
	type series struct {
		stat string // full stat name: wasmcustom.<name>
		tags []tag
		m    *wasmhost.Metric
	}
	var b strings.Builder
	for _, typ := range []wasmhost.MetricType{wasmhost.MetricCounter, wasmhost.MetricGauge, wasmhost.MetricHistogram} {
		groups := map[string][]series{} // by tag-extracted name
		for k, m := range stats {
			if k.typ != typ {
				continue
			}
			stat := wasmNamespace + "." + m.Name
			extracted, tags := extractTags(stat)
			groups[extracted] = append(groups[extracted], series{stat, tags, m})
		}
		names := make([]string, 0, len(groups))
		for n := range groups {
			names = append(names, n)
		}
		slices.SortFunc(names, compareStatNames)
		for _, extracted := range names {
			name, ok := prometheusName(extracted)
			if !ok {
				continue
			}
			group := groups[extracted]
			slices.SortFunc(group, func(x, y series) int { return compareStatNames(x.stat, y.stat) })
			fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
			for _, s := range group {
				labels := formatTags(s.tags)
				switch typ {
				case wasmhost.MetricCounter, wasmhost.MetricGauge:
					// Envoy's counters and gauges are uint64: a gauge taken below zero wraps.
					fmt.Fprintf(&b, "%s{%s} %d\n", name, labels, uint64(s.m.Value))
				case wasmhost.MetricHistogram:
					le := labels
					if le != "" {
						le += ","
					}
					for i, bound := range wasmhost.HistogramBuckets {
						fmt.Fprintf(&b, "%s_bucket{%sle=\"%s\"} %d\n", name, le, formatFloat(bound), s.m.Buckets[i])
					}
					fmt.Fprintf(&b, "%s_bucket{%sle=\"+Inf\"} %d\n", name, le, s.m.Count)
					fmt.Fprintf(&b, "%s_sum{%s} %s\n", name, labels, formatFloat(s.m.BinSum))
					fmt.Fprintf(&b, "%s_count{%s} %d\n", name, labels, s.m.Count)
				}
			}
		}
	}
	return []byte(b.String())
}

// wasmNamespace is the custom stat namespace Envoy puts Wasm metrics in.
const wasmNamespace = "wasmcustom"

type tag struct{ name, value string }

// Envoy's default tag extractors (source/common/config/well_known_names.cc, TagNameValues)
// that can match a Wasm metric: all the others are anchored to an Envoy stat prefix
// ("^cluster\.", "^http\.", "^listener\.", ...), which "wasmcustom." never is. A Wasm metric
// "upstream_rq_200" is exported as upstream_rq{envoy_response_code="200"}, "upstream_rq_5xx"
// as upstream_rq_xx{envoy_response_code_class="5"}.
var defaultTagExtractors = []struct {
	name string
	re   *regexp.Regexp
}{
	{"envoy.response_code", regexp.MustCompile(`_rq(_(\d{3}))$`)},
	{"envoy.response_code_class", regexp.MustCompile(`_rq_(\d)xx$`)},
}

// extractTags applies the extractors as Envoy's TagExtractorStdRegexImpl does: the first
// submatch is cut out of the name, the second (else the first) is the tag's value.
func extractTags(stat string) (string, []tag) {
	var tags []tag
	for _, x := range defaultTagExtractors {
		m := x.re.FindStringSubmatchIndex(stat)
		if m == nil {
			continue
		}
		value := stat[m[2]:m[3]]
		if len(m) > 4 && m[4] >= 0 {
			value = stat[m[4]:m[5]]
		}
		tags = append(tags, tag{x.name, value})
		stat = stat[:m[2]] + stat[m[3]:]
	}
	return stat, tags
}

// prometheusName is PrometheusStatsFormatter::metricName for a stat in the custom namespace:
// the namespace stripped, the rest sanitized, and no name at all (the stat is not exported)
// when that is empty or starts with a digit.
func prometheusName(extracted string) (string, bool) {
	rest, ok := strings.CutPrefix(extracted, wasmNamespace+".")
	if !ok {
		return "", false
	}
	name := sanitize(rest)
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return "", false
	}
	return name, true
}

// sanitize replaces every character other than [a-zA-Z0-9_] with '_' (Envoy's sanitizeName).
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// formatTags is PrometheusStatsFormatter::formattedTags: name="value" pairs, the name
// sanitized, the value with \, newline and " escaped.
func formatTags(tags []tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		v := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(t.value)
		parts[i] = sanitize(t.name) + `="` + v + `"`
	}
	return strings.Join(parts, ",")
}

// compareStatNames orders stat names as Envoy's symbol table does (SymbolTable::lessThan):
// element by element between the dots, so "a.z" sorts before "a_b".
func compareStatNames(x, y string) int {
	return slices.Compare(strings.Split(x, "."), strings.Split(y, "."))
}

// formatFloat is fmt's "{:.32g}", which Envoy uses for bucket bounds and sums.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 32, 64) }
