package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of redis-server processes on loopback: masters
// and replicas, created with `redis-cli --cluster create`, as an operator
// would.
type Cluster struct {
	Nodes []*Redis // in creation order: the first Masters are the masters
	t     testing.TB
}

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	Persist  bool          // AOF with fsync always on every node
	Masters  int           // 0 = 3
	Replicas int           // per master; 0 = 1
	Timeout  time.Duration // cluster-node-timeout; 0 = 2 s (a killed master is failed over after about this long)
}

// StartCluster starts a Redis Cluster and waits until every node reports
// cluster_state:ok. The processes are killed when the test ends.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found (it comes with redis-server, e.g. `apt-get install redis-server`)")
	}
	c := &Cluster{t: t}
	var addrs []string
	for i := range opts.Masters * (1 + opts.Replicas) {
		r := &Redis{Dir: t.TempDir(), persist: opts.Persist, name: "redis-node" + strconv.Itoa(i), t: t,
			extra: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(opts.Timeout.Milliseconds())),
				// A replica's first sync starts at once, not after 5 s.
				"--repl-diskless-sync-delay", "0"}}
		r.startFresh(clusterPort)
		t.Cleanup(r.Stop)
		c.Nodes = append(c.Nodes, r)
		addrs = append(addrs, r.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	start := time.Now()
	c.WaitHealthy(60 * time.Second)
	t.Logf("redis cluster: %d masters, %d replicas on %s; healthy %v after create",
		opts.Masters, opts.Masters*opts.Replicas, strings.Join(addrs, ","), time.Since(start).Round(time.Millisecond))
	return c
}

// URL is the sidecar's --redis URL of the cluster (every node as a seed).
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		if i == 0 {
			u += "?addr=" + n.Addr()
		} else {
			u += "&addr=" + n.Addr()
		}
	}
	return u
}

// Client is a cluster client for the test's own reads and writes.
func (c *Cluster) Client() redis.UniversalClient {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// clusterPort is a free port whose cluster bus port (port + 10000, where
// Redis puts it) is free too and exists: Redis refuses to run a cluster
// node on a port above 55535.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := FreePort(t)
		if p > 55535 {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port pair (port, port+10000) for a cluster node")
	return 0
}

// Start restarts every stopped node (same ports and directories, so the
// nodes read their nodes.conf and AOF back) and waits until the cluster is
// healthy.
func (c *Cluster) Start() {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			n.Start()
		}
	}
	c.WaitHealthy(60 * time.Second)
}

// WaitHealthy waits until every running node reports cluster_state:ok and
// knows every other node, and all 16384 slots are served by running masters.
func (c *Cluster) WaitHealthy(limit time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if last = c.healthy(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("redis cluster not healthy after %v: %v", limit, last)
}

func (c *Cluster) healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		info, err := n.command(ctx, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		s := fmt.Sprint(info)
		if !strings.Contains(s, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", n.Addr())
		}
		if !strings.Contains(s, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))) {
			return fmt.Errorf("%s: does not know every node yet", n.Addr())
		}
		// A replica that has not synced with its master yet could not
		// take over from it.
		repl, err := n.command(ctx, "INFO", "replication")
		if err != nil {
			return err
		}
		if r := fmt.Sprint(repl); strings.Contains(r, "role:slave") && !strings.Contains(r, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync with its master yet", n.Addr())
		}
	}
	// Every slot must be served by a running master.
	return c.slotsServed()
}

func (c *Cluster) slotsServed() error {
	owners := c.Owners()
	served := 0
	for _, o := range owners {
		if o != nil && o.Running() {
			served++
		}
	}
	if served != 16384 {
		return fmt.Errorf("%d of 16384 slots served by a running master", served)
	}
	return nil
}

// Owners maps each slot to the node serving it as master, as a running
// node's CLUSTER SHARDS/SLOTS answer says (nil where no node answers).
func (c *Cluster) Owners() []*Redis {
	out := make([]*Redis, 16384)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	byPort := map[int]*Redis{}
	for _, n := range c.Nodes {
		byPort[n.Port] = n
	}
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		slots, err := cl.ClusterSlots(ctx).Result()
		_ = cl.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if len(s.Nodes) == 0 {
				continue
			}
			_, port, _ := strings.Cut(s.Nodes[0].Addr, ":")
			p, _ := strconv.Atoi(port)
			for i := s.Start; i <= s.End; i++ {
				out[i] = byPort[p]
			}
		}
		return out
	}
	return out
}

// MasterOf is the node serving the slot of key as master.
func (c *Cluster) MasterOf(key string) *Redis {
	return c.Owners()[Slot(key)]
}

// command runs one command on this node alone.
func (r *Redis) command(ctx context.Context, args ...any) (any, error) {
	cl := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer cl.Close()
	return cl.Do(ctx, args...).Result()
}

// Command runs one command on this node alone (e.g. CLUSTER SETSLOT).
func (r *Redis) Command(args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.command(ctx, args...)
}

// Slot is the Redis Cluster hash slot of a key (CRC16/XMODEM of the key or
// of its {hash tag}, mod 16384).
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// ID is the node's cluster node id.
func (r *Redis) ID() (string, error) {
	id, err := r.Command("CLUSTER", "MYID")
	return fmt.Sprint(id), err
}

// MigrateSlot moves a hash slot, with its keys, to another master while
// clients keep using it, as `redis-cli --cluster reshard` does: the target
// imports, the source migrates (clients get ASK for keys already moved),
// MIGRATE moves the keys in batches, and every master learns the new owner
// (clients then get MOVED). The keys stay moved but the slot unassigned
// for askWindow, in which every client of them is sent with ASK. It
// returns how many keys moved.
func (c *Cluster) MigrateSlot(slot int, to *Redis, askWindow time.Duration) (int, error) {
	from := c.Owners()[slot]
	if from == nil {
		return 0, fmt.Errorf("slot %d has no master", slot)
	}
	if from == to {
		return 0, nil
	}
	fromID, err := from.ID()
	if err != nil {
		return 0, err
	}
	toID, err := to.ID()
	if err != nil {
		return 0, err
	}
	if _, err := to.Command("CLUSTER", "SETSLOT", slot, "IMPORTING", fromID); err != nil {
		return 0, fmt.Errorf("SETSLOT IMPORTING: %w", err)
	}
	if _, err := from.Command("CLUSTER", "SETSLOT", slot, "MIGRATING", toID); err != nil {
		return 0, fmt.Errorf("SETSLOT MIGRATING: %w", err)
	}
	moved := 0
	for {
		v, err := from.Command("CLUSTER", "GETKEYSINSLOT", slot, 10)
		if err != nil {
			return moved, err
		}
		keys, _ := v.([]any)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", to.Port, "", 0, 5000, "KEYS"}
		args = append(args, keys...)
		if _, err := from.Command(args...); err != nil {
			return moved, fmt.Errorf("MIGRATE: %w", err)
		}
		moved += len(keys)
	}
	time.Sleep(askWindow)
	// The target first, then the source, then the other masters.
	for _, n := range append([]*Redis{to, from}, c.Nodes...) {
		if !n.Running() {
			continue
		}
		// Replicas refuse SETSLOT ("only with masters") and follow their master.
		if _, err := n.Command("CLUSTER", "SETSLOT", slot, "NODE", toID); err != nil && !strings.Contains(err.Error(), "master") {
			return moved, fmt.Errorf("SETSLOT NODE on %s: %w", n.Addr(), err)
		}
	}
	return moved, nil
}

// Masters are the running nodes that serve slots.
func (c *Cluster) Masters() []*Redis {
	seen := map[*Redis]bool{}
	var out []*Redis
	for _, o := range c.Owners() {
		if o != nil && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}
