// Package metrics defines the sidecar's Prometheus metrics. Labels carry
// route patterns, command names and decisions — never keys, key hashes or
// any other per-client value, so cardinality stays fixed and no secret can
// leak into a scrape.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Metrics is one sidecar's metric set, on its own registry (so several
// sidecars can live in one test process).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	redisDur *prometheus.HistogramVec
	redisErr *prometheus.CounterVec
	quota    *prometheus.CounterVec
	reloads  *prometheus.CounterVec
	records  *prometheus.CounterVec
	ready    prometheus.Gauge
	degraded prometheus.Gauge
	outbox   prometheus.Counter
}

// New registers the metrics, plus the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnpike_sidecar_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnpike_sidecar_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		redisDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnpike_sidecar_redis_duration_seconds",
			Help:    "Redis command (or pipeline) latency by command name.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1},
		}, []string{"command"}),
		redisErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnpike_sidecar_redis_errors_total",
			Help: "Failed Redis commands by command name (a missing key is not an error).",
		}, []string{"command"}),
		quota: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnpike_sidecar_quota_decisions_total",
			Help: "Quota reservations by decision: granted, partial, exhausted or unlimited.",
		}, []string{"decision"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnpike_sidecar_config_loads_total",
			Help: "Config snapshot loads by source (redis, file) and result (ok, error).",
		}, []string{"source", "result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnpike_sidecar_analytics_records_total",
			Help: "Analytics records from the filters: stored, failed (Redis), dropped (the filter's buffer was full).",
		}, []string{"result"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "turnpike_sidecar_ready",
			Help: "1 when Redis is reachable and the config is loaded, else 0.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "turnpike_sidecar_redis_degraded",
			Help: "Number of problems of a Redis Cluster that still answers: unreachable masters (their slots fail), cluster_state fail. 0 when healthy.",
		}),
		outbox: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnpike_sidecar_outbox_entries_total",
			Help: "Redis Cluster writes whose follow-ups (feed entry, config version, counter resets) a sweep ran because their writer did not.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.redisDur, m.redisErr, m.quota, m.reloads, m.records, m.ready, m.degraded, m.outbox,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Middleware counts requests by the ServeMux pattern that matched (set on
// the request by the mux during next.ServeHTTP), never by the raw path:
// /tyk/keys/{keyID} paths contain keys.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		} else if _, path, ok := strings.Cut(route, " "); ok {
			route = path // the method is its own label
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Quota records a quota decision.
func (m *Metrics) Quota(decision string) { m.quota.WithLabelValues(decision).Inc() }

// Analytics counts one batch: its records stored or failed, and the
// records the filter dropped before it.
func (m *Metrics) Analytics(records int, dropped int64, err error) {
	result := "stored"
	if err != nil {
		result = "failed"
	}
	m.records.WithLabelValues(result).Add(float64(records))
	m.records.WithLabelValues("dropped").Add(float64(dropped))
}

// ConfigLoad records a snapshot load.
func (m *Metrics) ConfigLoad(source string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(source, result).Inc()
}

// SetReady sets the readiness gauge.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// SetDegraded sets the number of Redis Cluster problems.
func (m *Metrics) SetDegraded(problems int) { m.degraded.Set(float64(problems)) }

// OutboxEntries counts outbox entries a sweep ran.
func (m *Metrics) OutboxEntries(n int) { m.outbox.Add(float64(n)) }

// RedisHook returns a go-redis hook that times every command and counts
// failures. Arguments are never recorded.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErr.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd.Name(), start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, err)
		return err
	}
}

func (h redisHook) observe(name string, start time.Time, err error) {
	name = strings.ToLower(name)
	h.m.redisDur.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		h.m.redisErr.WithLabelValues(name).Inc()
	}
}
