package store

import (
	"context"
	"testing"
	"time"
)

func TestReplicaHeartbeats(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		for _, r := range []Replica{{ID: "a", Version: "1", Ready: true}, {ID: "b", Version: "2"}} {
			if err := s.Heartbeat(ctx, r, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Heartbeat(ctx, Replica{ID: "old"}, now.Add(-ReplicaTTL-time.Second)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Replicas(ctx, now)
		if err != nil || len(got) != 2 {
			t.Fatalf("replicas %+v, %v; want a and b, not the stale one", got, err)
		}
		for _, r := range got {
			if r.Seen != now.UnixMilli() || (r.ID == "a") != r.Ready {
				t.Errorf("replica %+v", r)
			}
		}
		if n := s.Client().HLen(ctx, replicasKey).Val(); n != 2 {
			t.Errorf("%d entries left, want the stale one dropped", n)
		}
	})
}
