package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/quota"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// backends runs f against a real redis-server and the embedded store: the
// same code and scripts must behave identically on both.
func backends(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("redis-server", func(t *testing.T) {
		r := testenv.StartBackend(t, testenv.RedisOptions{})
		c, err := Dial(r.URL(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f(t, New(c, 0))
	})
	t.Run("embedded", func(t *testing.T) {
		c, m, err := Embedded(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); m.Close() })
		f(t, New(c, 0))
	})
}

func hashN(i int) string { return fmt.Sprintf("%064x", i) }

func TestSessionsAndFeed(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.EnsureFeed(ctx); err != nil {
			t.Fatal(err)
		}
		start, err := s.Cursor(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Session(ctx, hashN(1)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing session: err = %v", err)
		}
		counter := QuotaKey("", hashN(1))
		if _, err := s.Reserve(ctx, counter, 5, 60, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSession(ctx, hashN(1), []byte(`{"a":1}`), 0, []string{counter}); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Counters(ctx, time.Now().Unix(), counter); st[0].Used != 0 {
			t.Errorf("PutSession did not reset the counter: %+v", st[0])
		}
		if err := s.PutSession(ctx, hashN(2), []byte(`{"b":2}`), time.Hour, nil); err != nil {
			t.Fatal(err)
		}
		data, cur, err := s.Session(ctx, hashN(1))
		if err != nil || string(data) != `{"a":1}` {
			t.Fatalf("Session = %q, %v", data, err)
		}
		if err := s.PutSession(ctx, hashN(1), []byte(`{"a":2}`), 0, nil); err != nil {
			t.Fatal(err)
		}
		// Changes after the session read: only the rewrite of key 1.
		ch, err := s.ChangesSince(ctx, cur, 1000)
		if err != nil || ch.Reset || strings.Join(ch.Keys, ",") != hashN(1) {
			t.Fatalf("ChangesSince(session cursor) = %+v, %v", ch, err)
		}
		// From the start: 1, 2 (deduplicated, oldest first).
		ch, err = s.ChangesSince(ctx, start, 1000)
		if err != nil || ch.Reset || ch.More || strings.Join(ch.Keys, ",") != hashN(1)+","+hashN(2) {
			t.Fatalf("ChangesSince(start) = %+v, %v", ch, err)
		}
		// Paged: one entry at a time.
		page, err := s.ChangesSince(ctx, start, 1)
		if err != nil || !page.More || len(page.Keys) != 1 || page.Keys[0] != hashN(1) {
			t.Fatalf("page 1 = %+v, %v", page, err)
		}
		ok, err := s.DeleteSession(ctx, hashN(2), nil)
		if err != nil || !ok {
			t.Fatalf("DeleteSession = %v, %v", ok, err)
		}
		ok, err = s.DeleteSession(ctx, hashN(2), nil)
		if err != nil || ok {
			t.Fatalf("second DeleteSession = %v, %v", ok, err)
		}
		end, err := s.ChangesSince(ctx, ch.Cursor, 1000)
		if err != nil || end.Reset || len(end.Keys) != 1 || end.Keys[0] != hashN(2) {
			t.Fatalf("after delete = %+v, %v", end, err)
		}
		hashes, err := s.SessionHashes(ctx)
		if err != nil || len(hashes) != 1 || hashes[0] != hashN(1) {
			t.Fatalf("SessionHashes = %v, %v", hashes, err)
		}
		// Caught up: no keys, same cursor.
		idle, err := s.ChangesSince(ctx, end.Cursor, 1000)
		if err != nil || idle.Reset || len(idle.Keys) != 0 || idle.Cursor != end.Cursor {
			t.Fatalf("idle = %+v, %v", idle, err)
		}
	})
}

func TestFeedReset(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			if err := s.PutSession(ctx, hashN(i), []byte(`{}`), 0, nil); err != nil {
				t.Fatal(err)
			}
		}
		first, _ := s.ChangesSince(ctx, "", 10)
		tests := []struct {
			name, cursor string
		}{
			{"unparsable", "yesterday"},
			{"trimmed", "1-0"},
			{"from the future", fmt.Sprintf("%d-0", uint64(time.Now().Add(time.Hour).UnixMilli()))},
		}
		for _, tt := range tests {
			ch, err := s.ChangesSince(ctx, tt.cursor, 10)
			if err != nil || !ch.Reset || ch.Cursor != first.Cursor || len(ch.Keys) != 0 {
				t.Errorf("%s: %+v, %v; want reset to %s", tt.name, ch, err, first.Cursor)
			}
		}
		// A wiped feed resets callers and starts over.
		if err := s.c.Del(ctx, changesKey).Err(); err != nil {
			t.Fatal(err)
		}
		ch, err := s.ChangesSince(ctx, first.Cursor, 10)
		if err != nil || !ch.Reset {
			t.Fatalf("after wipe: %+v, %v", ch, err)
		}
		again, err := s.ChangesSince(ctx, ch.Cursor, 10)
		if err != nil || again.Reset {
			t.Fatalf("cursor handed out after a wipe must be valid: %+v, %v", again, err)
		}
	})
}

func TestConfigObjects(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		v0, _ := s.ConfigVersion(ctx)
		created, err := s.Put(ctx, Policies, "p1", []byte(`{"id":"p1"}`))
		if err != nil || !created {
			t.Fatalf("Put = %v, %v", created, err)
		}
		created, err = s.Put(ctx, Policies, "p1", []byte(`{"id":"p1","rate":1}`))
		if err != nil || created {
			t.Fatalf("second Put = %v, %v", created, err)
		}
		if _, err := s.Put(ctx, APIs, "a1", []byte(`{"api_id":"a1"}`)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, Policies, "p1")
		if err != nil || string(got) != `{"id":"p1","rate":1}` {
			t.Fatalf("Get = %q, %v", got, err)
		}
		if _, err := s.Get(ctx, APIs, "p1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("kinds must not mix: %v", err)
		}
		all, err := s.All(ctx, APIs)
		if err != nil || len(all) != 1 {
			t.Fatalf("All(APIs) = %v, %v", all, err)
		}
		if ok, err := s.Delete(ctx, Policies, "p1"); err != nil || !ok {
			t.Fatalf("Delete = %v, %v", ok, err)
		}
		if ok, err := s.Delete(ctx, Policies, "p1"); err != nil || ok {
			t.Fatalf("second Delete = %v, %v", ok, err)
		}
		created, err = s.PutOrg(ctx, "org1", []byte(`{"org_id":"org1"}`), false)
		if err != nil || !created {
			t.Fatalf("PutOrg = %v, %v", created, err)
		}
		orgCounter := QuotaKey("", "org1")
		if _, err := s.Reserve(ctx, orgCounter, 10, 0, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutOrg(ctx, "org1", []byte(`{"org_id":"org1","rate":2}`), true); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Counters(ctx, 0, orgCounter); st[0].Used != 0 {
			t.Errorf("reset_quota kept the org counter: %+v", st[0])
		}
		orgs, err := s.Orgs(ctx)
		if err != nil || string(orgs["org1"]) != `{"org_id":"org1","rate":2}` {
			t.Fatalf("Orgs = %q, %v", orgs, err)
		}
		if ok, err := s.DeleteOrg(ctx, "org1"); err != nil || !ok {
			t.Fatalf("DeleteOrg = %v, %v", ok, err)
		}
		if _, err := s.Org(ctx, "org1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Org after delete: %v", err)
		}
		if ids, _ := s.OrgIDs(ctx); len(ids) != 0 {
			t.Fatalf("OrgIDs after delete = %v", ids)
		}
		v1, _ := s.ConfigVersion(ctx)
		// 2 policy puts, 1 API put, 2 deletes (one of a missing policy),
		// 2 org puts, 1 org delete: every write bumps.
		if v1-v0 != 8 {
			t.Errorf("config version moved by %d, want 8", v1-v0)
		}
	})
}

// TestReserveMatchesSpec drives the Lua script and shared/quota.Reserve with
// the same random sequences under a controlled clock and demands identical
// results at every step.
func TestReserveMatchesSpec(t *testing.T) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	s := New(c, 0)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	now := int64(1_700_000_000)
	steps := 0
	for seq := 0; seq < 40; seq++ {
		key := fmt.Sprintf("quota-seq%d", seq)
		qmax := []int64{-1, 0, 1, 3, 10}[rng.Intn(5)]
		rate := []int64{-1, 0, 5, 60}[rng.Intn(4)]
		var st quota.State
		for i := 0; i < 30; i++ {
			now += []int64{0, 0, 1, 2, 7, 61}[rng.Intn(6)]
			if rng.Intn(10) == 0 { // configuration changes mid-life
				rate = []int64{-1, 0, 5, 60}[rng.Intn(4)]
			}
			units := int64(1 + rng.Intn(4))
			if st.WindowEnd != 0 && now >= st.WindowEnd {
				// The stored state is the counter key, which Redis expires at
				// the window end. The spec keeps the count of an ended
				// window only when the renewal rate has meanwhile been set
				// to "never"; the key is gone by then.
				st = quota.State{}
			}
			m.SetTime(time.Unix(now, 0))
			want, next := quota.Reserve(st, qmax, rate, now, units)
			got, err := s.Reserve(ctx, key, qmax, rate, units)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("seq %d step %d (max %d rate %d units %d at %d): script %+v, spec %+v",
					seq, i, qmax, rate, units, now, got, want)
			}
			st = next
			steps++
		}
	}
	t.Logf("%d reservations identical to shared/quota.Reserve", steps)
}

func TestReserveRealRedis(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now().Unix()
		var granted int64
		for i := 0; i < 5; i++ {
			r, err := s.Reserve(ctx, "quota-x", 7, 3600, 2)
			if err != nil {
				t.Fatal(err)
			}
			granted += r.Granted
			if r.ResetAt < now+3599 || r.ResetAt > now+3602 {
				t.Errorf("ResetAt = %d, want about now+3600", r.ResetAt)
			}
		}
		if granted != 7 {
			t.Errorf("granted %d units of a 7-unit quota", granted)
		}
		st, err := s.Counters(ctx, now, "quota-x", "quota-missing")
		if err != nil || st[0].Used != 7 || st[1] != (quota.State{}) {
			t.Fatalf("Counters = %+v, %v", st, err)
		}
		r, err := s.Reserve(ctx, "quota-y", -1, 0, 4)
		if err != nil || r.Granted != 4 || r.Remaining != -1 {
			t.Fatalf("unlimited: %+v, %v", r, err)
		}
	})
}

func TestDial(t *testing.T) {
	tests := []struct {
		url, wantErr string
	}{
		{"redis://localhost:6379/0", ""},
		{"rediss://u:p@localhost:6380/1", ""},
		{"unix:///tmp/redis.sock", ""},
		{"redis+sentinel://localhost:26379/0?master_name=m&addr=localhost:26380", ""},
		{"redis+cluster://localhost:7000?addr=localhost:7001", ""},
		{"redis+sentinel://localhost:26379", "master_name"},
		{"http://localhost:6379", "unsupported scheme"},
		{"redis://u:secretpw@localhost:6379/x", "invalid"},
		{"redis://localhost:6379/0?bogus=1", "bogus"},
		{"://nope", "invalid --redis URL"},
	}
	for _, tt := range tests {
		c, err := Dial(tt.url, time.Second)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Dial(%q): %v", tt.url, err)
			} else {
				c.Close()
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Dial(%q) err = %v, want it to mention %q", tt.url, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Dial(%q) leaked the password: %v", tt.url, err)
		}
	}
}

// Policies stored by earlier versions carry a meaningless "active": false;
// the one-time migration makes them explicitly active, and runs only once.
func TestMigratePolicyActive(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		legacy := `{"_id":"","id":"old","name":"","rate":5,"per":1,"active":false,"is_inactive":false}`
		if _, err := s.Put(ctx, Policies, "old", []byte(legacy)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, Policies, "on", []byte(`{"id":"on","active":true}`)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.MigratePolicyActive(ctx); err != nil || n != 1 {
			t.Fatalf("first run rewrote %d policies (err %v), want 1", n, err)
		}
		if doc, _ := s.Get(ctx, Policies, "old"); !strings.Contains(string(doc), `"active":true`) || !strings.Contains(string(doc), `"rate":5`) {
			t.Errorf("migrated policy: %s", doc)
		}
		// A policy deactivated after the migration stays inactive.
		if _, err := s.Put(ctx, Policies, "off", []byte(`{"id":"off","active":false}`)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.MigratePolicyActive(ctx); err != nil || n != 0 {
			t.Fatalf("second run rewrote %d policies (err %v), want none", n, err)
		}
		if doc, _ := s.Get(ctx, Policies, "off"); string(doc) != `{"id":"off","active":false}` {
			t.Errorf("second run changed a policy: %s", doc)
		}
	})
}

func TestFilterTracking(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const ttl = 300 * time.Millisecond
		for _, p := range []struct{ vm, version string }{{"a", "v1"}, {"b", "v1"}, {"a", "v2"}} {
			if ok, err := s.FilterPolled(ctx, p.vm, p.version, ttl, 3); !ok || err != nil {
				t.Fatalf("poll %v: tracked %v, err %v", p, ok, err)
			}
		}
		if got, err := s.Filters(ctx, ttl); err != nil || len(got) != 2 || got["a"] != "v2" || got["b"] != "v1" {
			t.Fatalf("Filters = %v, %v", got, err)
		}
		polls, err := s.FilterPolls(ctx, ttl)
		if now := time.Now().UnixMilli(); err != nil || len(polls) != 2 || polls["a"].Version != "v2" ||
			polls["b"].Seen < now-5000 || polls["b"].Seen > now+5000 {
			t.Fatalf("FilterPolls = %v, %v", polls, err)
		}
		// Bounded: past max, new VMs are not tracked while the others are recent.
		if ok, _ := s.FilterPolled(ctx, "c", "v2", ttl, 2); ok {
			t.Error("a third VM was tracked with max 2")
		}
		if ok, _ := s.FilterPolled(ctx, "a", "v3", ttl, 2); !ok {
			t.Error("a tracked VM's poll was refused")
		}
		// Recent means within ttl; stale entries make room for new VMs.
		time.Sleep(ttl + 50*time.Millisecond)
		if ok, _ := s.FilterPolled(ctx, "d", "v3", ttl, 2); !ok {
			t.Error("stale entries did not make room")
		}
		if got, _ := s.Filters(ctx, ttl); len(got) != 1 || got["d"] != "v3" {
			t.Errorf("after the ttl: %v", got)
		}
		if n, err := s.Client().HLen(ctx, filtersKey).Result(); err != nil || n != 1 {
			t.Errorf("hash holds %d entries (err %v), want the stale ones dropped", n, err)
		}
	})
}

// TestLeaseAndRelease: a lease is cut to shared/quota.LeaseUnits near the
// limit, the sum granted never exceeds quota_max, and a release gives back
// units only into the window they were granted in.
func TestLeaseAndRelease(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		g, err := s.Lease(ctx, "quota-l", 100, 3600, 40)
		if err != nil || g.Granted != 12 || g.Remaining != 88 || g.WindowMS < 3598000 || g.WindowMS > 3600000 {
			t.Fatalf("first lease of 40 with 100 left = %+v, %v; want 12 (100/8)", g, err)
		}
		total := g.Granted
		for range 200 {
			g2, err := s.Lease(ctx, "quota-l", 100, 3600, 40)
			if err != nil {
				t.Fatal(err)
			}
			if g2.Granted > 0 && g2.ResetAt != g.ResetAt {
				t.Errorf("window %d, then %d", g.ResetAt, g2.ResetAt)
			}
			total += g2.Granted
		}
		if total != 100 {
			t.Fatalf("leases granted %d units of a 100-unit quota", total)
		}
		if n, err := s.Release(ctx, "quota-l", g.ResetAt+1, 5); n != 0 || err != nil {
			t.Errorf("release into another window gave back %d, %v", n, err)
		}
		if n, err := s.Release(ctx, "quota-l", g.ResetAt, 5); n != 5 || err != nil {
			t.Errorf("release gave back %d, %v; want 5", n, err)
		}
		if g3, _ := s.Lease(ctx, "quota-l", 100, 3600, 40); g3.Granted != 1 {
			t.Errorf("with 5 left a lease got %d units, want 1", g3.Granted)
		}
		if n, _ := s.Release(ctx, "quota-l", g.ResetAt, 1000); n != 100-4 {
			t.Errorf("a release larger than the count gave back %d, want %d (never below zero)", n, 100-4)
		}
		if n, _ := s.Release(ctx, "quota-missing", g.ResetAt, 3); n != 0 {
			t.Errorf("release of a deleted counter gave back %d", n)
		}
		// Never-renewing quotas have no window to release into.
		if _, err := s.Lease(ctx, "quota-n", 10, 0, 3); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Release(ctx, "quota-n", 1, 1); n != 0 {
			t.Errorf("release of a never-renewing counter gave back %d", n)
		}
	})
}

func TestFeedOrgResets(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.EnsureFeed(ctx); err != nil {
			t.Fatal(err)
		}
		cur, err := s.Cursor(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutOrg(ctx, "o1", []byte(`{"org_id":"o1"}`), false); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.PutOrg(ctx, "o1", []byte(`{"org_id":"o1"}`), true); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DeleteOrg(ctx, "o1"); err != nil {
			t.Fatal(err)
		}
		ch, err := s.ChangesSince(ctx, cur, 100)
		if err != nil || len(ch.Keys) != 0 || !reflect.DeepEqual(ch.Orgs, []string{"o1"}) {
			t.Fatalf("changes = %+v, %v; want org o1 once, no keys", ch, err)
		}
	})
}
