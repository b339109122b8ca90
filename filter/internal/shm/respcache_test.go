package shm

import (
	"errors"
	"reflect"
	"testing"
)

func TestCacheEntryRoundTrip(t *testing.T) {
	e := &CacheEntry{Key: []byte("api\x000\x00hash\x00GET\x00/a?b=1\x00"), Expires: 123456789, APIID: "api1", Status: 200,
		Headers: [][2]string{{"content-type", "application/json"}, {"etag", `"v1"`}}, Body: []byte(`{"a":1}`)}
	got, ok := DecodeCacheEntry(AppendCacheEntry(nil, e))
	if !ok || !reflect.DeepEqual(&got, e) || CacheSlot(e.Key, 7) != CacheSlot(got.Key, 7) || CacheSlot(e.Key, 7) >= 7 {
		t.Fatalf("round trip: %v %+v", ok, got)
	}
	for _, junk := range [][]byte{nil, {}, {9}, AppendCacheEntry(nil, e)[:40]} {
		if _, ok := DecodeCacheEntry(junk); ok {
			t.Errorf("junk %x decoded", junk)
		}
	}
}

func TestCachePutGetExpireClear(t *testing.T) {
	st := newStore()
	d1, d2 := []byte("one"), []byte("two")
	enc := func(d []byte, exp int64, body string) []byte {
		return AppendCacheEntry(nil, &CacheEntry{Key: d, Expires: exp, APIID: "a", Status: 200, Body: []byte(body)})
	}
	one := enc(d1, 100, "one")
	if err := CachePut(st, 7, one, 1000); err != nil {
		t.Fatal(err)
	}
	if CacheBytes(st) != int64(len(one)) {
		t.Fatalf("bytes %d, want %d", CacheBytes(st), len(one))
	}
	if e, ok := CacheGet(st, 7, d1, 50); !ok || string(e.Body) != "one" {
		t.Fatalf("get: %v %+v", ok, e)
	}
	if _, ok := CacheGet(st, 7, d2, 50); ok {
		t.Fatal("another key's entry served")
	}
	// Same slot, other key: replaced, bytes follow.
	two := enc(d2, 100, "two-longer")
	if err := CachePut(st, 7, two, 1000); err != nil {
		t.Fatal(err)
	}
	if CacheBytes(st) != int64(len(two)) {
		t.Fatalf("bytes %d after replace, want %d", CacheBytes(st), len(two))
	}
	// Budget: a second slot that does not fit is refused.
	if err := CachePut(st, 8, enc(d1, 100, string(make([]byte, 1000))), 1000); !errors.Is(err, ErrCacheFull) {
		t.Fatalf("over budget: %v", err)
	}
	// Expired: not served, emptied, bytes released.
	if _, ok := CacheGet(st, 7, d2, 100); ok {
		t.Fatal("expired entry served")
	}
	if CacheBytes(st) != 0 {
		t.Fatalf("bytes %d after expiry, want 0", CacheBytes(st))
	}
	if err := CachePut(st, 9, one, 1000); err != nil {
		t.Fatal(err)
	}
	if CacheClear(st, 9, d2) {
		t.Fatal("cleared another key's entry")
	}
	if !CacheClear(st, 9, d1) || CacheBytes(st) != 0 {
		t.Fatalf("clear: bytes %d", CacheBytes(st))
	}
	if _, ok := CacheGet(st, 9, d1, 50); ok {
		t.Fatal("cleared entry served")
	}
}
