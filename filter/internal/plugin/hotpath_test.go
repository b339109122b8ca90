package plugin

import (
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/cache"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

// view returns a string sharing b's memory, as header views share the
// callback's arena.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func TestHashKeyCachesACopyOfTheKey(t *testing.T) {
	r := &Root{hashes: cache.New[string](2)}
	buf := []byte("key-one")
	if got := r.hashKey(view(buf), 1); got != keys.Hash("key-one") {
		t.Fatalf("hashKey = %q, want keys.Hash", got)
	}
	copy(buf, "key-two") // the arena is reused by the next callback
	if got := r.hashKey("key-one", 2); got != keys.Hash("key-one") {
		t.Fatalf("after the view changed: %q, want the hash of key-one", got)
	}
	if got := r.hashKey(view(buf), 3); got != keys.Hash("key-two") {
		t.Fatalf("second key: %q", got)
	}
	if r.hashes.Len() != 2 {
		t.Fatalf("%d cached hashes, want 2", r.hashes.Len())
	}
	r.hashKey("key-three", 4) // bounded: evicts the least recently used
	if r.hashes.Len() != 2 {
		t.Fatalf("%d cached hashes after overflow, want 2", r.hashes.Len())
	}
}

func TestDetachCopiesHeaderViews(t *testing.T) {
	method, path, version := []byte("PATCH"), []byte("/api1/x?a=1"), []byte("v2")
	h := &httpContext{method: view(method), path: view(path), version: view(version)}
	h.detach() // what a step that waits does before the request pauses
	copy(method, "XXXXX")
	copy(path, "XXXXXXXXXXX")
	copy(version, "XX")
	if h.method != "PATCH" || h.path != "/api1/x?a=1" || h.version != "v2" {
		t.Fatalf("kept views, not copies: %q %q %q", h.method, h.path, h.version)
	}
}

func TestBucketKey(t *testing.T) {
	e := &effective{}
	if got, mark := e.bucketKey("h", access.Limit{Scope: "s"}); got != "tp/r/h/s" || mark != &e.bucketMark {
		t.Fatalf("bucket %q, mark %p", got, mark)
	}
	// Built once per effective session: the same string every request.
	if got, _ := e.bucketKey("h", access.Limit{Scope: "s"}); unsafe.StringData(got) != unsafe.StringData(e.bucket) {
		t.Fatal("bucket key rebuilt")
	}
	// A per-endpoint limit has a bucket of its own, built per request.
	if got, mark := e.bucketKey("h", access.Limit{Scope: "s", EndpointKey: "ep"}); got != "tp/r/h/s#ep" || mark != nil {
		t.Fatalf("endpoint bucket %q, mark %p", got, mark)
	}
}

// A bucket recorded for the sweep is recorded again only after
// bucketRetrack, or at once after the map forgot buckets; a bucket without
// a mark every time.
func TestTrackBucketMarked(t *testing.T) {
	r := &Root{buckets: map[string]int64{}, maxBuckets: maxTrackedBuckets}
	var mark bucketMark
	now := int64(10 * time.Second)
	for _, tc := range []struct {
		name   string
		at     int64
		forget bool // the sweep forgot a bucket meanwhile
		mark   *bucketMark
		want   int64 // recorded last use afterwards
	}{
		{"first use", now, false, &mark, now},
		{"soon after", now + bucketRetrack/2, false, &mark, now},
		{"after bucketRetrack", now + bucketRetrack, false, &mark, now + bucketRetrack},
		{"after a sweep forgot buckets", now + bucketRetrack + 1, true, &mark, now + bucketRetrack + 1},
		{"no mark", now + bucketRetrack + 2, false, nil, now + bucketRetrack + 2},
	} {
		if tc.forget {
			delete(r.buckets, "b")
			r.bucketsGen++
		}
		r.trackBucketMarked("b", tc.at, tc.mark)
		if got := r.buckets["b"]; got != tc.want {
			t.Errorf("%s: recorded %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The sweep's bucket map starts with room for its bound, and tracking new
// buckets, up to the bound and far past it (shedding the oldest quarter
// each time), keeps it at that size: it follows neither the request rate
// nor the number of keys seen. Shedding in the map's order grew it on and
// on (shedBuckets), to 4.4 times its size after 2,000,000 keys.
func TestBucketMapAtItsBoundFromTheStart(t *testing.T) {
	now := int64(10 * time.Second)
	const perKey = int64(250 * time.Microsecond) // 4,000 new keys a second
	keys := make([]string, 30*maxTrackedBuckets)
	for i := range keys {
		keys[i] = "tp/r/" + strconv.Itoa(i) + "/s"
	}
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := live()
	empty := newBucketMap()
	size := live() - before // the map at its bound
	runtime.KeepAlive(empty)
	for _, tc := range []struct {
		name string
		keys int // distinct buckets tracked
	}{
		{"a few", 100},
		{"up to the bound", maxTrackedBuckets},
		{"three times the bound", 3 * maxTrackedBuckets},
		{"thirty times the bound", 30 * maxTrackedBuckets},
	} {
		before := live()
		r := &Root{store: hosttest.New(now), buckets: newBucketMap(), maxBuckets: maxTrackedBuckets}
		for i, k := range keys[:tc.keys] {
			r.trackBucket(k, now+int64(i)*perKey)
		}
		// The keys are held by the slice: what remains is the map.
		if got := live() - before; got > size+size/10 || len(r.buckets) > maxTrackedBuckets {
			t.Errorf("%s: the map holds %d bytes (%d at the start), %d buckets (bound %d)",
				tc.name, got, size, len(r.buckets), maxTrackedBuckets)
		}
		runtime.KeepAlive(r)
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{1, 100},       // tiny heap: the default
		{2 << 20, 100}, // 2 MiB of headroom is GOGC=100
		{3 << 20, 66},  // 2 MiB on 3
		{4 << 20, 50},  // half the live heap from here on
		{64 << 20, 50}, // never below 50
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

func TestCollectIfBehind(t *testing.T) {
	runtime.GC()
	if collectIfBehind() {
		t.Fatal("collected right after a collection: the heap is below its goal")
	}
}
