package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels monitor.
const SentinelMaster = "turnpike"

// Sentinel is a Sentinel-managed Redis: a master, its replicas and three
// Sentinels (`redis-server <conf> --sentinel`, quorum 2), on loopback.
type Sentinel struct {
	Data      []*Redis // the master at start, then its replicas
	Sentinels []*Redis
	t         testing.TB
}

// SentinelOptions configures StartSentinel.
type SentinelOptions struct {
	Persist   bool          // AOF with fsync always on the data nodes
	Replicas  int           // 0 = 1
	DownAfter time.Duration // down-after-milliseconds; 0 = 1 s
}

// StartSentinel starts the master, its replicas and three Sentinels and
// waits until the Sentinels agree on the master and see every replica.
func StartSentinel(t testing.TB, opts SentinelOptions) *Sentinel {
	t.Helper()
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.DownAfter == 0 {
		opts.DownAfter = time.Second
	}
	s := &Sentinel{t: t}
	for i := range 1 + opts.Replicas {
		r := &Redis{Dir: t.TempDir(), persist: opts.Persist, name: "redis-data" + strconv.Itoa(i), t: t}
		r.extra = []string{"--repl-diskless-sync-delay", "0"} // a replica's first sync at once
		if i > 0 {
			r.extra = append(r.extra, "--replicaof", "127.0.0.1", strconv.Itoa(s.Data[0].Port))
		}
		r.startFresh(FreePort)
		t.Cleanup(r.Stop)
		s.Data = append(s.Data, r)
	}
	for i := range 3 {
		r := &Redis{Port: FreePort(t), Dir: t.TempDir(), name: "sentinel" + strconv.Itoa(i), t: t}
		r.conf = filepath.Join(r.Dir, "sentinel.conf")
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nloglevel warning\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s 10000\n"+
			"sentinel parallel-syncs %s 1\n",
			r.Port, r.Dir, SentinelMaster, s.Data[0].Port, SentinelMaster, opts.DownAfter.Milliseconds(),
			SentinelMaster, SentinelMaster)
		if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		r.Start()
		t.Cleanup(r.Stop)
		s.Sentinels = append(s.Sentinels, r)
	}
	start := time.Now()
	s.waitReady(60 * time.Second)
	t.Logf("redis sentinel: master %s, %d replicas, sentinels %s; ready %v after start",
		s.Data[0].Addr(), opts.Replicas, s.sentinelAddrs(), time.Since(start).Round(time.Millisecond))
	return s
}

func (s *Sentinel) sentinelAddrs() string {
	var a []string
	for _, r := range s.Sentinels {
		a = append(a, r.Addr())
	}
	return strings.Join(a, ",")
}

// URL is the sidecar's --redis URL: every Sentinel, the master name.
func (s *Sentinel) URL() string {
	u := "redis+sentinel://" + s.Sentinels[0].Addr() + "/0?master_name=" + SentinelMaster
	for _, r := range s.Sentinels[1:] {
		u += "&addr=" + r.Addr()
	}
	return u
}

// Client is a failover client for the test's own reads and writes.
func (s *Sentinel) Client() redis.UniversalClient {
	var addrs []string
	for _, r := range s.Sentinels {
		addrs = append(addrs, r.Addr())
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: addrs})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Master is the data node the Sentinels currently name as master.
func (s *Sentinel) Master() (*Redis, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var last error
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		_ = c.Close()
		if err != nil {
			last = err
			continue
		}
		for _, r := range s.Data {
			if len(addr) == 2 && addr[1] == strconv.Itoa(r.Port) {
				return r, nil
			}
		}
		return nil, fmt.Errorf("sentinel names unknown master %v", addr)
	}
	return nil, fmt.Errorf("no sentinel answers: %v", last)
}

// waitReady waits until every Sentinel knows the master, its replicas and
// the other Sentinels, so a failover can be authorised.
func (s *Sentinel) waitReady(limit time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if last = s.ready(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("sentinels not ready after %v: %v", limit, last)
}

func (s *Sentinel) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		m, err := c.Master(ctx, SentinelMaster).Result()
		_ = c.Close()
		if err != nil {
			return err
		}
		if m["num-other-sentinels"] != strconv.Itoa(len(s.Sentinels)-1) {
			return fmt.Errorf("sentinel %s sees %s other sentinels", sn.Addr(), m["num-other-sentinels"])
		}
		if m["num-slaves"] != strconv.Itoa(len(s.Data)-1) {
			return fmt.Errorf("sentinel %s sees %s replicas", sn.Addr(), m["num-slaves"])
		}
		if m["master-link-status"] != "" && m["master-link-status"] != "ok" {
			return fmt.Errorf("sentinel %s: master link %s", sn.Addr(), m["master-link-status"])
		}
		if strings.Contains(m["flags"], "down") {
			return fmt.Errorf("sentinel %s: master flags %s", sn.Addr(), m["flags"])
		}
	}
	// Every replica in sync, so that a failover loses only the last writes.
	for _, r := range s.Data {
		if !r.Running() {
			continue
		}
		info, err := r.command(ctx, "INFO", "replication")
		if err != nil {
			return err
		}
		if i := fmt.Sprint(info); strings.Contains(i, "role:slave") && !strings.Contains(i, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync with its master yet", r.Addr())
		}
	}
	return nil
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	for _, r := range append(append([]*Redis{}, s.Sentinels...), s.Data...) {
		r.Stop()
	}
}

// Start restarts every stopped process and waits until the Sentinels are
// ready again.
func (s *Sentinel) Start() {
	s.t.Helper()
	for _, r := range append(append([]*Redis{}, s.Data...), s.Sentinels...) {
		if !r.Running() {
			r.Start()
		}
	}
	s.waitReady(60 * time.Second)
}
