package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// admin is the admin listener (--admin-listen), a small part of Envoy's admin interface:
//
//	/ready              200 "LIVE" while serving, 503 "DRAINING" once shutdown began (Envoy's
//	                    /ready answers the server state the same way)
//	/stats/prometheus   the filters' proxy-wasm metrics in Prometheus text format
type admin struct {
	hosts    []*wasmhost.Host
	draining atomic.Bool
}

func (a *admin) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if a.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "DRAINING")
			return
		}
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("GET /stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=UTF-8")
		_, _ = w.Write(prometheusText(a.hosts))
	})
	return mux
}

// prometheusText renders the filters' metrics as Envoy's /stats/prometheus renders Wasm custom
// metrics. Envoy keeps them in the "wasmcustom" stat namespace and, since Envoy 1.20 (PR #17357,
// see also issue #19087), its Prometheus output strips that namespace and adds no "envoy_"
// prefix (native Envoy stats get "envoy_"): "turnpike.decision.allowed" is exported as
// turnpike_decision_allowed. Envoy's default tag extractors match none of these names (tags
// come from stats_tags configuration, which this gateway does not have), so they carry no labels.
// A metric defined by several filters (same name) is one stat in Envoy and is summed here.
// Histograms have no buckets in this host: they are exported with their count and sum and a
// single +Inf bucket.
func prometheusText(hosts []*wasmhost.Host) []byte {
	type agg struct {
		typ        wasmhost.MetricType
		value      int64
		count, sum uint64
	}
	all := map[string]*agg{}
	for _, h := range hosts {
		for _, m := range h.Metrics() {
			name := prometheusName(m.Name)
			a := all[name]
			if a == nil {
				a = &agg{typ: m.Type}
				all[name] = a
			}
			a.value += m.Value
			a.count += m.Count
			a.sum += m.Sum
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		a := all[n]
		switch a.typ {
		case wasmhost.MetricCounter:
			fmt.Fprintf(&b, "# TYPE %s counter\n%s{} %d\n", n, n, a.value)
		case wasmhost.MetricGauge:
			fmt.Fprintf(&b, "# TYPE %s gauge\n%s{} %d\n", n, n, a.value)
		case wasmhost.MetricHistogram:
			fmt.Fprintf(&b, "# TYPE %s histogram\n%s_bucket{le=\"+Inf\"} %d\n%s_sum{} %d\n%s_count{} %d\n",
				n, n, a.count, n, a.sum, n, a.count)
		}
	}
	return []byte(b.String())
}

// prometheusName is Envoy's sanitizing of a stat name for Prometheus: every character other
// than [a-zA-Z0-9_] becomes '_', and a leading digit gets a '_' in front.
func prometheusName(name string) string {
	var b strings.Builder
	for i, r := range name {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
