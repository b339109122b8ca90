// Package shm keeps the filter's cross-VM state in proxy-wasm shared data:
// token buckets (so all workers of one proxy share one exact rate limit) and
// fetched sessions (so one sidecar lookup serves every worker).
//
// Shared data is a key-value map with compare-and-swap writes and no delete.
// Envoy's rules (proxy-wasm.md §2.2): cas 0 writes unconditionally; a
// non-zero cas must equal the stored value's cas; a write to a missing key
// always succeeds. Every update here is a bounded get–compute–set loop.
package shm

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unsafe"

	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// Store is the shared-data surface of the host.
type Store interface {
	// Get returns the value and its cas; ErrNotFound when the key is absent.
	Get(key string) (value []byte, cas uint32, err error)
	// Set writes value if cas matches (see the package comment);
	// ErrCASMismatch when it does not.
	Set(key string, value []byte, cas uint32) error
}

var (
	// ErrNotFound is what Store.Get returns for a missing key.
	ErrNotFound = errors.New("shm: not found")
	// ErrCASMismatch is what Store.Set returns when another writer won.
	ErrCASMismatch = errors.New("shm: cas mismatch")
	// ErrContended reports an update that lost the compare-and-swap race
	// MaxAttempts times in a row.
	ErrContended = errors.New("shm: too much contention")
)

// MaxAttempts bounds every compare-and-swap loop. Each VM is one thread, so
// with N workers an update loses at most N-1 races per round; 32 covers any
// realistic worker count while a pathological host cannot spin us forever.
const MaxAttempts = 32

// createCAS is the cas used to insert a key that Get reported missing. Envoy
// inserts a missing key whatever the cas, but rejects the write if another
// VM inserted the key in between (its cas differs), which cas 0 would not:
// cas 0 overwrites unconditionally and two racing first requests would both
// be admitted. The one false success is a concurrent insert whose cas is
// exactly this value, one in 2^32 writes of the host's global counter.
const createCAS = math.MaxUint32

// BucketKey is the shared-data key of a token bucket: per key hash and
// counter scope (allowance scope plus endpoint suffix).
func BucketKey(keyHash, scope string) string {
	return "tp/r/" + keyHash + "/" + scope
}

// APIBucketKey is the shared-data key of an API's global_rate_limit bucket.
func APIBucketKey(apiID string) string { return "tp/a/" + apiID }

// Scratch is encoding space that one caller reuses across updates. A value
// handed to Store.Set escapes to the heap (the compiler cannot see that no
// Store keeps it), so encoding into a local array would allocate on every
// admitted request; a VM keeps one Scratch and allocates nothing.
type Scratch struct {
	state [ratelimit.StateSize]byte
	buf   []byte // lease entries
}

// Take admits one request against the bucket at key, exactly once across
// all VMs: the state only changes through a successful compare-and-swap, and
// a rejected request writes nothing. A bucket that cannot be decoded (junk,
// or emptied by Sweep) counts as full. sc may be nil (a fresh one is used).
func Take(st Store, sc *Scratch, key string, lim ratelimit.Limit, now int64) (ratelimit.Result, error) {
	if sc == nil {
		sc = new(Scratch)
	}
	var res ratelimit.Result
	err := update(st, key, func(val []byte) ([]byte, bool) {
		state, _ := ratelimit.DecodeState(val) // junk or empty: a full bucket
		var next ratelimit.State
		res, next = ratelimit.Take(state, lim, now, 1)
		if !res.Allowed || next == state {
			return nil, false
		}
		enc, _ := next.AppendBinary(sc.state[:0])
		return enc, true
	})
	if err != nil {
		return ratelimit.Result{}, err
	}
	return res, nil
}

// update is the get–compute–set loop every counter here goes through. next
// computes the new value from the current one (nil when the key is missing)
// and reports whether to write it; a write that lost the compare-and-swap
// race reads again, at most MaxAttempts times.
func update(st Store, key string, next func(val []byte) ([]byte, bool)) error {
	for range MaxAttempts {
		val, cas, err := st.Get(key)
		switch {
		case errors.Is(err, ErrNotFound):
			val, cas = nil, createCAS
		case err != nil:
			return err
		}
		enc, write := next(val)
		if !write {
			return nil
		}
		if err := st.Set(key, enc, cas); !errors.Is(err, ErrCASMismatch) {
			return err
		}
	}
	return ErrContended
}

// SweepBucket empties the bucket at key if it is full again at now, so an
// idle key's bucket stops holding memory. An empty value decodes as a full
// bucket, so sweeping never changes a decision; the cas makes sure a request
// admitted meanwhile is not forgotten. It reports whether it emptied it.
func SweepBucket(st Store, key string, now int64) bool {
	val, cas, err := st.Get(key)
	if err != nil || len(val) == 0 {
		return false
	}
	state, err := ratelimit.DecodeState(val)
	if err == nil && state.TAT > now {
		return false
	}
	return st.Set(key, nil, cas) == nil
}

// Session entries live in a fixed table of slots, "tp/s/<n>": each key has
// two candidate slots chosen by hashes of its key hash, and a fetch goes to
// the one that already holds the key, else an empty one, else replaces the
// older fetch of the two (two choices keep far more keys in a full table
// than one). The number of names in shared data is so bounded by the table,
// not by every key ever seen (shared data has no delete). A slot holds
//
//	version byte (2) | key hash length (1) | key hash | fetched unix ns (8) |
//	generation (8) | cursor length (2) | cursor | session JSON
//
// and a read compares the key hash, so a slot taken by another key is a
// miss (the key is looked up again), never another key's session. An empty
// value is a tombstone (the key changed; fetch it again).

// DefaultSessionSlots is the default size of the session table: about 300
// bytes per compact session, 128 Ki slots hold up to about 40 MiB per
// proxy.
const DefaultSessionSlots = 1 << 17

// Sessions is the table of fetched sessions in shared data.
type Sessions struct {
	Slots uint32 // at least 1
}

// slots returns keyHash's two candidate slots (equal in a table of one).
func (t Sessions) slots(keyHash string) (a, b uint32) {
	h := uint64(14695981039346656037) // FNV-1a, 64 bits
	for i := 0; i < len(keyHash); i++ {
		h ^= uint64(keyHash[i])
		h *= 1099511628211
	}
	n := uint64(max(t.Slots, 1))
	return uint32(h % n), uint32((h >> 32) % n)
}

// SlotKey is the shared-data key of slot n.
func SlotKey(n uint32) string { return "tp/s/" + strconv.FormatUint(uint64(n), 10) }

// Keys returns the shared-data keys of keyHash's candidate slots.
func (t Sessions) Keys(keyHash string) (string, string) {
	a, b := t.slots(keyHash)
	return SlotKey(a), SlotKey(b)
}

// GenerationKey holds the generation counter that a sync-feed reset bumps,
// invalidating every session entry written before it at once (shared data
// cannot be enumerated).
const GenerationKey = "tp/gen"

const sessionVersion = 2

// Session is a fetched session as stored in shared data.
type Session struct {
	Hash       string // the key hash the session belongs to
	Fetched    int64  // when the sidecar answered, unix ns
	Generation uint64 // GenerationKey's value when it was fetched
	Cursor     string // sidecar change-feed cursor at read time
	JSON       []byte // stored session, policies not applied
}

// AppendSession appends the encoding of s.
func AppendSession(dst []byte, s Session) []byte {
	dst = append(dst, sessionVersion, byte(len(s.Hash)))
	dst = append(dst, s.Hash...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Fetched))
	dst = binary.LittleEndian.AppendUint64(dst, s.Generation)
	cur := s.Cursor
	if len(cur) > math.MaxUint16 {
		cur = "" // an absurd cursor is dropped rather than corrupting the entry
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(cur)))
	dst = append(dst, cur...)
	return append(dst, s.JSON...)
}

// DecodeSession decodes an entry; ok is false for a tombstone or junk.
// Hash, Cursor and JSON alias b: copy what is kept.
func DecodeSession(b []byte) (s Session, ok bool) {
	if len(b) < 2 || b[0] != sessionVersion {
		return Session{}, false
	}
	hash := 2 + int(b[1])
	head := hash + 8 + 8 + 2
	if len(b) < head {
		return Session{}, false
	}
	n := int(binary.LittleEndian.Uint16(b[head-2 : head]))
	if len(b) < head+n {
		return Session{}, false
	}
	return Session{
		Hash:       unsafe.String(unsafe.SliceData(b[2:hash]), hash-2),
		Fetched:    int64(binary.LittleEndian.Uint64(b[hash : hash+8])),
		Generation: binary.LittleEndian.Uint64(b[hash+8 : hash+16]),
		Cursor:     unsafe.String(unsafe.SliceData(b[head:head+n]), n),
		JSON:       b[head+n:],
	}, true
}

// Get returns keyHash's entry: ok is false when neither of its slots holds
// it. The session aliases the value read.
func (t Sessions) Get(st Store, keyHash string) (Session, bool) {
	a, b := t.slots(keyHash)
	if s, ok := getSlot(st, a, keyHash); ok || a == b {
		return s, ok
	}
	return getSlot(st, b, keyHash)
}

func getSlot(st Store, slot uint32, keyHash string) (Session, bool) {
	val, _, err := st.Get(SlotKey(slot))
	if err != nil {
		return Session{}, false
	}
	s, ok := DecodeSession(val)
	if !ok || s.Hash != keyHash {
		return Session{}, false
	}
	return s, true
}

// Generation reads the current generation (0 when never bumped).
func Generation(st Store) uint64 {
	val, _, err := st.Get(GenerationKey)
	if err != nil || len(val) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(val)
}

// BumpGeneration increments the generation and returns the new value.
func BumpGeneration(st Store) (uint64, error) {
	var g uint64
	err := update(st, GenerationKey, func(val []byte) ([]byte, bool) {
		g = 1
		if len(val) == 8 {
			g = binary.LittleEndian.Uint64(val) + 1
		}
		return binary.LittleEndian.AppendUint64(nil, g), true
	})
	if err != nil {
		return 0, err
	}
	return g, nil
}

// Put stores a fetched session of keyHash in one of its slots: the one
// that holds the key (unless it holds a fetch at a later cursor: then
// nothing is written), else an empty one, else the one with the older
// fetch, whose key is then looked up again when asked for. It is best
// effort: losing a race only costs another VM a lookup. scratch is reused
// for the encoding (nil: allocated).
func (t Sessions) Put(st Store, keyHash string, s Session, scratch *[]byte) error {
	if len(keyHash) > math.MaxUint8 {
		return nil // not a key hash; nothing the filter makes
	}
	a, b := t.slots(keyHash)
	type cand struct {
		key   string
		cas   uint32
		old   Session
		state int // 0 empty or junk, 1 another key, 2 this key
	}
	read := func(slot uint32) (cand, error) {
		c := cand{key: SlotKey(slot)}
		val, cas, err := st.Get(c.key)
		switch {
		case errors.Is(err, ErrNotFound):
			c.cas = createCAS
			return c, nil
		case err != nil:
			return c, err
		}
		c.cas = cas
		if old, ok := DecodeSession(val); ok {
			c.old, c.state = old, 1
			if old.Hash == keyHash {
				c.state = 2
			}
		}
		return c, nil
	}
	first, err := read(a)
	if err != nil {
		return err
	}
	pick := first
	if first.state != 2 && a != b {
		second, err := read(b)
		if err != nil {
			return err
		}
		switch {
		case second.state == 2, first.state == 1 && second.state == 0:
			pick = second
		case first.state == 1 && second.state == 1 && older(second.old, first.old):
			pick = second
		}
	}
	if pick.state == 2 && pick.old.Generation == s.Generation && CompareCursors(pick.old.Cursor, s.Cursor) > 0 {
		return nil // a fresher fetch is already there
	}
	s.Hash = keyHash
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	buf = AppendSession(buf, s)
	if scratch != nil {
		*scratch = buf
	}
	return st.Set(pick.key, buf, pick.cas)
}

// older reports whether entry x is an older fetch than y: an earlier
// generation, or the same one fetched earlier.
func older(x, y Session) bool {
	if x.Generation != y.Generation {
		return x.Generation < y.Generation
	}
	return x.Fetched < y.Fetched
}

// Tombstone empties keyHash's entry, so no VM picks the old session up
// again, unless the entry was read at or after cursor (the feed position of
// the change): then it already shows the change. Missing slots and slots of
// other keys are left alone: writing them would let a flood of changed-key
// events grow shared data or evict other keys.
func (t Sessions) Tombstone(st Store, keyHash, cursor string) {
	a, b := t.slots(keyHash)
	tombstone(st, a, keyHash, cursor)
	if b != a {
		tombstone(st, b, keyHash, cursor)
	}
}

func tombstone(st Store, slot uint32, keyHash, cursor string) {
	key := SlotKey(slot)
	val, cas, err := st.Get(key)
	if err != nil || len(val) == 0 {
		return
	}
	s, ok := DecodeSession(val)
	if !ok || s.Hash != keyHash || CompareCursors(s.Cursor, cursor) >= 0 {
		return
	}
	_ = st.Set(key, nil, cas) // on a race the winner was a fresher fetch
}

// CompareCursors orders two sidecar cursors (Redis stream ids "ms-seq"):
// -1, 0 or +1. Unparsable or empty cursors sort first, so data carrying
// one is never preferred over data carrying a real position.
func CompareCursors(a, b string) int {
	am, as, aok := parseCursor(a)
	bm, bs, bok := parseCursor(b)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	case am != bm:
		return cmp(am, bm)
	}
	return cmp(as, bs)
}

func cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseCursor(c string) (ms, seq uint64, ok bool) {
	i := 0
	ms, i, ok = parseUint(c, i)
	if !ok {
		return 0, 0, false
	}
	if i == len(c) {
		return ms, 0, true
	}
	if c[i] != '-' {
		return 0, 0, false
	}
	seq, i, ok = parseUint(c, i+1)
	return ms, seq, ok && i == len(c)
}

func parseUint(s string, i int) (uint64, int, bool) {
	start := i
	var n uint64
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, i, false
		}
		n = n*10 + d
	}
	return n, i, i > start
}
