package app

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

type reloadReply struct {
	Status, Message string
	TimedOut        bool   `json:"timed_out"`
	Filters         int    `json:"filters"`
	FiltersCurrent  int    `json:"filters_current"`
	ConfigVersion   string `json:"config_version"`
	WaitedMS        int64  `json:"waited_ms"`
}

func (s *sidecar) reloadBlocking(path string) reloadReply {
	s.t.Helper()
	r := s.tyk("GET", path, "")
	var rr reloadReply
	if err := json.Unmarshal(r.body, &rr); err != nil || r.code != 200 || rr.Status != "ok" {
		s.t.Fatalf("%s: %d %s", path, r.code, r.body)
	}
	return rr
}

// poll simulates one filter VM's sync poll holding config version.
func (s *sidecar) poll(vm, version string) {
	s.t.Helper()
	q := "/turnpike/v1/sync?cursor=&version=" + version
	if vm != "" {
		q += "&vm=" + vm
	}
	expect(s.t, "sync poll", s.filter("GET", q, ""), 200, `"version"`)
}

// GET /tyk/reload?block=true waits until every filter that polled recently
// holds the current config, or times out; without block it returns at once.
func TestBlockingReload(t *testing.T) {
	redis := testenv.StartBackend(t, testenv.RedisOptions{})
	s := start(t, redis.URL())
	other := start(t, redis.URL()) // polls reach either replica: tracking is shared

	if rr := s.reloadBlocking("/tyk/reload?block=true"); rr.Filters != 0 || rr.TimedOut {
		t.Fatalf("no filters yet: %+v", rr)
	}
	old := s.app.keeper.Current().Version
	s.poll("vm-a", old)
	other.poll("vm_B", old)
	s.poll("", "stale")         // no vm: not tracked
	s.poll("bad%20id", "stale") // not an id: not tracked
	rr := s.reloadBlocking("/tyk/reload/group?block=1")
	if rr.Filters != 2 || rr.FiltersCurrent != 2 || rr.TimedOut || rr.ConfigVersion != old || rr.Message != "" {
		t.Fatalf("every filter current: %+v", rr)
	}

	// A config change: vm-a gets it, vm_B does not.
	expect(t, "api", s.tyk("POST", "/tyk/apis", `{"api_id":"api1"}`), 200, "added")
	cur := s.app.keeper.Current().Version
	s.poll("vm-a", cur)
	start := time.Now()
	rr = s.reloadBlocking("/tyk/reload?block=true&timeout=300ms")
	if !rr.TimedOut || rr.Filters != 2 || rr.FiltersCurrent != 1 || rr.ConfigVersion != cur ||
		rr.Message != "reloaded, but after 300ms 1 of 2 filters still hold an older configuration" {
		t.Fatalf("one filter behind: %+v", rr)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second || rr.WaitedMS < 300 {
		t.Errorf("timed out after %v (waited_ms %d), want about 300ms", d, rr.WaitedMS)
	}

	// Without block, at once and in Tyk's shape, whatever the filters hold.
	expect(t, "non-blocking", s.tyk("GET", "/tyk/reload", ""), 200, `{"status":"ok","message":""}`+"\n")
	expect(t, "bad timeout", s.tyk("GET", "/tyk/reload?block=true&timeout=soon", ""), 400, "timeout must be")

	// The lagging filter catches up while the reload waits.
	done := make(chan reloadReply)
	go func() { done <- other.reloadBlocking("/tyk/reload/group?block=true") }()
	time.Sleep(200 * time.Millisecond)
	other.poll("vm_B", cur)
	select {
	case rr = <-done:
		if rr.TimedOut || rr.Filters != 2 || rr.FiltersCurrent != 2 || rr.WaitedMS < 150 {
			t.Errorf("after the catch-up: %+v", rr)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("blocking reload did not return when the last filter caught up")
	}
}
