// Package plugin is the filter's proxy-wasm logic: the plugin (root)
// context that keeps the caches and polls the sidecar's sync feed, and the
// HTTP contexts that decide each request.
//
// A request is decided inside the VM by the steps of pipeline.go. On the
// warm path (session cached, no quota) it costs a handful of host calls and
// no network call: match the API, extract and hash the key, find the
// effective (policy-applied) session in the per-VM cache, run the access
// checks, take a token from the key's bucket in shared data. Only a session
// this proxy has not seen recently, and a quota reservation, need the
// sidecar.
//
// The package reaches the proxy only through host.Host, so it runs
// natively against hosttest.Fake as well as in the VM.
package plugin

import (
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
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
	return NewRoot(host.Proxy{}, contextID)
}

// NewRoot makes the plugin context contextID over h. OnPluginStart
// configures it.
func NewRoot(h host.Host, contextID uint32) *Root {
	return &Root{host: h, store: h, id: contextID}
}

// Root is the plugin context of one configured filter on one VM (Envoy:
// one per worker thread).
type Root struct {
	proxywasm.DefaultPluginContext
	host host.Host
	// store is host as shm.Store, converted once: converting an interface
	// value to another interface type looks its method table up at run
	// time (runtime.getitab), which the warm path paid on every request.
	store   shm.Store
	id      uint32
	cfg     config.Config
	checker *access.Checker
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
	// shared is the table of fetched sessions in shared data (one copy per
	// proxy); shareBuf is reused to encode its entries.
	shared   shm.Sessions
	shareBuf []byte
	// recent remembers, per key hash, the sync cursor at which the key was
	// last evicted, so a lookup that was answered before the change but
	// arrives after it cannot install the old session again.
	recent *cache.LRU[string]
	// lookups holds the in-flight session lookups of this VM: one call per
	// key, every stream asking meanwhile waits on it.
	lookups map[string]*lookup
	// streams are the live HTTP contexts that waited (paused), so an
	// answer only resumes streams that still exist; a stream decided in
	// its first callback is never entered (pipeline.go).
	streams map[uint32]*httpContext
	// free holds finished HTTP contexts for reuse (pipeline.go).
	free []*httpContext
	// buckets records when this VM last used each shared-data bucket, for
	// the idle sweep; at most maxBuckets of them (trackBucket).
	buckets    map[string]int64
	maxBuckets int
	// bucketsGen changes whenever buckets are forgotten, so a bucketMark
	// from before no longer vouches for its bucket being in the map.
	bucketsGen uint64
	// leases are the quota leases this VM has used (lease.go), by
	// shared-data key.
	leases map[string]*leaseRef
	// retries are releases that failed, sent again every tick.
	retries []pendingRelease
	// refills holds, per lease key, the requests waiting for this VM's
	// refill of that lease; a key is present while the refill is in
	// flight.
	refills map[string][]refillWaiter

	sync syncState
	jwt  jwtState
	// refusedLogged are the APIs (id and field) whose refused auth method
	// was logged (logRefusedAPIs).
	refusedLogged map[string]struct{}
	// an is the analytics record buffer (analytics.go).
	an analyticsState
	// vmID names this VM to the sidecar in sync polls, so it can tell
	// which filters run the current configuration (GET /tyk/reload?block=true).
	vmID string
	// rc is this VM's part of the response cache (respcache.go).
	rc respCache
	// txm counts body transforms (transform_body.go), defined on first use.
	txm *transformMetrics
	// subSeq numbers batch sub-request contexts (batch.go).
	subSeq uint32
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
	// orgSession: the sidecar said the session's organisation has an org
	// session (hdrOrgSession), so a snapshot without it is stale.
	orgSession bool
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

// bytes estimates what the entry costs the VM's heap once its effective
// session is made, for session_cache.max_bytes: entryOverhead for the
// entry, its effective session (the slim session is most of it), its hash
// and bucket key and the caches' bookkeeping, plus its JSON twice (kept
// as is, and about as much again in the grant's lists and strings).
func (e *sessionEntry) bytes() int { return entryOverhead + 2*len(e.json) }

// entryOverhead is the heap a cached key costs besides its JSON, from a
// native heap profile of the plugin: the slim session about 450 bytes, the
// effective session about 210, the entry about 100, the LRU node and index
// about 90, the bucket key about 55. BenchmarkSessionCacheMemory's
// live-B/key (about 1.8 KB) also counts the hash cache, the sweep's bucket
// map and the runtime's share.
const entryOverhead = 900

// effective is a key's policy-applied session for one API, in the form the
// requests read: the access checks and limits read grant; everything else
// (auth verifiers, org, identity headers, analytics, JWT sessions) reads s,
// a copy of the session without its access rights and the other maps and
// lists no request reads (slimSession). The full session with its
// access_rights map was most of a cached key's memory.
type effective struct {
	s     *model.Session // nil only when the stored JSON did not decode (err)
	grant access.Grant
	err   error // policy application failed: the key is treated as unknown
	// missingPolicy: the session names a policy the snapshot lacks.
	missingPolicy bool
	// bucket is the shared-data key of the rate-limit bucket of requests
	// without a per-endpoint limit, built on first use rather than
	// concatenated on every request; bucketMark says when this VM last
	// recorded it for the sweep.
	bucket     string
	bucketMark bucketMark
	// lease is the key's quota lease (lease.go), found on first use.
	lease *leaseRef
	// an is the part of an analytics record that is the same for every
	// request of this key and API, encoded on first use for the key hash
	// anHash (analytics.go).
	an     []byte
	anHash string
}

// bucketKey returns the bucket of a request with limit (the limit of this
// effective session's API for the request), and its mark (nil for a
// per-endpoint bucket, built per request).
func (e *effective) bucketKey(hash string, limit access.Limit) (string, *bucketMark) {
	if limit.EndpointKey != "" {
		return shm.BucketKey(hash, limit.Scope+"#"+limit.EndpointKey), nil
	}
	if e.bucket == "" {
		e.bucket = shm.BucketKey(hash, limit.Scope)
	}
	return e.bucket, &e.bucketMark
}

type lookup struct {
	waiters []uint32
}

type syncState struct {
	cursor   string
	inFlight bool
	lastOK   int64 // unix ns of the last successful poll
	sweepAt  int64
	// waiting are streams that need a configuration fetched after they
	// arrived (refresh.go); the next poll carries them.
	waiting   []uint32
	lastFresh int64 // unix ns of the last fresh poll
	// enforceOrgs is the sidecar's --enforce-org-quotas, as of the last
	// answer.
	enforceOrgs bool
}

// OnPluginStart parses the configuration and starts the sync poll. A bad
// configuration returns false (proxy_on_configure fails) after logging the
// field at fault.
func (r *Root) OnPluginStart(int) bool {
	data, err := r.host.PluginConfig()
	if err != nil {
		r.log(host.Critical, "reading the plugin configuration: "+err.Error())
		return false
	}
	cfg, err := config.Parse(data)
	if err != nil {
		r.log(host.Critical, "invalid plugin configuration: "+err.Error())
		return false
	}
	r.cfg = cfg
	r.vmID = newVMID()
	r.checker = access.NewChecker(access.Options{})
	r.m = newMetrics(r.host)
	r.startAnalytics()
	// The hash cache only pays for keys whose session is cached too (a
	// miss costs far more than the hash): it gets a quarter of the bytes.
	r.sessions = cache.NewSized[*sessionEntry](cfg.CacheSize, cfg.CacheMaxBytes-cfg.CacheMaxBytes/4)
	r.hashes = cache.NewSized[string](cfg.CacheSize, cfg.CacheMaxBytes/4)
	r.shared = shm.Sessions{Slots: cfg.SharedSlots}
	r.recent = cache.New[string](recentSize)
	r.lookups = map[string]*lookup{}
	r.streams = map[uint32]*httpContext{}
	r.buckets = newBucketMap()
	r.maxBuckets = maxTrackedBuckets
	r.leases = map[string]*leaseRef{}
	r.refills = map[string][]refillWaiter{}
	if err := r.host.SetTick(cfg.SyncIntervalMS); err != nil {
		r.log(host.Critical, "setting the tick period: "+err.Error())
		return false
	}
	r.log(host.Info, "configured; sidecar cluster "+strconv.Quote(cfg.Cluster)+
		", sync every "+strconv.FormatUint(uint64(cfg.SyncIntervalMS), 10)+" ms")
	r.poll(r.id)
	return true
}

// OnPluginDone gives the unspent units of quota leases back and hands the
// last counts to the host before the plugin goes. The releases are best
// effort: a host that stops at once drops them, and the units then stay
// counted until their window ends.
func (r *Root) OnPluginDone() bool {
	if r.leases != nil {
		r.drainLeases(r.now(), nil, nil)
	}
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
	if n := len(r.free); n > 0 {
		h := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		*h = httpContext{root: r, host: r.host, id: contextID}
		return h
	}
	return &httpContext{root: r, host: r.host, id: contextID}
}

// OnTick adds the counts of the last interval to the host's metrics, polls
// the sync feed, ships the analytics records (analytics.go), sweeps idle buckets, runs an overdue garbage
// collection and sets GOGC from the live heap (gc.go).
func (r *Root) OnTick() {
	r.m.flush()
	collectIfBehind()
	tuneGC()
	now := r.now()
	// The tick period is the sync interval.
	r.pollOnTick()
	r.retryReleases(now)
	r.shipAnalytics()
	if now >= r.sync.sweepAt {
		r.sync.sweepAt = now + int64(sweepEvery)
		r.sweep(now)
		r.sweepLeases(now)
		r.sweepCache(now)
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
		r.bucketsGen++
	}
}

// maxTrackedBuckets bounds the buckets a VM remembers for the idle sweep.
// Without a bound the map holds every key used within bucketIdle (twenty
// ticks): at a high rate over many distinct keys that is tens of thousands
// of entries, each with its shared-data key (about 100-150 bytes). 8192 of
// them are about 1 MiB of live heap.
const maxTrackedBuckets = 8192

// newBucketMap makes the map of buckets tracked for the sweep with room for
// its bound (and the one key over it that trackBucket adds before shedding),
// so that its tables are the size they would reach under load from the
// first request, and stay so (shedBuckets). A Go map never shrinks: grown
// on demand, its tables followed the highest request rate the VM had seen
// (the buckets used in the last bucketIdle). The map's keys are the
// buckets' own keys, which the effective sessions hold too; those still
// follow the rate, at most maxTrackedBuckets of them.
func newBucketMap() map[string]int64 { return make(map[string]int64, maxTrackedBuckets+1) }

// trackBucket records that this VM used the bucket at key at now. A new key
// that takes the map past maxBuckets sheds its least recently used quarter
// first (shedBuckets); the warm path pays one map assignment, as without a bound.
func (r *Root) trackBucket(key string, now int64) {
	n := len(r.buckets)
	r.buckets[key] = now
	if len(r.buckets) > n && n >= r.maxBuckets {
		r.shedBuckets(key, now)
	}
}

// bucketMark remembers, next to a bucket's key, when this VM last recorded
// the bucket in Root.buckets (at) and the map's generation then (gen).
type bucketMark struct {
	at  int64
	gen uint64
}

// bucketRetrack is how stale a bucket's recorded last use may get: a
// bucket recorded less than this ago (and not forgotten since) is not
// recorded again. Recording costs a hash of the 70-byte key and a map
// assignment on every request; with this, once per key and half second. The
// sweep then sees a bucket at most this much idler than it is, less than
// bucketIdle (at least a second), and sweeping early changes no decision.
const bucketRetrack = int64(sweepEvery / 2)

// trackBucketMarked is trackBucket, skipped while mark (if any) says the
// bucket was recorded recently and is still in the map.
func (r *Root) trackBucketMarked(key string, now int64, mark *bucketMark) {
	if mark != nil && mark.gen == r.bucketsGen && now-mark.at < bucketRetrack && mark.at != 0 {
		return
	}
	r.trackBucket(key, now)
	if mark != nil {
		*mark = bucketMark{at: now, gen: r.bucketsGen}
	}
}

// shedBuckets sweeps and forgets tracked buckets until the map is down to
// three quarters of its bound, the least recently used first (keep, the
// one just used, never). Sweeping a bucket early never changes a decision
// (SweepBucket empties only a bucket that is full again, and an empty bucket
// reads as full); a forgotten bucket that was not full stays in shared data
// until a VM uses its key again, as at the regular sweep.
//
// Choosing by age, not by the map's order, is what keeps the map's memory
// bounded: Go's map order walks its tables one after another, so a quarter
// taken in that order empties a few tables while the new keys fill all of
// them evenly, the full ones split, and none is ever freed. Shedding in map
// order, 2,000,000 new keys grew a map of at most 8,193 entries from 426 KB
// to 1.9 MB (native; about 1.2 MB in the VM); by age it stays at 426 KB. The
// ages are counted in shedSteps steps that span the oldest bucket's; only
// within the step where the oldest quarter ends are buckets taken in map
// order, a small part of the map unless its buckets were all used within
// one step. The work is three passes over the map, once per quarter of the
// bound new keys.
func (r *Root) shedBuckets(keep string, now int64) {
	low := r.maxBuckets * 3 / 4
	oldest := now
	for _, used := range r.buckets {
		oldest = min(oldest, used)
	}
	step := (now-oldest)/shedSteps + 1
	age := func(used int64) int { return int(min(max(now-used, 0)/step, shedSteps)) }
	var count [shedSteps + 1]int32
	for _, used := range r.buckets {
		count[age(used)]++
	}
	// cut is the youngest age forgotten: every bucket older is, and of
	// those of age cut as many as it takes.
	cut, older := shedSteps, 0
	for ; cut > 0 && len(r.buckets)-older-int(count[cut]) > low; cut-- {
		older += int(count[cut])
	}
	take := len(r.buckets) - low - older // of age cut
	for key, used := range r.buckets {
		if a := age(used); key == keep || a < cut || (a == cut && take <= 0) {
			continue
		} else if a == cut {
			take--
		}
		shm.SweepBucket(r.store, key, now)
		delete(r.buckets, key)
		r.bucketsGen++
	}
}

// shedSteps is the resolution of shedBuckets' ages.
const shedSteps = 256

func (r *Root) now() int64 { return r.host.Now() }

// log writes a line of the filter's log, prefixed with its name.
func (r *Root) log(level host.Level, msg string) { r.host.Log(level, "turnpike: "+msg) }
