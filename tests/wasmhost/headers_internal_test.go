package wasmhost

import (
	"reflect"
	"slices"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/abi"
)

func TestHeaderMapOps(t *testing.T) {
	base := Headers{{":path", "/"}, {"a", "1"}, {"b", "2"}, {"a", "3"}}
	tests := []struct {
		name string
		op   func(m *headerMap)
		want Headers
	}{
		{"add lower-cases", func(m *headerMap) { m.add([]byte("X-New"), []byte("v")) }, append(base.Clone(), [2]string{"x-new", "v"})},
		{"replace keeps first, drops duplicates", func(m *headerMap) { m.replace([]byte("A"), []byte("9")) },
			Headers{{":path", "/"}, {"a", "9"}, {"b", "2"}}},
		{"replace missing adds", func(m *headerMap) { m.replace([]byte("c"), []byte("4")) }, append(base.Clone(), [2]string{"c", "4"})},
		{"remove all values", func(m *headerMap) { m.remove([]byte("a")) }, Headers{{":path", "/"}, {"b", "2"}}},
		{"remove missing is fine", func(m *headerMap) { m.remove([]byte("zz")) }, base},
		{"pseudo-header replace", func(m *headerMap) { m.replace([]byte(":path"), []byte("/x")) },
			Headers{{":path", "/x"}, {"a", "1"}, {"b", "2"}, {"a", "3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &headerMap{pairs: base.Clone()}
			tt.op(m)
			if !reflect.DeepEqual(m.pairs, tt.want) {
				t.Fatalf("got %q, want %q", m.pairs, tt.want)
			}
		})
	}
	m := &headerMap{pairs: base.Clone()}
	if i := m.index([]byte("B")); i != 2 {
		t.Fatalf("case-insensitive index = %d", i)
	}
}

func TestMetricRules(t *testing.T) {
	r := newMetricRegistry()
	c := r.get(r.define(MetricCounter, "c"))
	g := r.get(r.define(MetricGauge, "g"))
	h := r.get(r.define(MetricHistogram, "h"))
	if again := r.define(MetricCounter, "c"); r.get(again) != c {
		t.Fatal("redefining a metric must return the same one")
	}
	tests := []struct {
		name string
		got  abi.Status
		want abi.Status
	}{
		{"counter +1", c.increment(1), abi.OK},
		{"counter 0", c.increment(0), abi.BadArgument},
		{"counter -1", c.increment(-1), abi.BadArgument},
		{"gauge -5", g.increment(-5), abi.OK},
		{"gauge record", g.record(7), abi.OK},
		{"histogram increment", h.increment(1), abi.BadArgument},
		{"histogram record 3", h.record(3), abi.OK},
		{"histogram record 10", h.record(10), abi.OK},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if s := c.snapshot(); s.Value != 1 {
		t.Errorf("counter %+v", s)
	}
	if s := g.snapshot(); s.Value != 7 {
		t.Errorf("gauge %+v", s)
	}
	if s := h.snapshot(); s.Count != 2 || s.Sum != 13 || s.Min != 3 || s.Max != 10 {
		t.Errorf("histogram %+v", s)
	}
	if r.get(0) != nil || r.get(99) != nil {
		t.Error("unknown ids must not resolve")
	}
}

// Envoy's test of its Prometheus output records 50, 20, 30, 70, 100, 5000 and 200 and expects
// these buckets and a sum of 5532, not 5470: its histogram keeps two significant digits per
// bin and sums the bins' midpoints (test/server/admin/prometheus_stats_test.cc,
// OutputWithAllMetricTypes).
func TestHistogramAsEnvoyReportsIt(t *testing.T) {
	h := newMetricRegistry()
	m := h.get(h.define(MetricHistogram, "h"))
	for _, v := range []int64{50, 20, 30, 70, 100, 5000, 200} {
		m.record(v)
	}
	s := m.snapshot()
	want := []uint64{0, 0, 0, 0, 1, 2, 4, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7}
	if !slices.Equal(s.Buckets, want) || s.BinSum != 5532 || s.Sum != 5470 {
		t.Fatalf("buckets %v, bin sum %v, sum %d; want %v, 5532, 5470", s.Buckets, s.BinSum, s.Sum, want)
	}
}
