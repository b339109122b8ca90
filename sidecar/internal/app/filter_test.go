package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

type syncReply struct {
	Version  string          `json:"version"`
	Cursor   string          `json:"cursor"`
	Reset    bool            `json:"reset"`
	More     bool            `json:"more"`
	Keys     []string        `json:"keys"`
	Snapshot json.RawMessage `json:"snapshot"`
}

func (s *sidecar) sync(cursor, version string) syncReply {
	s.t.Helper()
	r := s.filter("GET", "/turnpike/v1/sync?cursor="+cursor+"&version="+version, "")
	expect(s.t, "sync", r, 200, "")
	var out syncReply
	if err := json.Unmarshal(r.body, &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

func TestFilterAPI(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
		first := s.sync("", "")
		if first.Reset || len(first.Keys) != 0 || first.Cursor == "" || !strings.Contains(string(first.Snapshot), `"gold":{`) {
			t.Fatalf("first sync = %+v", first)
		}
		if again := s.sync(first.Cursor, first.Version); again.Snapshot != nil || again.Version != first.Version {
			t.Errorf("unchanged version must omit the snapshot: %+v", again)
		}

		key := "filter-api-key-1"
		hash := keys.Hash(key)
		expect(t, "create", s.tyk("POST", "/tyk/keys/"+key, `{"apply_policies":["gold"],"rate":1}`), 200, "")
		got := s.filter("GET", "/turnpike/v1/sessions/"+hash, "")
		expect(t, "session", got, 200, `"apply_policies":["gold"]`)
		if got.header.Get("X-Turnpike-Cursor") == "" || got.header.Get("Content-Type") != "application/json" {
			t.Errorf("session headers: %v", got.header)
		}
		tests := []struct {
			name, method, path, body string
			header                   []string
			code                     int
			want                     string
		}{
			{"no token", "GET", "/turnpike/v1/sessions/" + hash, "", nil, 403, `{"error":"invalid filter token"}`},
			{"Tyk secret is not the token", "GET", "/turnpike/v1/sync", "", []string{"X-Turnpike-Filter-Token", secret}, 403, "invalid filter token"},
			{"unknown key", "GET", "/turnpike/v1/sessions/" + keys.Hash("nope"), "", nil, 404, `{"error":"key not found"}`},
			{"not a hash", "GET", "/turnpike/v1/sessions/" + key, "", nil, 400, "64 lower-case hex"},
			{"quota malformed", "POST", "/turnpike/v1/quota", `{"key_hash":`, nil, 400, "malformed quota request"},
			{"quota unknown field", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","units":1,"bogus":1}`, nil, 400, "bogus"},
			{"quota both ids", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","org_id":"o","units":1}`, nil, 400, "exactly one of key_hash and org_id"},
			{"quota no id", "POST", "/turnpike/v1/quota", `{"units":1}`, nil, 400, "exactly one of"},
			{"quota bad hash", "POST", "/turnpike/v1/quota", `{"key_hash":"abc","units":1}`, nil, 400, "key_hash must be"},
			{"quota zero units", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","units":0}`, nil, 400, "units must be between 1 and 10000"},
			{"quota too many units", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","units":10001}`, nil, 400, "units must be"},
			{"quota unlimited", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","quota_max":-1,"units":3}`, nil, 200, `{"granted":3,"remaining":-1,"reset":0,"quota_max":-1}`},
			{"quota scoped", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","scope":"gold","quota_max":2,"quota_renewal_rate":0,"units":3}`, nil, 200, `{"granted":2,"remaining":0,"reset":0,"quota_max":2}`},
			{"quota exhausted", "POST", "/turnpike/v1/quota", `{"key_hash":"` + hash + `","scope":"gold","quota_max":2,"units":1}`, nil, 200, `"granted":0`},
			{"unknown endpoint", "GET", "/turnpike/v1/nothing", "", nil, 404, `"error"`},
		}
		for _, tt := range tests {
			h := tt.header
			if h == nil && tt.name != "no token" {
				h = []string{"X-Turnpike-Filter-Token", token}
			}
			expect(t, tt.name, s.do(tt.method, tt.path, tt.body, h...), tt.code, tt.want)
		}

		// Revocation: the delete shows up in the feed after the cursor.
		cur := s.sync(first.Cursor, first.Version)
		expect(t, "delete", s.tyk("DELETE", "/tyk/keys/"+key, ""), 200, "")
		next := s.sync(cur.Cursor, cur.Version)
		if !slices.Contains(next.Keys, hash) || next.Reset {
			t.Errorf("deleted key not in the feed: %+v", next)
		}
		if r := s.sync("garbage", ""); !r.Reset {
			t.Errorf("an unparsable cursor must reset: %+v", r)
		}
		m := s.do("GET", "/metrics", "")
		for _, want := range []string{`turnpike_sidecar_quota_decisions_total{decision="exhausted"} 1`,
			`route="/turnpike/v1/quota"`, `turnpike_sidecar_redis_duration_seconds_count{command="evalsha"}`} {
			if !strings.Contains(string(m.body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(string(m.body), key) || strings.Contains(string(m.body), hash) {
			t.Error("a key or key hash leaked into /metrics")
		}
	})
}

// TestQuotaExactAcrossReplicas: 50 concurrent clients on 3 sidecars sharing
// one Redis; exactly quota_max units are granted.
func TestQuotaExactAcrossReplicas(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	sidecars := []*sidecar{start(t, r.URL()), start(t, r.URL()), start(t, r.URL())}
	const quotaMax, clients, perClient = 137, 50, 6
	hash := keys.Hash("contended-key")
	body := fmt.Sprintf(`{"key_hash":%q,"quota_max":%d,"quota_renewal_rate":3600,"units":1}`, hash, quotaMax)
	var granted, denied atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			s := sidecars[c%len(sidecars)]
			for i := 0; i < perClient; i++ {
				res := s.filter("POST", "/turnpike/v1/quota", body)
				if res.code != 200 {
					t.Errorf("quota: %d %s", res.code, res.body)
					return
				}
				var q struct{ Granted int64 }
				_ = json.Unmarshal(res.body, &q)
				granted.Add(q.Granted)
				denied.Add(1 - q.Granted)
			}
		}(c)
	}
	wg.Wait()
	if granted.Load() != quotaMax || denied.Load() != clients*perClient-quotaMax {
		t.Fatalf("granted %d, denied %d of %d requests; want exactly %d granted",
			granted.Load(), denied.Load(), clients*perClient, quotaMax)
	}
	t.Logf("%d requests from %d clients over 3 sidecars: %d granted, %d denied", clients*perClient, clients, granted.Load(), denied.Load())
}

// TestSyncAcrossReplicas: a key deleted and a policy edited through one
// replica reach a filter polling another replica within one second.
func TestSyncAcrossReplicas(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	a, b := start(t, r.URL()), start(t, r.URL())
	expect(t, "policy", a.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
	expect(t, "key", a.tyk("POST", "/tyk/keys/replica-key-1", `{"apply_policies":["gold"]}`), 200, "")
	base := b.sync("", "")

	startT := time.Now()
	expect(t, "delete via A", a.tyk("DELETE", "/tyk/keys/replica-key-1", ""), 200, "")
	edited := strings.Replace(goldPolicy, `"rate":100`, `"rate":3`, 1)
	expect(t, "edit via A", a.tyk("PUT", "/tyk/policies/gold", edited), 200, "")
	var revoked, edit bool
	cursor, version := base.Cursor, base.Version
	for time.Since(startT) < time.Second && !(revoked && edit) {
		r := b.sync(cursor, version)
		cursor = r.Cursor
		revoked = revoked || slices.Contains(r.Keys, keys.Hash("replica-key-1"))
		if r.Snapshot != nil {
			version = r.Version
			edit = strings.Contains(string(r.Snapshot), `"rate":3,`)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !revoked || !edit {
		t.Fatalf("after 1s via replica B: revoked=%v policy edit=%v", revoked, edit)
	}
	t.Logf("revocation and policy edit reached replica B in %v", time.Since(startT))
}

// TestRestartLosesNothing: everything written survives a restart of the
// sidecar and of a persistent Redis.
func TestRestartLosesNothing(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{Persist: true})
	s := start(t, r.URL())
	expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
	expect(t, "api", s.tyk("POST", "/tyk/apis", `{"api_id":"api1","name":"One"}`), 200, "")
	expect(t, "org", s.tyk("POST", "/tyk/org/keys/org1", `{"quota_max":9}`), 200, "")
	expect(t, "key", s.tyk("POST", "/tyk/keys/restart-key-1", `{"apply_policies":["gold"]}`), 200, "")
	q := fmt.Sprintf(`{"key_hash":%q,"quota_max":5,"quota_renewal_rate":3600,"units":2}`, keys.Hash("restart-key-1"))
	expect(t, "spend", s.filter("POST", "/turnpike/v1/quota", q), 200, `"remaining":3`)
	before := s.sync("", "")
	s.srv.Close()

	r.Stop()
	r.Start()
	s2 := start(t, r.URL())
	expect(t, "key", s2.tyk("GET", "/tyk/keys/restart-key-1", ""), 200, `"quota_remaining":3`)
	expect(t, "policy", s2.tyk("GET", "/tyk/policies/gold", ""), 200, `"id":"gold"`)
	expect(t, "api", s2.tyk("GET", "/tyk/apis/api1", ""), 200, `"name":"One"`)
	expect(t, "org", s2.tyk("GET", "/tyk/org/keys/org1", ""), 200, `"quota_max":9`)
	after := s2.sync(before.Cursor, "")
	if after.Reset || after.Version != before.Version {
		t.Errorf("feed or snapshot changed across the restart: before %+v after %+v", before, after)
	}
}

func TestPoliciesFileSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policies.json")
	write := func(content string) {
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"gold":` + goldPolicy + `}`)
	s := start(t, "", func(c *config.Config) { c.PoliciesFile = file })
	expect(t, "get", s.tyk("GET", "/tyk/policies/gold", ""), 200, `"rate":100,`)
	expect(t, "write refused", s.tyk("POST", "/tyk/policies", `{"id":"x"}`), 500, "policies file")
	expect(t, "delete refused", s.tyk("DELETE", "/tyk/policies/gold", ""), 500, "policies file")
	expect(t, "key with file policy", s.tyk("POST", "/tyk/keys/file-key-1", `{"apply_policies":["gold"]}`), 200, "")

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write(`{"gold":` + strings.Replace(goldPolicy, `"rate":100`, `"rate":42`, 1) + `}`)
	waitFor("file edit", func() bool {
		return strings.Contains(string(s.tyk("GET", "/tyk/policies/gold", "").body), `"rate":42,`)
	})
	write(`{"gold": {"rate": "broken"`)
	time.Sleep(100 * time.Millisecond) // several polls at 20 ms
	expect(t, "broken file keeps policies", s.tyk("GET", "/tyk/policies/gold", ""), 200, `"rate":42,`)
}

// TestRedisUnavailable: the sidecar starts without Redis, reports not
// ready (503 with Retry-After on /ready, the Filter API and the Gateway API),
// and recovers once Redis is up.
func TestRedisUnavailable(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	r.Stop()
	s := launch(t, r.URL(), func(c *config.Config) { c.RedisTimeout = 200 * time.Millisecond })
	a := s.app

	expect(t, "ready", s.do("GET", "/ready", ""), 503, "Redis connection not available")
	down := s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("k"), "")
	expect(t, "filter API", down, 503, `{"error":"storage unavailable"}`)
	if down.header.Get("Retry-After") != "1" {
		t.Error("503 without Retry-After")
	}
	expect(t, "hello", s.do("GET", "/hello", ""), 200, `"status":"fail"`)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/tyk/keys", ""},
		{"POST", "/tyk/keys", `{"access_rights":{"a":{"api_id":"a"}}}`},
		{"GET", "/tyk/org/keys/o1", ""},
		// Answered from the config snapshot, which is not loaded yet: not
		// "Policy not found" (400) or 404, which would be wrong once Redis is back.
		{"POST", "/tyk/keys", `{"apply_policies":["gold"]}`},
		{"GET", "/tyk/policies/gold", ""},
		{"GET", "/tyk/apis", ""},
	} {
		got := s.tyk(c.method, c.path, c.body)
		expect(t, "gateway API "+c.method+" "+c.path, got, 503, "Storage unavailable")
		if got.header.Get("Retry-After") != "1" {
			t.Errorf("gateway API %s %s: 503 without Retry-After", c.method, c.path)
		}
	}

	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for a.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("never became ready: %v", a.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
	expect(t, "ready again", s.do("GET", "/ready", ""), 200, "ready")

	// Redis lost after the config was loaded: each storage call fails on
	// its own, and still answers 503 rather than 500 or "not found".
	r.Stop()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/tyk/keys", ""},
		{"POST", "/tyk/keys", `{"access_rights":{"a":{"api_id":"a"}}}`},
		{"GET", "/tyk/keys/some-key", ""},
		{"DELETE", "/tyk/policies/gold", ""},
	} {
		got := s.tyk(c.method, c.path, c.body)
		expect(t, "after losing Redis: "+c.method+" "+c.path, got, 503, "Storage unavailable")
		if got.header.Get("Retry-After") != "1" {
			t.Errorf("after losing Redis: %s %s: 503 without Retry-After", c.method, c.path)
		}
	}
	expect(t, "filter API after losing Redis", s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("k"), ""),
		503, `{"error":"storage unavailable"}`)
}

// TestRunShutsDownGracefully: Run serves until its context ends, then
// returns without error.
func TestRunShutsDownGracefully(t *testing.T) {
	cfg := config.Config{Listen: "127.0.0.1:0", Secret: secret, FilterToken: token, MaxBodyBytes: 1024,
		RedisTimeout: time.Second, ConfigPoll: 20 * time.Millisecond, ShutdownTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	cancel() // before or after the bind: either way Run must shut down cleanly
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	cfg.Listen = "256.0.0.1:1"
	if err := Run(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("bad listen address: %v", err)
	}
}

// TestFreshSyncSeesWritesOfOtherReplicas: a filter request waiting for
// something just written asks with fresh=1, and replica B answers with the
// store's configuration, not with the snapshot of its last poll.
func TestFreshSyncSeesWritesOfOtherReplicas(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	a := start(t, r.URL())
	b := start(t, r.URL(), func(c *config.Config) { c.ConfigPoll = time.Hour })
	base := b.sync("", "")
	expect(t, "policy via A", a.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
	if stale := b.sync(base.Cursor, base.Version); stale.Snapshot != nil {
		t.Fatal("B polled without being asked: the test cannot tell fresh from stale")
	}
	got := b.filter("GET", "/turnpike/v1/sync?cursor="+base.Cursor+"&version="+base.Version+"&fresh=1", "")
	expect(t, "fresh sync", got, 200, `"gold":{`)
}

// TestSessionAnswerSaysWhetherTheOrgHasAnOrgSession: the filter refreshes
// a snapshot without the key's org session when the sidecar says it exists.
func TestSessionAnswerSaysWhetherTheOrgHasAnOrgSession(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	expect(t, "key", s.tyk("POST", "/tyk/keys/org-key-1", `{"org_id":"acme","access_rights":{"a":{"api_id":"a","versions":["Default"]}}}`), 200, "")
	if h := s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org-key-1"), "").header.Get("X-Turnpike-Org-Session"); h != "" {
		t.Fatalf("no org session yet, header %q", h)
	}
	expect(t, "org session", s.tyk("POST", "/tyk/org/keys/acme", `{"org_id":"acme","is_inactive":true}`), 200, "")
	if h := s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org-key-1"), "").header.Get("X-Turnpike-Org-Session"); h != "1" {
		t.Fatalf("org session exists, header %q", h)
	}
}

// TestLeasesOverHTTP: a lease is one script, cut near the limit; a release
// gives back units of its window; an org reset reaches the feed; the
// sidecar's --enforce-org-quotas reaches the filters.
func TestLeasesOverHTTP(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url, func(c *config.Config) { c.EnforceOrgQuotas = true })
		hash := keys.Hash("lease-http-key")
		lease := fmt.Sprintf(`{"key_hash":%q,"quota_max":80,"quota_renewal_rate":3600,"units":50,"lease":true}`, hash)
		r := s.filter("POST", "/turnpike/v1/quota", lease)
		expect(t, "lease", r, 200, `"granted":10,"remaining":70`)
		v := r.json(t)
		wid := int64(v["window_id"].(float64))
		if wid == 0 || v["window_ms"].(float64) < 3590_000 {
			t.Fatalf("lease answer %s", r.body)
		}
		rel := fmt.Sprintf(`{"key_hash":%q,"units":4,"window_id":%d}`, hash, wid)
		expect(t, "release", s.filter("POST", "/turnpike/v1/quota/release", rel), 200, `{"released":4}`)
		expect(t, "stale release", s.filter("POST", "/turnpike/v1/quota/release",
			fmt.Sprintf(`{"key_hash":%q,"units":4,"window_id":%d}`, hash, wid-1)), 200, `{"released":0}`)
		expect(t, "release without window", s.filter("POST", "/turnpike/v1/quota/release",
			fmt.Sprintf(`{"key_hash":%q,"units":4}`, hash)), 400, "window_id is required")

		cur := s.sync("", "")
		expect(t, "org", s.tyk("POST", "/tyk/org/keys/org7?reset_quota=1", `{"quota_max":9}`), 200, "")
		r = s.filter("GET", "/turnpike/v1/sync?cursor="+cur.Cursor, "")
		expect(t, "sync", r, 200, `"orgs":["org7"],"enforce_org_quotas":true`)
	})
}
