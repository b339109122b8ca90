package snapshot

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

func embedded(t *testing.T) *store.Store {
	t.Helper()
	c, m, err := store.Embedded(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); m.Close() })
	return store.New(c, 0)
}

func TestBuildVersionIsContentHash(t *testing.T) {
	p := map[string]*model.Policy{"a": {ID: "a", Rate: 1}, "b": {ID: "b"}}
	a := Build(p, nil, nil)
	b := Build(map[string]*model.Policy{"b": {ID: "b"}, "a": {ID: "a", Rate: 1}}, map[string]*model.APIDefinition{}, nil)
	if a.Version != b.Version {
		t.Error("equal content, different versions")
	}
	c := Build(map[string]*model.Policy{"a": {ID: "a", Rate: 2}, "b": {ID: "b"}}, nil, nil)
	if c.Version == a.Version {
		t.Error("different content, same version")
	}
	if !strings.HasPrefix(string(a.JSON), `{"policies":{"a":{`) || !strings.HasSuffix(string(a.JSON), `},"apis":[],"orgs":{}}`) {
		t.Errorf("JSON = %s", a.JSON)
	}
	if _, ok := a.Policy("a"); !ok {
		t.Error("Policy(a) missing")
	}
}

// Two keepers on one Redis stand for two sidecar replicas: a write through
// one is picked up by the other's poll via the version counter.
func TestReplicasConverge(t *testing.T) {
	st := embedded(t)
	ctx := context.Background()
	k1, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := New(Options{Store: st})
	k1.Poll(ctx)
	k2.Poll(ctx)
	if !k1.Ready() || k1.Current().Version != k2.Current().Version {
		t.Fatal("replicas disagree on the empty config")
	}
	if _, err := st.Put(ctx, store.Policies, "p1", []byte(`{"id":"p1","rate":5,"per":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutOrg(ctx, "o1", []byte(`{"org_id":"o1","quota_max":3}`), false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, store.APIs, "a1", []byte(`{"api_id":"a1","name":"A"}`)); err != nil {
		t.Fatal(err)
	}
	before := k2.Current().Version
	k2.Poll(ctx)
	s := k2.Current()
	if s.Version == before || s.Policies["p1"] == nil || s.Policies["p1"].Rate != 5 ||
		s.Orgs["o1"] == nil || s.APIs["a1"] == nil {
		t.Fatalf("replica 2 did not pick up the writes: %s", s.JSON)
	}
	if err := k1.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if k1.Current().Version != s.Version {
		t.Error("replicas with the same data report different versions")
	}
	// A record another tool broke is skipped, not fatal.
	if _, err := st.Put(ctx, store.Policies, "bad", []byte(`{"id":"bad","rate":"fast"}`)); err != nil {
		t.Fatal(err)
	}
	k2.Poll(ctx)
	if _, ok := k2.Current().Policy("bad"); ok || k2.Current().Policies["p1"] == nil {
		t.Error("bad record handling")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestPoliciesFile(t *testing.T) {
	st := embedded(t)
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "policies.json")
	writeFile(t, file, `{"p1":{"id":"p1","rate":1,"per":1}}`)
	var reloads []string
	k, err := New(Options{Store: st, PoliciesFile: file, OnReload: func(src string, err error) {
		reloads = append(reloads, src+":"+errText(err))
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Policies in Redis are ignored when a file is the source.
	if _, err := st.Put(ctx, store.Policies, "redis-only", []byte(`{"id":"redis-only"}`)); err != nil {
		t.Fatal(err)
	}
	k.Poll(ctx)
	if got := k.Current().Policies; len(got) != 1 || got["p1"] == nil {
		t.Fatalf("policies = %v", got)
	}

	writeFile(t, file, `{"p1":{"id":"p1","rate":2,"per":1},"p2":{"id":"p2"}}`)
	k.Poll(ctx)
	if got := k.Current().Policies; len(got) != 2 || got["p1"].Rate != 2 {
		t.Fatalf("after edit: %v", got)
	}

	good := k.Current().Version
	writeFile(t, file, `{"p1":{"id":"p1","rate":"oops"}}`)
	k.Poll(ctx)
	k.Poll(ctx) // a second poll of the same broken file stays quiet
	if k.Current().Version != good {
		t.Fatal("a broken file replaced the policy set")
	}
	failures := 0
	for _, r := range reloads {
		if strings.HasPrefix(r, "file:") && r != "file:" {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("broken file reported %d times, want once: %v", failures, reloads)
	}

	// Kubernetes ConfigMap style: the file is a symlink into a directory
	// that is swapped atomically.
	link := filepath.Join(dir, "cm.json")
	for i, content := range []string{`{"a":{"id":"a"}}`, `{"b":{"id":"b"}}`} {
		data := filepath.Join(dir, "data"+string(rune('0'+i)))
		if err := os.Mkdir(data, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(data, "p.json"), content)
		tmp := link + ".new"
		if err := os.Symlink(filepath.Join(data, "p.json"), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			k, err = New(Options{Store: st, PoliciesFile: link})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	k.Poll(ctx)
	if _, ok := k.Current().Policy("b"); !ok {
		t.Errorf("symlink swap not picked up: %s", k.Current().JSON)
	}

	if _, err := New(Options{Store: st, PoliciesFile: filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("a missing policies file at start-up must be an error")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestPoliciesFileActiveFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policies.json")
	writeFile(t, file, `{"implicit":{"rate":1},"null":{"active":null},"on":{"active":true},"off":{"active":false}}`)
	k, err := New(Options{Store: embedded(t), PoliciesFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := k.Current()
	for _, id := range []string{"implicit", "null", "on"} {
		if _, ok := s.Policy(id); !ok {
			t.Errorf("policy %q not loaded", id)
		}
	}
	if _, ok := s.Policy("off"); ok || s.Inactive["off"] == nil || strings.Contains(string(s.JSON), `"off"`) {
		t.Errorf(`"active": false must be stored apart and left out of the snapshot: %s`, s.JSON)
	}
	if p, ok := s.StoredPolicy("off"); !ok || p.Active || len(s.SortedPolicies()) != 4 {
		t.Error("the Gateway API view must show the inactive policy")
	}
	writeFile(t, file, `[{"id":"a"},{"id":"b","active":false}]`)
	k.Poll(context.Background())
	if _, ok := k.Current().Policy("a"); !ok || k.Current().Inactive["b"] == nil {
		t.Errorf("array form: %s", k.Current().JSON)
	}
}

// logRecorder keeps every log record's level, message and attributes.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// While Redis is down every poll fails; the log gets the first failure, one
// line a minute with the count, and the recovery (it used to get one line
// per poll: 162 in 37 s).
func TestVersionCheckFailuresLoggedOncePerMinute(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c, err := store.Dial(r.URL()+"?max_retries=-1", 200*time.Millisecond) // fail fast
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	logs := &logRecorder{}
	k, err := New(Options{Store: store.New(c, 200*time.Millisecond), Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	k.now = func() time.Time { return now }
	ctx := context.Background()
	k.Poll(ctx)
	logs.take()

	r.Stop()
	for range 10 { // 20 s of polls
		k.Poll(ctx)
		now = now.Add(2 * time.Second)
	}
	if got := logs.take(); len(got) != 1 || !strings.Contains(got[0], "config version check failed") {
		t.Fatalf("20 s of failures logged %d lines, want 1: %q", len(got), got)
	}
	for range 25 { // 50 s more: past the minute
		k.Poll(ctx)
		now = now.Add(2 * time.Second)
	}
	if got := logs.take(); len(got) != 1 || !strings.Contains(got[0], "still failing failures=") {
		t.Fatalf("the next minute logged %q, want one line with the count", got)
	}

	r.Start()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // the client backs off dialling after failures
		k.Poll(ctx)
		got = logs.take()
	}
	if len(got) != 1 || !strings.Contains(got[0], "INFO config version check recovered failures=") {
		t.Fatalf("recovery logged %q", got)
	}
	k.Poll(ctx)
	if got := logs.take(); len(got) != 0 {
		t.Errorf("a healthy poll logged %q", got)
	}
}
