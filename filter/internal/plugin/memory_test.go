package plugin

import (
	"strconv"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/keys"
)

// The per-VM session cache is bounded by estimated bytes as well as
// entries; a key it dropped is served from shared data without a lookup.
func TestSessionCacheBoundedByBytes(t *testing.T) {
	fx := newFixture(t, `,"session_cache":{"max_bytes":65536}`, testSnapshot)
	const n = 100
	for i := range n {
		if s := fx.do("/api1/x", "bytes-key-"+strconv.Itoa(i), testSession("")); status(s) != 200 {
			t.Fatalf("key %d: status %d", i, status(s))
		}
	}
	if got, limit := fx.r.sessions.Bytes(), 65536-65536/4; got > limit || fx.r.sessions.Len() >= n {
		t.Fatalf("session cache holds %d entries, %d bytes; want fewer than %d entries within %d bytes",
			fx.r.sessions.Len(), got, n, limit)
	}
	if _, ok := fx.r.sessions.Get(keys.Hash("bytes-key-0"), fx.f.Clock); ok {
		t.Fatal("the least recently used key is still cached")
	}
	shared := fx.r.m.cacheShared.pending
	if s := fx.do("/api1/x", "bytes-key-0", ""); status(s) != 200 {
		t.Fatalf("evicted key: status %d, want 200 from shared data without a lookup", status(s))
	}
	if fx.r.m.cacheShared.pending != shared+1 {
		t.Fatal("the evicted key was not served from shared data")
	}
}

// Sessions share a fixed table of slots in shared data: a key whose slot
// another key took is looked up again, never served the other's session.
func TestSharedSessionSlotTakenOver(t *testing.T) {
	fx := newFixture(t, `,"session_cache":{"shared_slots":1}`, testSnapshot)
	fx.do("/api1/x", "slot-a", testSession(""))
	fx.do("/api1/x", "slot-b", testSession(`"is_inactive":true`)) // same slot: replaces a's
	for _, k := range []string{"slot-a", "slot-b"} {
		if a, b := fx.r.shared.Keys(keys.Hash(k)); a != "tp/s/0" || b != a {
			t.Fatalf("%s: slots %s, %s in a table of one", k, a, b)
		}
	}
	fx.r.sessions.Clear() // as on another VM
	_, _, _ = fx.send("/api1/x", "slot-a")
	if c := fx.f.Pending("/turnpike/v1/sessions/" + keys.Hash("slot-a")); c == nil {
		t.Fatal("a key whose slot was taken over was not looked up again")
	}
	fx.lookup("slot-a", 200, testSession(""))
	// a's fetch took the slot back: b (inactive) is looked up too, and
	// still refused once its answer arrives.
	s, _, _ := fx.send("/api1/x", "slot-b")
	fx.lookup("slot-b", 200, testSession(`"is_inactive":true`))
	if status(s) != 403 {
		t.Fatalf("inactive key b: status %d, want 403", status(s))
	}
}
