// Package app wires the sidecar together: Redis connection (with retry),
// config snapshot, Gateway API, Filter API, metrics, logging and graceful
// shutdown.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/analytics"
	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
	"github.com/turnpike-dev/turnpike/sidecar/internal/console"
	"github.com/turnpike-dev/turnpike/sidecar/internal/filterapi"
	"github.com/turnpike-dev/turnpike/sidecar/internal/gatewayapi"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
	"github.com/turnpike-dev/turnpike/sidecar/internal/metrics"
	"github.com/turnpike-dev/turnpike/sidecar/internal/oauth"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// usageFlush is how often the usage aggregates of the filters' batches are
// added to Redis: once a second, whatever the number of filter VMs.
const usageFlush = time.Second

// Version is reported by /hello; set at build time with
// -ldflags "-X github.com/turnpike-dev/turnpike/sidecar/internal/app.Version=..."
var Version = "dev"

// App is one sidecar instance.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	embedded *miniredis.Miniredis
	keeper   *snapshot.Keeper
	jwks     *jwks.Fetcher
	metrics  *metrics.Metrics
	handler  http.Handler
	// metricsHandler serves /metrics on cfg.MetricsListen; nil when /metrics
	// is part of handler.
	metricsHandler http.Handler
	analytics      *analytics.Writer
	// instance names this replica on the status page.
	instance string
	started  time.Time
	redisOK  atomic.Bool
	// degraded: Redis Cluster problems of the last check (checkCluster).
	degraded  atomic.Pointer[[]string]
	lastSweep time.Time // of the outbox; used by the monitor goroutine only
	wg        sync.WaitGroup
}

// New builds an instance. It fails on configuration errors (a bad Redis
// URL, an unreadable policies file) but not on an unreachable Redis, which
// Start keeps retrying while the instance reports not-ready.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, metrics: metrics.New(), instance: newInstanceID(), started: time.Now()}
	if cfg.RedisURL == "" {
		c, m, err := store.Embedded(cfg.RedisTimeout)
		if err != nil {
			return nil, err
		}
		a.embedded = m
		a.store = store.New(c, cfg.RedisTimeout)
		log.Warn("NO --redis GIVEN: USING AN EMBEDDED IN-MEMORY REDIS. NOTHING IS DURABLE: every key, policy, " +
			"API definition and quota counter is lost when this process exits, and replicas do not share state. " +
			"Use --redis for anything but a trial.")
	} else {
		c, err := store.Dial(cfg.RedisURL, cfg.RedisTimeout)
		if err != nil {
			return nil, err
		}
		a.store = store.New(c, cfg.RedisTimeout)
		log.Info("using Redis", "url", store.Redact(cfg.RedisURL), "quota_wait_replicas", cfg.QuotaWaitReplicas)
	}
	a.store.Client().AddHook(a.metrics.RedisHook())
	a.jwks = jwks.New(jwks.Options{Client: &http.Client{Timeout: cfg.JWKSTimeout}, MaxBytes: cfg.JWKSMaxBytes,
		MinTTL: cfg.JWKSMinTTL, MaxTTL: cfg.JWKSMaxTTL, Logger: log})
	keeper, err := snapshot.New(snapshot.Options{
		Store: a.store, PoliciesFile: cfg.PoliciesFile, Poll: cfg.ConfigPoll, Logger: log,
		AppsDir: cfg.AppsDir, CheckAPI: gatewayapi.CheckAPIDefinition,
		OnReload: a.metrics.ConfigLoad, JWKS: a.jwks,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.keeper = keeper

	mux := http.NewServeMux()
	oauthServer := oauth.New(oauth.Deps{Store: a.store, Snapshots: keeper, Rand: rand.Reader, Now: time.Now, Logger: log})
	gatewayapi.New(gatewayapi.Deps{
		Store: a.store, Snapshots: keeper, Secret: cfg.Secret, AllowMasterKeys: cfg.AllowMasterKeys, JWKS: a.jwks,
		AllowPlainPasswords: cfg.AllowPlainPasswords,
		MaxBodyBytes:        cfg.MaxBodyBytes, Logger: log, Rand: rand.Reader, Now: time.Now, Ready: a.Ready,
		Degraded: a.Degraded,
		Version:  Version, PolicyFile: cfg.PoliciesFile, OAuth: oauthServer,
	}).Register(mux)
	a.analytics = analytics.NewWriter(analytics.Options{
		Client: a.store.Client(), Timeout: cfg.RedisTimeout, TykRecords: cfg.TykAnalytics,
		MinuteRetention: cfg.UsageMinuteRetention, HourRetention: cfg.UsageHourRetention,
		FlushEvery: usageFlush, Snapshot: keeper.Current, Logger: log,
	})
	filterapi.New(filterapi.Deps{
		Store: a.store, Snapshots: keeper, Token: cfg.FilterToken, Ready: a.Ready, Logger: log, JWKS: a.jwks,
		OnQuota: a.metrics.Quota, OAuth: oauthServer, EnforceOrgQuotas: cfg.EnforceOrgQuotas, Analytics: a.writeAnalytics,
		QuotaWait: store.ReplicaWait{Replicas: cfg.QuotaWaitReplicas, Timeout: cfg.QuotaWaitTimeout},
	}).Register(mux)
	(&analytics.UsageAPI{Reader: &analytics.Reader{Client: a.store.Client(), Timeout: cfg.RedisTimeout},
		Secret: cfg.Secret, Now: time.Now}).Register(mux)
	// The console calls mux (the Gateway API and the usage API) itself.
	console.New(console.Deps{Secret: cfg.Secret, API: mux, Status: a.status,
		Redis: a.store.Client(), RedisTimeout: cfg.RedisTimeout}).Register(mux)
	// /metrics needs no authentication: with --metrics-listen it moves to its
	// own listener, so that operators can keep it off the public address.
	metricsMux := mux
	if cfg.MetricsListen != "" {
		metricsMux = http.NewServeMux()
		a.metricsHandler = a.metrics.Middleware(a.accessLog(metricsMux))
	}
	metricsMux.Handle("GET /metrics", a.metrics.Handler())
	a.handler = a.metrics.Middleware(a.accessLog(mux))
	return a, nil
}

// Handler serves every endpoint (/metrics too, unless cfg.MetricsListen is
// set).
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves /metrics when cfg.MetricsListen is set; it is nil
// otherwise (Handler serves /metrics then).
func (a *App) MetricsHandler() http.Handler { return a.metricsHandler }

// Ready is nil when Redis answers and the config snapshot is loaded.
func (a *App) Ready() error {
	if !a.redisOK.Load() {
		return errors.New("Redis connection not available")
	}
	if !a.keeper.Ready() {
		return errors.New("config not loaded yet")
	}
	return nil
}

// Start connects to Redis in the background, retrying with backoff, then
// keeps the snapshot current and watches Redis health until ctx ends.
func (a *App) Start(ctx context.Context) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if !a.connect(ctx) {
			return
		}
		a.wg.Add(2)
		go func() {
			defer a.wg.Done()
			a.keeper.Run(ctx)
		}()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.jwks.Run(ctx)
		}()
		go func() {
			defer a.wg.Done()
			a.analytics.Run(ctx)
		}()
		a.monitor(ctx)
	}()
}

// connect waits for Redis with exponential backoff (100 ms to 5 s), logging
// every failure so an unreachable Redis is never silent.
func (a *App) connect(ctx context.Context) bool {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := a.store.Ping(ctx)
		if err == nil {
			err = a.store.EnsureFeed(ctx)
		}
		if err == nil {
			var n int
			if n, err = a.store.MigratePolicyActive(ctx); n > 0 {
				a.log.Info("policies stored by an earlier version marked \"active\": true explicitly", "policies", n)
			}
		}
		if err == nil {
			err = a.keeper.Reload(ctx)
		}
		if err == nil {
			err = a.analytics.Load(ctx)
		}
		if err == nil {
			a.setRedisOK(true)
			a.log.Info("Redis connected; sidecar ready", "attempts", attempt)
			return true
		}
		a.log.Error("Redis not reachable; not ready, retrying", "attempt", attempt, "retry_in", delay, "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// monitor pings Redis every second and flips readiness on failure and
// recovery.
func (a *App) monitor(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := a.store.Ping(ctx)
		a.checkCluster(ctx, err == nil)
		if err == nil {
			// For the console's status page only: a failure is not news.
			_ = a.store.Heartbeat(ctx, store.Replica{ID: a.instance, Version: Version,
				Started: a.started.UnixMilli(), Ready: a.Ready() == nil}, time.Now())
		}
		if ok := err == nil; ok != a.redisOK.Load() && ctx.Err() == nil {
			a.setRedisOK(ok)
			if ok {
				a.log.Info("Redis reachable again; ready")
			} else {
				a.log.Error("Redis unreachable; not ready", "error", err)
			}
		}
	}
}

// checkCluster, once a second on a Redis Cluster: records what runs
// degraded (for /ready, /metrics and the console) and, every
// store.OutboxSweep, runs the follow-ups of writes whose writer died.
func (a *App) checkCluster(ctx context.Context, reachable bool) {
	var problems []string
	if reachable {
		problems = a.store.Degraded(ctx)
	}
	a.degraded.Store(&problems)
	a.metrics.SetDegraded(len(problems))
	if !reachable || time.Since(a.lastSweep) < store.OutboxSweep {
		return
	}
	a.lastSweep = time.Now()
	// Older than any writer's own attempt: each write runs under one
	// --redis-timeout.
	n, err := a.store.DrainOutboxes(ctx, max(store.OutboxSweep, 2*a.cfg.RedisTimeout))
	a.metrics.OutboxEntries(n)
	if n > 0 {
		a.log.Warn("ran the follow-ups of Redis Cluster writes whose writer did not finish them", "writes", n)
	}
	if err != nil && ctx.Err() == nil {
		a.log.Warn("outbox sweep failed; retrying at the next", "error", err)
	}
}

// Degraded lists what runs degraded although the sidecar is ready (parts
// of a Redis Cluster failing); empty when all is well.
func (a *App) Degraded() []string {
	if p := a.degraded.Load(); p != nil {
		return *p
	}
	return nil
}

// newInstanceID names a replica: its host name and a random suffix.
func newInstanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// writeAnalytics stores a filter's batch and counts its records.
func (a *App) writeAnalytics(ctx context.Context, b *wire.AnalyticsBatch) error {
	err := a.analytics.Write(ctx, b)
	a.metrics.Analytics(len(b.Records), b.Dropped, err)
	return err
}

func (a *App) setRedisOK(ok bool) {
	a.redisOK.Store(ok)
	a.metrics.SetReady(ok)
}

// Close stops the background work started by Start (its context must be
// cancelled first) and releases Redis.
func (a *App) Close() {
	a.wg.Wait()
	_ = a.store.Client().Close()
	if a.embedded != nil {
		a.embedded.Close()
	}
}

// accessLog logs each request at debug level by route pattern and status —
// never the path, which can contain a key (/tyk/keys/{keyID}).
func (a *App) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.log.Debug("request", "method", r.Method, "route", r.Pattern, "status", rec.code,
			"duration", time.Since(start))
	})
}

type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// Run serves until ctx ends, then shuts down gracefully: the listeners
// close, in-flight requests get cfg.ShutdownTimeout to finish, background
// work stops and Redis is released.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	a, err := New(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var metricsLn net.Listener
	if cfg.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			a.Close()
			return fmt.Errorf("listen on %s (--metrics-listen): %w", cfg.MetricsListen, err)
		}
	}
	bg, stop := context.WithCancel(context.Background())
	a.Start(bg)
	err = a.serve(ctx, ln, metricsLn)
	stop()
	a.Close()
	return err
}

// serve runs the HTTP servers (the main one on ln, and /metrics on
// metricsLn when it is not nil) until ctx ends or one of them fails, then
// shuts them all down.
func (a *App) serve(ctx context.Context, ln, metricsLn net.Listener) error {
	type server struct {
		srv *http.Server
		ln  net.Listener
	}
	servers := []server{{a.newServer(a.Handler()), ln}}
	if metricsLn != nil {
		servers = append(servers, server{a.newServer(a.metricsHandler), metricsLn})
	}
	served := make(chan error, len(servers))
	for _, s := range servers {
		go func() { served <- s.srv.Serve(s.ln) }()
	}
	attrs := []any{"addr", ln.Addr().String(), "version", Version, "policies", policySource(a.cfg)}
	if a.cfg.AppsDir != "" {
		attrs = append(attrs, "apps", a.cfg.AppsDir)
	}
	if metricsLn != nil {
		attrs = append(attrs, "metrics_addr", metricsLn.Addr().String())
	}
	a.log.Info("turnpike-sidecar listening", attrs...)

	var err error
	pending := len(servers)
	select {
	case err = <-served: // a listener failed
		pending--
	case <-ctx.Done():
		a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.srv.Shutdown(sctx); err == nil {
			err = serr
		}
	}
	for ; pending > 0; pending-- {
		<-served // ErrServerClosed after Shutdown
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("in-flight requests did not finish within %s", a.cfg.ShutdownTimeout)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (a *App) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

func policySource(cfg config.Config) string {
	if cfg.PoliciesFile != "" {
		return "file " + cfg.PoliciesFile
	}
	return "redis"
}
