// Package store is the sidecar's Redis layout: sessions, policies, API
// definitions, org sessions, quota counters and the key change feed.
//
// It is the only code that talks to Redis. Every multi-key write is atomic:
// one MULTI/EXEC on standalone Redis and Sentinel; on Redis Cluster, where
// MULTI cannot span hash slots, the data and its follow-ups (feed entry,
// config version, counter resets) are committed together through the
// data slot's outbox (outbox.go).
package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys (Tyk layout where Tyk has one; see sidecar/README.md).
const (
	sessionPrefix    = "apikey-"
	orgPrefix        = "orgkey."
	quotaPrefix      = "quota-"
	policiesKey      = "turnpike-policies"
	apisKey          = "turnpike-apis"
	orgsIndexKey     = "turnpike-orgs" // set of org ids, so listing orgs needs no SCAN
	changesKey       = "turnpike-changes"
	configVersion    = "turnpike-config-version"
	cacheGenKey      = "turnpike-cache-generations" // api_id -> response cache generation
	certsKey         = "turnpike-certs"             // certificate id -> PEM (/tyk/certs)
	changesMaxLen    = 100000
	scanBatch        = 1000
	defaultOpTimeout = 2 * time.Second
)

// ErrNotFound is returned when a session, policy, API or org does not exist.
var ErrNotFound = errors.New("not found")

// Store is a handle on the Redis layout. It is safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	cluster bool
	timeout time.Duration
	// afterCommit, when set (tests), runs once a cluster write's data and
	// outbox entry are committed; true stops the write there, as a crash
	// of the writer would.
	afterCommit func() bool
}

// New wraps a client. timeout bounds each operation (0 = 2 s).
func New(c redis.UniversalClient, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = defaultOpTimeout
	}
	_, cluster := c.(*redis.ClusterClient)
	return &Store{c: c, cluster: cluster, timeout: timeout}
}

// Client is the underlying client (for hooks and shutdown).
func (s *Store) Client() redis.UniversalClient { return s.c }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.Ping(ctx).Err()
}

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// step queues or runs one command.
type step func(ctx context.Context, c redis.Cmdable) redis.Cmder

// ordered runs reads in one MULTI/EXEC, or, on Redis Cluster where their
// keys live in different slots, one by one in order, stopping at the first
// error. Either way the returned commands hold their replies. (Writes go
// through write, which is atomic on a cluster too.)
func (s *Store) ordered(ctx context.Context, steps ...step) ([]redis.Cmder, error) {
	if !s.cluster {
		return s.tx(ctx, steps...)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	cmds := make([]redis.Cmder, 0, len(steps))
	for _, st := range steps {
		cmd := st(ctx, s.c)
		cmds = append(cmds, cmd)
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return cmds, err
		}
	}
	return cmds, nil
}

// scan collects every key matching pattern, across all masters of a cluster.
func (s *Store) scan(ctx context.Context, pattern string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	cc, ok := s.c.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, s.c, pattern)
	}
	var (
		mu  sync.Mutex
		out []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		part, err := scanNode(ctx, c, pattern)
		mu.Lock()
		out = append(out, part...)
		mu.Unlock()
		return err
	})
	return out, err
}

func scanNode(ctx context.Context, c redis.Cmdable, pattern string) ([]string, error) {
	var out []string
	it := c.Scan(ctx, 0, pattern, scanBatch).Iterator()
	for it.Next(ctx) {
		out = append(out, it.Val())
	}
	return out, it.Err()
}

// Degraded lists what fails on a Redis Cluster although the cluster as a
// whole answers: masters that cannot be reached (their slots fail until a
// replica takes over) and a cluster_state other than ok. Empty when all is
// well, and always off a cluster, where Ping says it all.
func (s *Store) Degraded(ctx context.Context) []string {
	cc, ok := s.c.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var (
		mu  sync.Mutex
		out []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.ClusterInfo(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			out = append(out, "Redis Cluster master "+c.Options().Addr+" unreachable: its slots fail until a replica takes over")
		case !strings.Contains(info, "cluster_state:ok"):
			out = append(out, "Redis Cluster master "+c.Options().Addr+" reports cluster_state fail: some slots are not served")
		}
		return nil
	})
	if err != nil {
		out = append(out, "Redis Cluster slot map unavailable: "+err.Error())
	}
	slices.Sort(out)
	return out
}
