// Package plugin is the filter's proxy-wasm logic: the plugin (root)
// context that keeps the caches and polls the sidecar's sync feed, and the
// HTTP contexts that decide each request.
//
// A request is decided inside the VM. On the warm path (session cached, no
// quota) it costs a handful of host calls and no network call: match the
// API, extract and hash the key, find the effective (policy-applied)
// session in the per-VM cache, run the access checks, take a token from
// the key's bucket in shared data. Only a session this proxy has not seen
// recently, and a quota reservation, need the sidecar.
package plugin

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/cache"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// VM is the proxy-wasm VM context: it creates one Root per configured
// plugin.
type VM struct{ proxywasm.DefaultVMContext }

// NewPluginContext implements proxywasm.VMContext.
func (VM) NewPluginContext(contextID uint32) proxywasm.PluginContext {
	return &Root{id: contextID}
}

// Root is the plugin context of one configured filter on one VM (Envoy:
// one per worker thread).
type Root struct {
	proxywasm.DefaultPluginContext
	id      uint32
	cfg     config.Config
	checker *access.Checker
	store   shm.Store
	m       *metrics

	// snap is nil until the first sync answer arrives; until then every
	// request that needs a decision gets 503.
	snap    *snapshot
	snapSeq uint64

	sessions *cache.LRU[*sessionEntry]
	// hashes maps raw keys to their hashes: SHA-256 and hex encoding are the
	// largest part of a warm decision in the VM, and a warm key's hash never
	// changes. Raw keys in VM memory are no new exposure (every request
	// carries one); they are never logged.
	hashes *cache.LRU[string]
	// scratch is reused for bytes that are copied before the callback
	// returns: response header values, a session's compact JSON.
	scratch []byte
	// shmScratch is reused to encode bucket states.
	shmScratch shm.Scratch
	// recent remembers, per key hash, the sync cursor at which the key was
	// last evicted, so a lookup that was answered before the change but
	// arrives after it cannot install the old session again.
	recent *cache.LRU[string]
	// lookups holds the in-flight session lookups of this VM: one call per
	// key, every stream asking meanwhile waits on it.
	lookups map[string]*lookup
	// streams are the live HTTP contexts, so a lookup answer only resumes
	// streams that still exist.
	streams map[uint32]*httpContext
	// buckets records when this VM last used each shared-data bucket, for
	// the idle sweep.
	buckets map[string]int64

	sync syncState
}

// sessionEntry is a cached lookup result: a stored session (policies not
// applied) or, with json == nil, "unknown key".
//
// The stored session is kept as compact JSON (AppendCompactJSON), not decoded:
// it is only needed to apply policies, once per key, API and snapshot, and
// decoded it would cost as much memory again as the effective session the
// requests use. A session cache of 10,000 entries is most of a VM's heap.
type sessionEntry struct {
	json    []byte // compact JSON of the stored session; nil: unknown key
	fetched int64  // unix ns
	cursor  string
	// decoded is the stored session as decoded when the entry was made (to
	// validate it), handed to the first effective session instead of being
	// decoded again, and dropped then.
	decoded *model.Session
	// Effective sessions for snapshot effSeq: Apply runs once per key, API
	// and snapshot, not per request. Nearly every key is used with one API,
	// which gets the inline slot; a map per entry would cost more than the
	// effective session's pointer.
	effSeq uint64
	effAPI string
	eff    *effective
	more   map[string]*effective // further APIs
}

func (e *sessionEntry) unknown() bool { return e.json == nil }

type effective struct {
	s   *model.Session
	err error // policy application failed: the key is treated as unknown
	// bucket is the shared-data key of the rate-limit bucket of requests
	// without a per-endpoint limit, built on first use rather than
	// concatenated on every request.
	bucket string
}

// bucketKey returns the bucket of a request with limit (the limit of this
// effective session's API for the request).
func (e *effective) bucketKey(hash string, limit access.Limit) string {
	if limit.EndpointKey != "" {
		return shm.BucketKey(hash, limit.Scope+"#"+limit.EndpointKey)
	}
	if e.bucket == "" {
		e.bucket = shm.BucketKey(hash, limit.Scope)
	}
	return e.bucket
}

type lookup struct {
	waiters []uint32
}

type syncState struct {
	cursor   string
	inFlight bool
	lastOK   int64 // unix ns of the last successful poll
	sweepAt  int64
}

// OnPluginStart parses the configuration and starts the sync poll. A bad
// configuration returns false (proxy_on_configure fails) after logging the
// field at fault.
func (r *Root) OnPluginStart(int) bool {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, proxywasm.ErrNotFound) {
		proxywasm.LogCritical("turnpike: reading the plugin configuration: " + err.Error())
		return false
	}
	cfg, err := config.Parse(data)
	if err != nil {
		proxywasm.LogCritical("turnpike: invalid plugin configuration: " + err.Error())
		return false
	}
	r.cfg = cfg
	r.checker = access.NewChecker(access.Options{})
	r.store = hostStore{}
	r.m = newMetrics()
	r.sessions = cache.New[*sessionEntry](cfg.CacheSize)
	r.hashes = cache.New[string](cfg.CacheSize)
	r.recent = cache.New[string](recentSize)
	r.lookups = map[string]*lookup{}
	r.streams = map[uint32]*httpContext{}
	r.buckets = map[string]int64{}
	if err := proxywasm.SetTickPeriodMilliSeconds(cfg.SyncIntervalMS); err != nil {
		proxywasm.LogCritical("turnpike: setting the tick period: " + err.Error())
		return false
	}
	proxywasm.LogInfo("turnpike: configured; sidecar cluster " + strconv.Quote(cfg.Cluster) +
		", sync every " + strconv.FormatUint(uint64(cfg.SyncIntervalMS), 10) + " ms")
	r.poll()
	return true
}

// OnPluginDone hands the last counts to the host before the plugin goes.
func (r *Root) OnPluginDone() bool {
	if r.m != nil {
		r.m.flush()
	}
	return true
}

// recentSize bounds the evicted-keys memory; an overflow only reopens the
// narrow lookup-versus-delete race for the oldest entries.
const recentSize = 16384

// NewHttpContext implements proxywasm.PluginContext.
func (r *Root) NewHttpContext(contextID uint32) proxywasm.HttpContext {
	h := &httpContext{root: r, id: contextID}
	r.streams[contextID] = h
	return h
}

// OnTick adds the counts of the last interval to the host's metrics, polls
// the sync feed, sweeps idle buckets and runs an overdue garbage collection
// (gc.go).
func (r *Root) OnTick() {
	r.m.flush()
	collectIfBehind()
	now := r.now()
	// The tick period is the sync interval; a poll still in flight (slow
	// sidecar) is not doubled up.
	if !r.sync.inFlight {
		r.poll()
	}
	if now >= r.sync.sweepAt {
		r.sync.sweepAt = now + int64(sweepEvery)
		r.sweep(now)
	}
}

// sweepEvery is how often idle buckets are swept.
const sweepEvery = time.Second

// bucketIdle is how long a bucket must go unused by this VM before it is
// swept: twenty sync intervals, at least a second.
func (r *Root) bucketIdle() int64 {
	return int64(max(time.Second, 20*time.Duration(r.cfg.SyncIntervalMS)*time.Millisecond))
}

// sweep empties this VM's idle buckets that are full again, keeping shared
// data bounded by the keys active in the last few seconds.
func (r *Root) sweep(now int64) {
	for key, used := range r.buckets {
		if now-used < r.bucketIdle() {
			continue
		}
		shm.SweepBucket(r.store, key, now)
		// Forget it even when it was not full (a long window): whichever VM
		// uses it next tracks it again, and sweeping is only about memory.
		delete(r.buckets, key)
	}
}

func (r *Root) now() int64 {
	t, err := proxywasm.GetCurrentTimeNanoseconds()
	if err != nil {
		return time.Now().UnixNano()
	}
	return t
}

// callHeaders are the headers of a sidecar call; Envoy requires :method,
// :path and :authority.
func (r *Root) callHeaders(method, path string) [][2]string {
	h := [][2]string{
		{":method", method},
		{":path", path},
		{":authority", r.cfg.Authority},
		{"x-turnpike-filter-token", r.cfg.Token},
	}
	if method == "POST" {
		h = append(h, [2]string{"content-type", "application/json"})
	}
	return h
}

// dispatchFromRoot sends a sidecar call whose answer is delivered to the
// root context rather than to the current stream: the answer must reach
// every waiting stream even if the one that triggered the call is gone.
// from is the context the caller runs as, restored afterwards.
func (r *Root) dispatchFromRoot(from uint32, path string, timeoutMS uint32, cb func(numHeaders, bodySize, numTrailers int)) error {
	if from != r.id {
		if err := proxywasm.SetEffectiveContext(r.id); err != nil {
			return err
		}
		defer func() { _ = proxywasm.SetEffectiveContext(from) }()
	}
	_, err := proxywasm.DispatchHttpCall(r.cfg.Cluster, r.callHeaders("GET", path), nil, nil, timeoutMS, cb)
	return err
}

// callStatus returns the HTTP status of a sidecar answer, 0 for a failed
// call (reset, timeout, no connection).
func callStatus(numHeaders int) int {
	if numHeaders == 0 {
		return 0
	}
	v, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return 0
	}
	status := 0
	for _, kv := range v {
		if kv[0] == ":status" {
			status, _ = strconv.Atoi(kv[1])
		}
	}
	return status
}

func callHeader(name string) string {
	v, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return ""
	}
	for _, kv := range v {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func callBody(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, err := proxywasm.GetHttpCallResponseBody(0, size)
	if err != nil {
		return nil
	}
	return b
}

// poll asks the sync feed for changes since the last cursor.
func (r *Root) poll() {
	path := "/turnpike/v1/sync?cursor=" + queryEscape(r.sync.cursor)
	if r.snap != nil {
		path += "&version=" + queryEscape(r.snap.version)
	}
	r.m.calls[callSync].Increment(1)
	err := r.dispatchFromRoot(r.id, path, r.cfg.SyncTimeoutMS, r.onSync)
	if err != nil {
		r.m.failures[callSync].Increment(1)
		proxywasm.LogWarn("turnpike: sync call failed: " + err.Error())
		return
	}
	r.sync.inFlight = true
}

func (r *Root) onSync(numHeaders, bodySize, _ int) {
	r.sync.inFlight = false
	now := r.now()
	status := callStatus(numHeaders)
	if status != 200 {
		r.m.failures[callSync].Increment(1)
		if status == 403 {
			proxywasm.LogError("turnpike: the sidecar refused the filter token (sidecar.token)")
		}
		return
	}
	resp, err := parseSync(callBody(bodySize))
	if err != nil {
		r.m.failures[callSync].Increment(1)
		proxywasm.LogError("turnpike: " + err.Error())
		return
	}
	r.applySync(resp, now)
	if resp.more {
		r.poll() // catch up at once rather than one page per interval
	}
}

// applySync applies one sync answer: new snapshot, evictions, reset.
func (r *Root) applySync(resp *syncResponse, now int64) {
	r.sync.lastOK = now
	if resp.reset {
		// The feed lost track of what changed: nothing cached can be
		// trusted. The generation bump invalidates shared data for every VM.
		r.sessions.Clear()
		if _, err := shm.BumpGeneration(r.store); err != nil {
			proxywasm.LogError("turnpike: invalidating shared sessions: " + err.Error())
		}
	}
	if resp.hasSnapshot {
		r.snapSeq++
		r.snap = newSnapshot(r.snapSeq, resp, r.cfg.APIs)
		r.m.snapshots.Increment(1)
	}
	keep := now + int64(r.recentTTL())
	evicted := 0
	for _, hash := range resp.keys {
		r.recent.Put(hash, resp.cursor, keep)
		shm.Tombstone(r.store, hash, resp.cursor)
		// An entry read at or after the batch's cursor already shows every
		// change in it (a key's own creation, typically): evicting it would
		// cost a lookup and, with the sidecar down, a 503 for a key that
		// was just served. The batch has one cursor, not one per key, so
		// an entry read in the middle of the batch is evicted to be safe.
		if e, ok := r.sessions.Get(hash, now); ok && shm.CompareCursors(e.cursor, resp.cursor) >= 0 {
			continue
		}
		r.sessions.Delete(hash)
		evicted++
	}
	r.m.evictions.Increment(uint64(evicted))
	r.sync.cursor = resp.cursor
}

// recentTTL is how long an eviction is remembered: long enough for any
// lookup in flight at eviction time, on any VM, to have been answered and
// for that VM's own poll to have seen the eviction.
func (r *Root) recentTTL() time.Duration {
	ms := 2*(r.cfg.LookupTimeoutMS+r.cfg.SyncTimeoutMS+r.cfg.SyncIntervalMS) + 1000
	return time.Duration(ms) * time.Millisecond
}

// evictedAfter reports whether the key was evicted at a cursor later than
// the one its data was read at.
func (r *Root) evictedAfter(hash, cursor string, now int64) bool {
	at, ok := r.recent.Get(hash, now)
	return ok && shm.CompareCursors(at, cursor) > 0
}

// queryEscape percent-encodes s for a query parameter value. Cursors and
// versions are plain ASCII, but the sidecar is not ours to trust blindly.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return s
	}
	return string(b)
}
