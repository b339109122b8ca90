package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// A Redis without replicas cannot acknowledge a grant that waits for one:
// the grant fails and its units are given back. (tests/fault runs the same
// against a real replica, where grants succeed.)
func TestLeaseWaitWithoutReplica(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c, err := Dial(r.URL(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := New(c, 0)
	ctx := context.Background()
	key := QuotaKey("", "waitkey")

	tests := []struct {
		name     string
		wait     ReplicaWait
		wantErr  error
		wantUsed int64
	}{
		{"no replica required", ReplicaWait{}, nil, 5},
		{"one replica required, none there", ReplicaWait{Replicas: 1, Timeout: 50 * time.Millisecond}, ErrReplicasBehind, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := s.LeaseWait(ctx, key, 100, 3600, 5, tt.wait)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LeaseWait: %v, want %v", err, tt.wantErr)
			}
			if err == nil && g.Granted != 5 {
				t.Fatalf("granted %d, want 5", g.Granted)
			}
			st, err := s.Counters(ctx, time.Now().Unix(), key)
			if err != nil {
				t.Fatal(err)
			}
			if st[0].Used != tt.wantUsed {
				t.Fatalf("counter %d after the grant, want %d (a failed wait gives its units back)", st[0].Used, tt.wantUsed)
			}
		})
	}
}
