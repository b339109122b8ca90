package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TopologyEnv names the environment variable that chooses the Redis the
// suites run against: standalone (default), cluster or sentinel. `make
// test` runs the sidecar, filter and e2e suites once per topology.
const TopologyEnv = "TURNPIKE_TEST_REDIS"

// Topologies are the values of TURNPIKE_TEST_REDIS.
const (
	Standalone       = "standalone"
	ClusterTopology  = "cluster"
	SentinelTopology = "sentinel"
)

// Topology is the topology TURNPIKE_TEST_REDIS chooses ("" = standalone).
// An unknown value panics: a typo must not silently test standalone.
func Topology() string {
	switch v := os.Getenv(TopologyEnv); v {
	case "", Standalone:
		return Standalone
	case ClusterTopology, SentinelTopology:
		return v
	default:
		panic(fmt.Sprintf("%s=%q: want standalone, cluster or sentinel", TopologyEnv, v))
	}
}

// Backend is a running Redis of any topology.
type Backend interface {
	URL() string                   // the sidecar's --redis URL
	Client() redis.UniversalClient // a client for the test's own reads and writes (closed at cleanup)
	Stop()                         // kill every process (SIGKILL)
	Start()                        // restart what Stop killed, same ports and directories
}

// StartBackend starts the Redis topology TURNPIKE_TEST_REDIS chooses.
func StartBackend(t testing.TB, opts RedisOptions) Backend {
	t.Helper()
	switch Topology() {
	case ClusterTopology:
		return StartCluster(t, ClusterOptions{Persist: opts.Persist})
	case SentinelTopology:
		return StartSentinel(t, SentinelOptions{Persist: opts.Persist})
	default:
		return StartRedis(t, opts)
	}
}

// Client is a client for the test's own reads and writes.
func (r *Redis) Client() redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// OncePerRun skips a test that starts its own Cluster or Sentinel (a
// failover, a resharding) when the suite is being repeated against another
// topology (TURNPIKE_TEST_REDIS set): it has run in the standalone pass.
func OncePerRun(t testing.TB) {
	t.Helper()
	if Topology() != Standalone {
		t.Skipf("runs in the standalone pass only (%s=%s)", TopologyEnv, Topology())
	}
	if testing.Short() {
		t.Skip("starts its own Redis processes and kills or reshards them (-short)")
	}
}
