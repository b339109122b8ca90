package testenv

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestRedisRestartKeepsDataWithPersistence(t *testing.T) {
	r := StartRedis(t, RedisOptions{Persist: true})
	send(t, r.Addr(), "SET k v")
	r.Stop()
	r.Start()
	if got := send(t, r.Addr(), "GET k"); got != "$1" {
		t.Fatalf("GET after restart = %q, want the stored value's bulk header $1", got)
	}
}

// A port another test's server took between FreePort and the bind is never
// used: the new server moves to another port, and its identity is checked.
func TestRedisStartMovesOffATakenPort(t *testing.T) {
	other := StartRedis(t, RedisOptions{})
	ports := []int{other.Port}
	r := &Redis{Dir: t.TempDir(), name: "redis", t: t}
	r.startFresh(func(t testing.TB) int {
		if len(ports) > 0 {
			p := ports[0]
			ports = ports[1:]
			return p
		}
		return FreePort(t)
	})
	t.Cleanup(r.Stop)
	if r.Port == other.Port {
		t.Fatalf("started on the taken port %d", r.Port)
	}
	if pid, err := serverPID(r.Addr()); err != nil || pid != r.cmd.Process.Pid {
		t.Fatalf("server on %s: pid %d (%v), want %d", r.Addr(), pid, err, r.cmd.Process.Pid)
	}
}

func send(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

func TestSlotMatchesRedis(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for key, want := range map[string]int{"123456789": 12739, "foo": 12182, "{user1000}.following": 3443} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestClusterAndSentinelStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 11 redis-server processes")
	}
	for name, b := range map[string]func(t *testing.T) Backend{
		"cluster":  func(t *testing.T) Backend { return StartCluster(t, ClusterOptions{}) },
		"sentinel": func(t *testing.T) Backend { return StartSentinel(t, SentinelOptions{}) },
	} {
		t.Run(name, func(t *testing.T) {
			be := b(t)
			c := be.Client()
			ctx := context.Background()
			for i := range 100 { // keys over every master
				k := "k" + strconv.Itoa(i)
				if err := c.Set(ctx, k, i, 0).Err(); err != nil {
					t.Fatalf("SET %s: %v", k, err)
				}
				if v, err := c.Get(ctx, k).Int(); err != nil || v != i {
					t.Fatalf("GET %s = %d, %v", k, v, err)
				}
			}
			t.Logf("%s: 100 keys written and read back through %s", name, be.URL())
		})
	}
}
