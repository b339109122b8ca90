package shm

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// envoyStore implements Envoy's shared-data rules (proxy-wasm.md §2.2).
type envoyStore struct {
	mu      sync.Mutex
	next    uint32
	entries map[string]entry
	// beforeSet, if set, runs (unlocked) before every Set: a hook to let a
	// "concurrent VM" write in between a Get and a Set.
	beforeSet func(key string)
}

type entry struct {
	val []byte
	cas uint32
}

func newStore() *envoyStore { return &envoyStore{entries: map[string]entry{}} }

func (s *envoyStore) Get(key string) ([]byte, uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return bytes.Clone(e.val), e.cas, nil
}

func (s *envoyStore) Set(key string, val []byte, cas uint32) error {
	if h := s.beforeSet; h != nil {
		h(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok && cas != 0 && cas != e.cas {
		return ErrCASMismatch
	}
	s.next++
	if s.next == 0 {
		s.next++
	}
	s.entries[key] = entry{bytes.Clone(val), s.next}
	return nil
}

func TestTakeIsExactAcrossConcurrentVMs(t *testing.T) {
	st := newStore()
	lim := ratelimit.Limit{Rate: 10, Per: 1}
	const vms, perVM = 4, 50
	var admitted atomic.Int64
	var wg sync.WaitGroup
	now := int64(1e18) // one instant: no refill during the burst
	for range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perVM {
				res, err := Take(st, nil, BucketKey("h", ""), lim, now)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := admitted.Load(); got != 10 {
		t.Fatalf("admitted %d of %d, want exactly 10", got, vms*perVM)
	}
}

func TestTakeFirstInsertRace(t *testing.T) {
	// Another VM inserts the bucket between our Get (missing) and Set: the
	// create must fail and retry instead of overwriting it.
	st := newStore()
	lim := ratelimit.Limit{Rate: 1, Per: 60}
	key := BucketKey("h", "s")
	raced := false
	st.beforeSet = func(k string) {
		if raced {
			return
		}
		raced = true
		st.beforeSet = nil
		if res, err := Take(st, nil, k, lim, 100); err != nil || !res.Allowed {
			t.Fatalf("racing VM: %+v %v", res, err)
		}
	}
	res, err := Take(st, nil, key, lim, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Allowed {
		t.Fatal("both racing first requests were admitted at rate 1")
	}
}

func TestTakeContended(t *testing.T) {
	st := newStore()
	// Another writer bumps the cas before every one of our writes.
	st.beforeSet = func(k string) {
		st.mu.Lock()
		st.next++
		st.entries[k] = entry{nil, st.next}
		st.mu.Unlock()
	}
	if _, err := Take(st, nil, "k", ratelimit.Limit{Rate: 5, Per: 1}, 1); err != ErrContended {
		t.Fatalf("err = %v, want ErrContended", err)
	}
}

func TestSweepBucket(t *testing.T) {
	st := newStore()
	lim := ratelimit.Limit{Rate: 2, Per: 1}
	key := BucketKey("h", "")
	if _, err := Take(st, nil, key, lim, 0); err != nil {
		t.Fatal(err)
	}
	if SweepBucket(st, key, 1e8) {
		t.Fatal("swept a bucket that is not full yet")
	}
	if !SweepBucket(st, key, 2e9) {
		t.Fatal("did not sweep an idle full bucket")
	}
	if v, _, _ := st.Get(key); len(v) != 0 {
		t.Fatalf("swept bucket holds %d bytes", len(v))
	}
	// An emptied bucket behaves like a fresh one.
	for i := range 3 {
		res, _ := Take(st, nil, key, lim, 3e9)
		if res.Allowed != (i < 2) {
			t.Fatalf("request %d after sweep: allowed=%v", i, res.Allowed)
		}
	}
}

func TestSessionEntries(t *testing.T) {
	st := newStore()
	tab := Sessions{Slots: 8}
	in := Session{Fetched: 42, Generation: 3, Cursor: "1700-5", JSON: []byte(`{"rate":1}`)}
	if err := tab.Put(st, "h", in, nil); err != nil {
		t.Fatal(err)
	}
	out, ok := tab.Get(st, "h")
	if !ok || out.Hash != "h" || out.Fetched != 42 || out.Generation != 3 || out.Cursor != "1700-5" || string(out.JSON) != `{"rate":1}` {
		t.Fatalf("round trip: %+v %v", out, ok)
	}
	// An older fetch does not replace a newer one.
	var scratch []byte
	_ = tab.Put(st, "h", Session{Fetched: 50, Generation: 3, Cursor: "1700-4", JSON: []byte(`{}`)}, &scratch)
	if out, _ = tab.Get(st, "h"); out.Cursor != "1700-5" {
		t.Fatalf("older fetch won: %+v", out)
	}
	// A change the entry was read after (cursor 1700-5 >= 1700-5) keeps it.
	tab.Tombstone(st, "h", "1700-5")
	if out, ok := tab.Get(st, "h"); !ok || out.Cursor != "1700-5" {
		t.Fatalf("an entry read after the change was tombstoned: %+v %v", out, ok)
	}
	tab.Tombstone(st, "h", "1700-6")
	if _, ok := tab.Get(st, "h"); ok {
		t.Fatal("tombstoned entry still decodes")
	}
	a, b := tab.Keys("h")
	for _, k := range []string{a, b} {
		if val, _, _ := st.Get(k); len(val) != 0 {
			t.Fatalf("tombstone left %d bytes in %s", len(val), k)
		}
	}
	big := Sessions{Slots: 1 << 20}
	big.Tombstone(st, "never-seen", "1700-6")
	a, b = big.Keys("never-seen")
	for _, k := range []string{a, b} {
		if _, _, err := st.Get(k); err != ErrNotFound {
			t.Fatal("Tombstone created a missing key")
		}
	}
	for _, junk := range [][]byte{nil, {2}, {2, 0, 0}, {1, 0}, append([]byte{2, 0}, append(make([]byte, 16), 0xff, 0xff)...)} {
		if _, ok := DecodeSession(junk); ok {
			t.Errorf("junk %v decoded", junk)
		}
	}
}

// In a table of one slot, keys replace each other: a read never returns
// another key's session, and a tombstone for one key leaves the other's
// entry alone. The names stay the table's.
func TestSessionSlotsAreShared(t *testing.T) {
	st := newStore()
	tab := Sessions{Slots: 1}
	put := func(h, cursor string, fetched int64) {
		t.Helper()
		if err := tab.Put(st, h, Session{Fetched: fetched, Cursor: cursor, JSON: []byte(`{"k":"` + h + `"}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "1-0", 1)
	put("b", "1-0", 2) // same slot: replaces a even at the same cursor
	if _, ok := tab.Get(st, "a"); ok {
		t.Fatal("a read b's slot as its own")
	}
	if s, ok := tab.Get(st, "b"); !ok || string(s.JSON) != `{"k":"b"}` {
		t.Fatalf("b: %+v %v", s, ok)
	}
	tab.Tombstone(st, "a", "9-0") // a changed: b's entry is not a's
	if _, ok := tab.Get(st, "b"); !ok {
		t.Fatal("a's tombstone emptied b's entry")
	}
	many := Sessions{Slots: 16}
	for i := range 1000 {
		_ = many.Put(st, strconv.Itoa(i), Session{Fetched: int64(i), JSON: []byte(`{}`)}, nil)
	}
	if n := len(st.entries); n > 16+1 { // the 16 slots and tab's one
		t.Fatalf("%d names for 1000 keys in 16 slots", n)
	}
}

// Each key has two slots: a key whose first slot is taken goes to its
// second, and when both are taken the older fetch is replaced.
func TestSessionSlotsTwoChoices(t *testing.T) {
	const slots = 64
	tab := Sessions{Slots: slots}
	// Three keys sharing their first slot with distinct second slots.
	var ks []string
	first := map[uint32]int{}
	for i := 0; len(ks) < 3; i++ {
		h := "k" + strconv.Itoa(i)
		a, b := tab.slots(h)
		if a == b || (len(ks) > 0 && a != mustFirst(t, tab, ks[0])) {
			continue
		}
		if _, dup := first[b]; dup {
			continue
		}
		first[b] = i
		ks = append(ks, h)
	}
	st := newStore()
	put := func(h string, fetched int64) {
		t.Helper()
		if err := tab.Put(st, h, Session{Fetched: fetched, Cursor: "1-0", JSON: []byte(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(ks[0], 10) // its first slot
	put(ks[1], 20) // first slot taken by ks[0]: its second
	for _, h := range ks[:2] {
		if _, ok := tab.Get(st, h); !ok {
			t.Fatalf("%s not found", h)
		}
	}
	// ks[2]'s first slot holds ks[0] (fetched at 10); its second is empty.
	put(ks[2], 30)
	for _, h := range ks {
		if _, ok := tab.Get(st, h); !ok {
			t.Fatalf("%s lost its slot with an empty one available", h)
		}
	}
	// A refetch of ks[1] goes where it is, not into a free slot.
	put(ks[1], 40)
	if s, _ := tab.Get(st, ks[1]); s.Fetched != 40 {
		t.Fatalf("refetch: %+v", s)
	}
}

// When both slots are taken by other keys, the older fetch goes.
func TestSessionSlotsReplaceTheOlder(t *testing.T) {
	tab := Sessions{Slots: 2}
	var ks []string
	for i := 0; len(ks) < 3; i++ {
		if a, b := tab.slots("k" + strconv.Itoa(i)); a != b {
			ks = append(ks, "k"+strconv.Itoa(i))
		}
	}
	st := newStore()
	for i, h := range ks { // fetched at 10, 20, 30: the third finds both slots taken
		if err := tab.Put(st, h, Session{Fetched: int64(10 * (i + 1)), JSON: []byte(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []bool{false, true, true} {
		if _, ok := tab.Get(st, ks[i]); ok != want {
			t.Errorf("%s (fetched at %d) present %v, want %v", ks[i], 10*(i+1), ok, want)
		}
	}
}

func mustFirst(t *testing.T, tab Sessions, h string) uint32 {
	t.Helper()
	a, _ := tab.slots(h)
	return a
}

func TestGeneration(t *testing.T) {
	st := newStore()
	if Generation(st) != 0 {
		t.Fatal("fresh generation not 0")
	}
	for want := uint64(1); want <= 3; want++ {
		if g, err := BumpGeneration(st); err != nil || g != want || Generation(st) != want {
			t.Fatalf("bump: %d %v, want %d", g, err, want)
		}
	}
}

func TestCompareCursors(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0}, {"1-0", "1-1", -1}, {"2-0", "1-9", 1}, {"10-0", "9-0", 1},
		{"5", "5-0", 0}, {"", "1-0", -1}, {"x", "", 0}, {"1-0", "junk", 1},
		{"1-", "1-0", -1}, {"99999999999999999999999-0", "1-0", -1},
	} {
		if got := CompareCursors(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareCursors(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestReserveIsExactAcrossConcurrentVMs(t *testing.T) {
	st := newStore()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 60 {
				res, err := Reserve(st, QuotaKey("h", ""), 100, 3600, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(res.Granted)
			}
		}()
	}
	wg.Wait()
	if got := granted.Load(); got != 100 {
		t.Fatalf("granted %d, want exactly 100", got)
	}
	// The window renews.
	if res, _ := Reserve(st, QuotaKey("h", ""), 100, 3600, 1000+3600); res.Granted != 1 || res.Remaining != 99 {
		t.Fatalf("after renewal: %+v", res)
	}
}

// slotStore is a one-key Store that copies into fixed space, so that any
// allocation AllocsPerRun sees is Take's own.
type slotStore struct {
	val [ratelimit.StateSize]byte
	n   int
	cas uint32
}

func (s *slotStore) Get(string) ([]byte, uint32, error) {
	if s.cas == 0 {
		return nil, 0, ErrNotFound
	}
	return s.val[:s.n], s.cas, nil
}

func (s *slotStore) Set(_ string, v []byte, cas uint32) error {
	if s.cas != 0 && cas != s.cas {
		return ErrCASMismatch
	}
	s.n = copy(s.val[:], v)
	s.cas++
	return nil
}

// An admitted request writes the bucket; with the caller's Scratch that
// costs no allocation (the warm path runs it on every request).
func TestTakeWithScratchDoesNotAllocate(t *testing.T) {
	st := &slotStore{}
	var sc Scratch
	lim := ratelimit.Limit{Rate: 1e9, Per: 1}
	now := int64(1)
	allocs := testing.AllocsPerRun(100, func() {
		now += 1e6
		if res, err := Take(st, &sc, "k", lim, now); err != nil || !res.Allowed {
			t.Fatalf("Take = %+v, %v", res, err)
		}
	})
	if allocs != 0 {
		t.Errorf("Take allocates %.1f times per call with a Scratch", allocs)
	}
}
