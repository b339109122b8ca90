package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sidecar replicas announce themselves for the console's status page: each
// writes its entry to one hash about every second (Heartbeat), and Replicas
// lists those seen recently. Nothing else depends on it.
const (
	replicasKey = "turnpike-sidecars"
	// ReplicaTTL is how long a heartbeat counts.
	ReplicaTTL = 5 * time.Second
)

// Replica is one sidecar's heartbeat.
type Replica struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Started int64  `json:"started"` // unix ms
	Seen    int64  `json:"seen"`    // unix ms, the replica's clock
	Ready   bool   `json:"ready"`
}

// Heartbeat records r (Seen set to now).
func (s *Store) Heartbeat(ctx context.Context, r Replica, now time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	r.Seen = now.UnixMilli()
	b, _ := json.Marshal(r)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, replicasKey, r.ID, b)
		p.PExpire(ctx, replicasKey, 10*ReplicaTTL)
		return nil
	})
	return err
}

// Replicas returns the replicas whose last heartbeat is within ReplicaTTL
// of now, dropping older entries from the hash.
func (s *Store) Replicas(ctx context.Context, now time.Time) ([]Replica, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	all, err := s.c.HGetAll(ctx, replicasKey).Result()
	if err != nil {
		return nil, err
	}
	var out []Replica
	var stale []string
	for id, v := range all {
		var r Replica
		if json.Unmarshal([]byte(v), &r) != nil || now.UnixMilli()-r.Seen > ReplicaTTL.Milliseconds() {
			stale = append(stale, id)
			continue
		}
		out = append(out, r)
	}
	if len(stale) > 0 {
		s.c.HDel(ctx, replicasKey, stale...)
	}
	return out, nil
}
