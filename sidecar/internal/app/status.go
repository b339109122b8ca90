package app

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/analytics"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// status is the console's status page: this replica, the others, Redis,
// the filters and what runs degraded.
type status struct {
	Instance   string          `json:"instance"`
	Version    string          `json:"version"`
	Ready      bool            `json:"ready"`
	ReadyError string          `json:"ready_error,omitempty"`
	Replicas   []store.Replica `json:"replicas"`
	Redis      struct {
		Mode   string  `json:"mode"` // embedded, standalone, sentinel, cluster
		URL    string  `json:"url"`  // password redacted
		OK     bool    `json:"ok"`
		PingMS float64 `json:"ping_ms"`
		Error  string  `json:"error,omitempty"`
	} `json:"redis"`
	ConfigVersion string         `json:"config_version"`
	Filters       []filterStatus `json:"filters"`
	Analytics     struct {
		TykRecords bool  `json:"tyk_records"`
		Queued     int64 `json:"queued"` // records on Tyk's list, waiting for Tyk Pump
	} `json:"analytics"`
	Degraded []string `json:"degraded"`
}

// filterStatus is a filter VM that polled recently: the configuration
// version it holds, and whether that is this replica's.
type filterStatus struct {
	VM       string `json:"vm"`
	Version  string `json:"version"`
	Current  bool   `json:"current"`
	LastSync int64  `json:"last_sync"` // unix ms
}

func (a *App) status(ctx context.Context) any {
	var s status
	s.Instance, s.Version = a.instance, Version
	err := a.Ready()
	s.Ready = err == nil
	if err != nil {
		s.ReadyError = err.Error()
		s.Degraded = append(s.Degraded, "not ready: "+err.Error())
	}
	s.Redis.Mode, s.Redis.URL = redisMode(a.cfg.RedisURL), store.Redact(a.cfg.RedisURL)
	s.Degraded = append(s.Degraded, a.Degraded()...)
	if a.embedded != nil {
		s.Redis.URL = ""
		s.Degraded = append(s.Degraded, "embedded in-memory store: nothing is durable and replicas do not share state (--redis)")
	}
	start := time.Now()
	if err := a.store.Ping(ctx); err != nil {
		s.Redis.Error = err.Error()
	} else {
		s.Redis.OK = true
		s.Redis.PingMS = float64(time.Since(start).Microseconds()) / 1000
	}
	if reps, err := a.store.Replicas(ctx, time.Now()); err == nil {
		slices.SortFunc(reps, func(x, y store.Replica) int { return strings.Compare(x.ID, y.ID) })
		s.Replicas = reps
	}
	if snap := a.keeper.Current(); snap != nil {
		s.ConfigVersion = snap.Version
	}
	stale := 0
	if filters, err := a.store.FilterPolls(ctx, store.FilterTTL); err == nil {
		for vm, p := range filters {
			s.Filters = append(s.Filters, filterStatus{vm, p.Version, p.Version == s.ConfigVersion, p.Seen})
			if p.Version != s.ConfigVersion {
				stale++
			}
		}
		slices.SortFunc(s.Filters, func(x, y filterStatus) int { return strings.Compare(x.VM, y.VM) })
	}
	if stale > 0 {
		s.Degraded = append(s.Degraded, "filters on an older configuration: the change reaches them at their next poll")
	}
	if a.cfg.PoliciesFile != "" {
		s.Degraded = append(s.Degraded, "policies come from "+a.cfg.PoliciesFile+": the policy write API is disabled")
	}
	s.Analytics.TykRecords = a.cfg.TykAnalytics
	if a.cfg.TykAnalytics {
		s.Analytics.Queued, _ = a.store.Client().LLen(ctx, analytics.TykListKey).Result()
	}
	return s
}

// redisMode names the deployment a Redis URL selects.
func redisMode(raw string) string {
	if raw == "" {
		return "embedded"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "unknown"
	}
	switch {
	case strings.Contains(u.Scheme, "sentinel"):
		return "sentinel"
	case strings.Contains(u.Scheme, "cluster"):
		return "cluster"
	}
	return "standalone"
}
