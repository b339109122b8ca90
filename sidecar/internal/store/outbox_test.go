package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

func TestSlotTags(t *testing.T) {
	for _, key := range []string{"123456789", "foo", "{user1000}.following", "apikey-" + hashN(7), "a{}b", "{", "x{y"} {
		if got, want := Slot(key), testenv.Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, testenv says %d", key, got, want)
		}
	}
	if Slot("123456789") != 12739 { // the Redis Cluster specification's example
		t.Errorf("Slot(123456789) = %d, want 12739", Slot("123456789"))
	}
	longest := 0
	for slot := range slots {
		if got := Slot(outboxKey(slot)); got != slot {
			t.Fatalf("outbox of slot %d lands in slot %d", slot, got)
		}
		longest = max(longest, len(slotTags()[slot]))
	}
	t.Logf("16384 slot tags, the longest %d characters", longest)
}

// clusterStore is a store on a fresh Redis Cluster, with a plain cluster
// client for the test's own checks.
func clusterStore(t *testing.T) (*Store, redis.UniversalClient) {
	t.Helper()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	c, err := Dial(cl.URL(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := New(c, 0)
	if err := s.EnsureFeed(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, cl.Client()
}

// TestClusterWriteSurvivesWriterCrash: on Redis Cluster, a writer that dies
// after committing its data leaves the follow-ups (feed entry, counter
// reset, config version, org index) in the outbox, and a sweep applies
// them; before, such a crash dropped them for good.
func TestClusterWriteSurvivesWriterCrash(t *testing.T) {
	testenv.OncePerRun(t)
	s, rc := clusterStore(t)
	ctx := context.Background()
	hash := hashN(42)
	counter := QuotaKey("", hash)
	if Slot(sessionPrefix+hash) == Slot(changesKey) || Slot(sessionPrefix+hash) == Slot(counter) ||
		Slot(policiesKey) == Slot(configVersion) {
		t.Fatal("the test needs the data and its follow-ups in different slots")
	}
	if _, err := s.Reserve(ctx, counter, 10, 3600, 4); err != nil {
		t.Fatal(err)
	}
	cursor, _ := s.Cursor(ctx)
	version, _ := s.ConfigVersion(ctx)

	s.afterCommit = func() bool { return true } // every write "crashes" after its commit
	if err := s.PutSession(ctx, hash, []byte(`{"v":2}`), 0, []string{counter}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, Policies, "gold", []byte(`{"id":"gold"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutOrg(ctx, "org1", []byte(`{"org_id":"org1"}`), true); err != nil {
		t.Fatal(err)
	}
	s.afterCommit = nil

	// The data is there; none of the follow-ups ran.
	if data, _, err := s.Session(ctx, hash); err != nil || string(data) != `{"v":2}` {
		t.Fatalf("session after the crash = %q, %v", data, err)
	}
	if ch, _ := s.ChangesSince(ctx, cursor, 100); len(ch.Keys)+len(ch.Orgs) != 0 {
		t.Fatalf("feed entries before the sweep: %+v", ch)
	}
	if v, _ := s.ConfigVersion(ctx); v != version {
		t.Fatalf("config version %d before the sweep, want %d", v, version)
	}
	if st, _ := s.Counters(ctx, time.Now().Unix(), counter); st[0].Used != 4 {
		t.Fatalf("counter reset before the sweep: %+v", st[0])
	}
	// A sweep leaves entries younger than its age alone (their writers may
	// still be at them), then runs them.
	if n, err := s.DrainOutboxes(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of young entries ran %d, %v", n, err)
	}
	n, err := s.DrainOutboxes(ctx, 0)
	if err != nil || n != 3 {
		t.Fatalf("sweep ran %d entries, %v; want 3", n, err)
	}
	ch, err := s.ChangesSince(ctx, cursor, 100)
	if err != nil || len(ch.Keys) != 1 || ch.Keys[0] != hash || len(ch.Orgs) != 1 || ch.Orgs[0] != "org1" {
		t.Fatalf("feed after the sweep = %+v, %v", ch, err)
	}
	if v, _ := s.ConfigVersion(ctx); v != version+2 {
		t.Fatalf("config version %d after the sweep, want %d", v, version+2)
	}
	if st, _ := s.Counters(ctx, time.Now().Unix(), counter); st[0].Used != 0 {
		t.Fatalf("counter not reset by the sweep: %+v", st[0])
	}
	if ids, _ := s.OrgIDs(ctx); len(ids) != 1 || ids[0] != "org1" {
		t.Fatalf("org index after the sweep = %v", ids)
	}
	sweepStart := time.Now()
	if n, _ := s.DrainOutboxes(ctx, 0); n != 0 {
		t.Fatalf("a second sweep ran %d entries", n)
	}
	sweep := time.Since(sweepStart)
	// Without a crash, the writer runs its follow-ups and empties the outbox.
	if err := s.PutSession(ctx, hash, []byte(`{"v":3}`), 0, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.LLen(ctx, outboxKey(Slot(sessionPrefix+hash))).Result(); n != 0 {
		t.Fatalf("outbox holds %d entries after a completed write", n)
	}
	t.Logf("3 writes crashed after commit: data present, 0 follow-ups applied; the sweep ran 3 entries: "+
		"1 key and 1 org in the feed, config version +2, counter reset, org indexed; a sweep of the 16384 empty outboxes took %v",
		sweep.Round(time.Microsecond))
}

// TestClusterKeysSpreadOverSlots: sessions and quota counters keep Tyk's
// names, so they hash over every slot; no slot holds them all.
func TestClusterKeysSpreadOverSlots(t *testing.T) {
	const n = 10000
	used := map[int]int{}
	for i := range n {
		used[Slot(sessionPrefix+hashN(i))]++
		used[Slot(QuotaKey("", hashN(i)))]++
		used[Slot(QuotaKey("api1", hashN(i)))]++
	}
	most := 0
	for _, c := range used {
		most = max(most, c)
	}
	t.Logf("%d sessions and %d quota counters over %d slots, at most %d in one slot", n, 2*n, len(used), most)
	if len(used) < slots/2 || most > 3*n*3/len(used)+10 {
		t.Fatalf("keys concentrated: %d slots used, %d in the fullest", len(used), most)
	}
}
