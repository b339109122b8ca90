package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// The response cache: cached upstream responses in shared data, so every
// worker of a proxy serves what one of them stored.
//
// Shared data has no delete and cannot be listed, so entries live in a
// fixed set of slots ("tp/c/<n>"), chosen by a hash of the entry's key: a
// direct-mapped cache where a new entry replaces whatever its slot held.
// The entry keeps its whole key and a read compares it byte for byte, so
// the slot hash need not resist collisions (a cheap FNV-1a, where a
// SHA-256 would be most of a hit's cost in the VM).
// Emptying a slot (expiry, invalidation) writes an empty value. The bytes
// all slots hold are counted in CacheBytesKey, and a store that would take
// the total past the proxy's budget is refused, so the cache never holds
// more than the budget (plus the slots' fixed keys). The count is updated
// after each slot write by compare-and-swap; a count update that loses
// MaxAttempts races in a row leaves it off by that entry, which the next
// writes of the slot correct.

// CacheBytesKey holds the bytes held by all response cache slots.
const CacheBytesKey = "tp/c/bytes"

const cacheVersion = 1

// CacheSlotKey is the shared-data key of a response cache slot.
func CacheSlotKey(slot uint32) string { return "tp/c/" + strconv.FormatUint(uint64(slot), 10) }

// CacheEntry is one cached response.
type CacheEntry struct {
	Key     []byte // the cache key: API, generation, key hash, method, URL, headers
	Expires int64  // unix ns
	APIID   string
	Status  uint16
	Headers [][2]string
	Body    []byte
}

// ErrCacheFull reports a store refused because the cache holds its budget.
var ErrCacheFull = errors.New("shm: response cache full")

// AppendCacheEntry appends the encoding of e:
//
//	version (1) | key (2+n) | expires (8) | api id (2+n) | status (2) |
//	header count (2) | per header: name (2+n), value (4+n) | body
func AppendCacheEntry(dst []byte, e *CacheEntry) []byte {
	dst = append(dst, cacheVersion)
	dst = appendStr16(dst, string(e.Key))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expires))
	dst = appendStr16(dst, e.APIID)
	dst = binary.LittleEndian.AppendUint16(dst, e.Status)
	n := min(len(e.Headers), math.MaxUint16)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
	for _, kv := range e.Headers[:n] {
		dst = appendStr16(dst, kv[0])
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(kv[1])))
		dst = append(dst, kv[1]...)
	}
	return append(dst, e.Body...)
}

func appendStr16(dst []byte, s string) []byte {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// DecodeCacheEntry decodes an entry; ok is false for an empty slot or junk.
// Key and Body alias b; headers are copies.
func DecodeCacheEntry(b []byte) (e CacheEntry, ok bool) {
	r := reader{b: b}
	if v := r.next(1); v == nil || v[0] != cacheVersion {
		return e, false
	}
	e.Key = r.next(int(r.u16()))
	e.Expires = int64(r.u64())
	e.APIID = string(r.next(int(r.u16())))
	e.Status = r.u16()
	n := int(r.u16())
	for range n {
		name := string(r.next(int(r.u16())))
		value := string(r.next(int(r.u32())))
		e.Headers = append(e.Headers, [2]string{name, value})
	}
	if r.bad {
		return CacheEntry{}, false
	}
	e.Body = r.b[r.i:]
	return e, true
}

type reader struct {
	b   []byte
	i   int
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || n < 0 || r.i+n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[r.i : r.i+n]
	r.i += n
	return v
}

func (r *reader) u16() uint16 {
	if v := r.next(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.next(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.next(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// CacheSlot is the slot of a cache key among slots (FNV-1a).
func CacheSlot(key []byte, slots uint32) uint32 {
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return h % slots
}

// CacheGet returns the live entry for key in slot: found is false when
// the slot is empty, holds another key, or holds an expired entry (which
// it then empties, so a slot nobody writes again does not keep its bytes).
func CacheGet(st Store, slot uint32, k []byte, now int64) (e CacheEntry, found bool) {
	key := CacheSlotKey(slot)
	val, cas, err := st.Get(key)
	if err != nil || len(val) == 0 {
		return e, false
	}
	e, ok := DecodeCacheEntry(val)
	if !ok || !bytes.Equal(e.Key, k) {
		return CacheEntry{}, false
	}
	if e.Expires <= now {
		if st.Set(key, nil, cas) == nil {
			_ = addCacheBytes(st, -int64(len(val)), 0)
		}
		return CacheEntry{}, false
	}
	// Copy the body: val is only valid during this callback.
	e.Key, e.Body = nil, append([]byte(nil), e.Body...)
	return e, true
}

// CachePut stores an encoded entry in slot, replacing what it held, unless
// the cache's bytes would exceed maxBytes (ErrCacheFull).
func CachePut(st Store, slot uint32, enc []byte, maxBytes int64) error {
	key := CacheSlotKey(slot)
	for range MaxAttempts {
		old, cas, err := st.Get(key)
		switch {
		case errors.Is(err, ErrNotFound):
			old, cas = nil, createCAS
		case err != nil:
			return err
		}
		delta := int64(len(enc)) - int64(len(old))
		if err := addCacheBytes(st, delta, maxBytes); err != nil {
			return err
		}
		err = st.Set(key, enc, cas)
		if err == nil {
			return nil
		}
		_ = addCacheBytes(st, -delta, 0) // not written: give the bytes back
		if !errors.Is(err, ErrCASMismatch) {
			return err
		}
	}
	return ErrContended
}

// CacheClear empties slot if it holds the entry of key (any entry when key
// is nil), and reports whether it did.
func CacheClear(st Store, slot uint32, k []byte) bool {
	key := CacheSlotKey(slot)
	val, cas, err := st.Get(key)
	if err != nil || len(val) == 0 {
		return false
	}
	if k != nil {
		if e, ok := DecodeCacheEntry(val); ok && !bytes.Equal(e.Key, k) {
			return false
		}
	}
	if st.Set(key, nil, cas) != nil {
		return false
	}
	_ = addCacheBytes(st, -int64(len(val)), 0)
	return true
}

// CacheBytes is the bytes the cache holds (0 when never written).
func CacheBytes(st Store) int64 {
	val, _, err := st.Get(CacheBytesKey)
	if err != nil || len(val) != 8 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(val))
}

// addCacheBytes adds delta to the byte count; with maxBytes > 0 a growth
// past maxBytes is refused with ErrCacheFull. The count never goes below 0.
func addCacheBytes(st Store, delta, maxBytes int64) error {
	if delta == 0 {
		return nil
	}
	var full bool
	err := update(st, CacheBytesKey, func(val []byte) ([]byte, bool) {
		var cur int64
		if len(val) == 8 {
			cur = int64(binary.LittleEndian.Uint64(val))
		}
		next := max(cur+delta, 0)
		if delta > 0 && maxBytes > 0 && next > maxBytes {
			full = true
			return nil, false
		}
		return binary.LittleEndian.AppendUint64(nil, uint64(next)), true
	})
	if err == nil && full {
		return ErrCacheFull
	}
	return err
}
