package plugin

import (
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// The sync feed: every tick each VM asks the sidecar what changed since its
// cursor (key hashes to evict) and, when the configuration version moved,
// receives a new snapshot of policies, API definitions and org sessions.

// poll asks the sync feed for changes since the last cursor; from is the
// context the caller runs as (the answer goes to the root context). At most
// one poll is in flight per VM. Streams waiting for a fresh configuration
// (refresh.go) ride on it: the poll then asks the sidecar to check its
// store first (fresh=1), and resumes them when answered.
func (r *Root) poll(from uint32) {
	q := wire.SyncQuery{Cursor: r.sync.cursor, VM: r.vmID, JWKSRefresh: r.jwksRefreshParam()}
	if r.snap != nil {
		q.Version = r.snap.version
	}
	riders := r.sync.waiting
	if len(riders) > 0 {
		q.Fresh = true
		r.sync.lastFresh = r.now()
		r.sync.waiting = nil
	}
	path := string(q.AppendPath(r.scratch[:0]))
	r.m.calls[callSync].Increment(1)
	err := r.dispatchFromRoot(from, path, r.cfg.SyncTimeoutMS, func(ans *host.CallResponse) {
		// Riders decide with whatever the VM has once the answer is in,
		// good or bad: a refresh that failed must not hold them longer.
		defer r.resumeRiders(riders)
		r.onSync(ans)
	})
	if err != nil {
		r.m.failures[callSync].Increment(1)
		r.log(host.Warn, "sync call failed: "+err.Error())
		// The riders wait on: for the next poll, or for the caller to
		// resume them (OnTick, awaitFresh).
		r.sync.waiting = append(riders, r.sync.waiting...)
		return
	}
	r.sync.inFlight = true
}

func (r *Root) onSync(ans *host.CallResponse) {
	r.sync.inFlight = false
	now := r.now()
	if ans.Status != 200 {
		r.m.failures[callSync].Increment(1)
		r.refused(ans.Status)
		return
	}
	resp, err := wire.DecodeSyncResponse(ans.Body)
	if err != nil {
		r.m.failures[callSync].Increment(1)
		r.log(host.Error, err.Error())
		return
	}
	r.applySync(resp, now)
	if resp.More {
		r.poll(r.id) // catch up at once rather than one page per interval
	}
}

// applySync applies one sync answer: new snapshot, evictions, reset.
func (r *Root) applySync(resp *wire.SyncResponse, now int64) {
	r.sync.lastOK = now
	if resp.Reset {
		// The feed lost track of what changed: nothing cached can be
		// trusted. The generation bump invalidates shared data for every VM.
		r.sessions.Clear()
		if _, err := shm.BumpGeneration(r.host); err != nil {
			r.log(host.Error, "invalidating shared sessions: "+err.Error())
		}
		// Counters may have been reset too (a flushed or failed-over
		// Redis): leased units go back, where their window still exists.
		r.drainLeases(now, nil, nil)
	}
	if resp.Snapshot != nil {
		r.snapSeq++
		old := cacheGenerations(r.snap)
		r.snap = newSnapshot(r.snapSeq, resp.Version, resp.Snapshot, r.cfg.APIs)
		r.configureJWT(resp.Snapshot)
		r.invalidateCaches(old, r.snap.cacheGens)
		r.logRefusedAPIs()
		r.m.snapshots.Increment(1)
	}
	keep := now + int64(r.recentTTL())
	evicted := 0
	for _, hash := range resp.Keys {
		r.recent.Put(hash, resp.Cursor, keep)
		r.shared.Tombstone(r.host, hash, resp.Cursor)
		// An entry read at or after the batch's cursor already shows every
		// change in it (a key's own creation, typically): evicting it would
		// cost a lookup and, with the sidecar down, a 503 for a key that
		// was just served. The batch has one cursor, not one per key, so
		// an entry read in the middle of the batch is evicted to be safe.
		if e, ok := r.sessions.Get(hash, now); ok && shm.CompareCursors(e.cursor, resp.Cursor) >= 0 {
			continue
		}
		r.sessions.Delete(hash)
		evicted++
	}
	r.m.evictions.Increment(uint64(evicted))
	r.invalidateLeases(now, resp.Keys, resp.Orgs)
	r.sync.enforceOrgs = resp.EnforceOrgQuotas
	r.sync.cursor = resp.Cursor
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

// logRefusedAPIs says, once per API and field, why an API refuses every
// request (auth.Refused): an operator sees 403s and needs the reason.
func (r *Root) logRefusedAPIs() {
	for api, m := range r.snap.methods {
		ref, ok := m.(auth.Refused)
		if !ok {
			continue
		}
		key := api.APIID + "\x00" + ref.Field
		if _, done := r.refusedLogged[key]; done {
			continue
		}
		if r.refusedLogged == nil {
			r.refusedLogged = map[string]struct{}{}
		}
		r.refusedLogged[key] = struct{}{}
		r.log(host.Error, "API "+strconv.Quote(api.APIID)+": "+ref.Reason())
	}
}
