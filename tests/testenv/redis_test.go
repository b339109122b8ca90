package testenv

import (
	"bufio"
	"net"
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
