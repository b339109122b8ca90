package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/quota"
)

// ReplicaWait makes quota grants wait for Redis replicas (WAIT): a grant is
// answered only once Replicas replicas have the counter's new value, so a
// failover to one of them cannot forget units already handed out (Redis
// replication is asynchronous; without it, a master that dies right after
// a grant can take the increment with it and the promoted replica grants
// those units again). A lease covers many requests, so the wait is paid
// once per lease, not per request.
type ReplicaWait struct {
	Replicas int           // replicas that must acknowledge; 0 = do not wait
	Timeout  time.Duration // WAIT's timeout
}

// ErrReplicasBehind is returned when fewer replicas than required
// acknowledged a grant within the timeout. The grant is given back first.
var ErrReplicasBehind = errors.New("quota grant not acknowledged by enough replicas")

// LeaseWait is Lease, then WAIT for w.Replicas replicas.
func (s *Store) LeaseWait(ctx context.Context, key string, quotaMax, renewalRate, units int64, w ReplicaWait) (Grant, error) {
	return s.reserveWait(ctx, key, quotaMax, renewalRate, units, true, w)
}

// ReserveWait is Reserve, then WAIT for w.Replicas replicas.
func (s *Store) ReserveWait(ctx context.Context, key string, quotaMax, renewalRate, units int64, w ReplicaWait) (Grant, error) {
	return s.reserveWait(ctx, key, quotaMax, renewalRate, units, false, w)
}

// reserveWait runs the quota script and WAIT on one connection to the
// master that holds key: WAIT counts the replicas that have every write
// made on its own connection, so both must share one.
//
// When too few replicas acknowledge, the units are given back (on the same
// connection, so the release follows the grant in the replication stream)
// and the grant fails: the filter answers as when Redis is unreachable
// (failure_mode.quota). A release that cannot run leaves the units counted:
// fewer requests admitted, never more.
func (s *Store) reserveWait(ctx context.Context, key string, quotaMax, renewalRate, units int64, lease bool, w ReplicaWait) (Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout+w.Timeout)
	defer cancel()
	flag := 0
	if lease {
		flag = 1
	}
	var conn *redis.Conn
	var v []int64
	// A connection to one node does not follow MOVED or ASK as the cluster
	// client does: while the counter's slot moves or fails over, refresh
	// the slot map and try the slot's (new) master again, within the
	// timeout. The script either ran (counted) or did not, so a retry never
	// counts twice.
	for attempt := 0; ; attempt++ {
		node, err := s.master(ctx, key)
		if err != nil {
			return Grant{}, err
		}
		conn = node.Conn()
		v, err = reserveScript.Run(ctx, conn, []string{key}, quotaMax, renewalRate, units, flag).Int64Slice()
		if err == nil {
			break
		}
		conn.Close()
		cc, ok := s.c.(*redis.ClusterClient)
		if !ok || ctx.Err() != nil || attempt >= 20 || !(redis.HasErrorPrefix(err, "MOVED") ||
			redis.HasErrorPrefix(err, "ASK") || redis.HasErrorPrefix(err, "TRYAGAIN") || networkError(err)) {
			return Grant{}, err
		}
		cc.ReloadState(ctx)
		time.Sleep(25 * time.Millisecond) // the sidecar's own goroutine; never in the VM
	}
	defer conn.Close()
	if len(v) != 4 {
		return Grant{}, fmt.Errorf("quota script returned %d values, want 4", len(v))
	}
	g := Grant{Result: quota.Result{Granted: v[0], Remaining: v[1], ResetAt: v[2]}, WindowMS: v[3]}
	if g.Granted == 0 || quotaMax <= 0 || w.Replicas <= 0 {
		return g, nil // nothing was counted: nothing to replicate
	}
	acked, err := conn.Do(ctx, "WAIT", w.Replicas, w.Timeout.Milliseconds()).Int64()
	if err == nil && acked >= int64(w.Replicas) {
		return g, nil
	}
	if g.ResetAt > 0 {
		_ = releaseScript.Run(ctx, conn, []string{key}, g.Granted, g.ResetAt).Err()
	}
	if err != nil {
		return Grant{}, err
	}
	return Grant{}, fmt.Errorf("%w: %d of %d within %v", ErrReplicasBehind, acked, w.Replicas, w.Timeout)
}

// master is the client of the Redis master that holds key: the client
// itself on standalone and Sentinel, the slot's master on Cluster.
func (s *Store) master(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.c.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	default:
		return nil, fmt.Errorf("quota wait: unsupported Redis client %T", s.c)
	}
}
