package plugin

import (
	"errors"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/valyala/fastjson"
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
	path := "/turnpike/v1/sync?cursor=" + queryEscape(r.sync.cursor) + "&vm=" + r.vmID
	if r.snap != nil {
		path += "&version=" + queryEscape(r.snap.version)
	}
	riders := r.sync.waiting
	if len(riders) > 0 {
		path += "&fresh=1"
		r.sync.lastFresh = r.now()
		r.sync.waiting = nil
	}
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
	resp, err := parseSync(ans.Body)
	if err != nil {
		r.m.failures[callSync].Increment(1)
		r.log(host.Error, err.Error())
		return
	}
	r.applySync(resp, now)
	if resp.more {
		r.poll(r.id) // catch up at once rather than one page per interval
	}
}

// applySync applies one sync answer: new snapshot, evictions, reset.
func (r *Root) applySync(resp *syncResponse, now int64) {
	r.sync.lastOK = now
	if resp.reset {
		// The feed lost track of what changed: nothing cached can be
		// trusted. The generation bump invalidates shared data for every VM.
		r.sessions.Clear()
		if _, err := shm.BumpGeneration(r.host); err != nil {
			r.log(host.Error, "invalidating shared sessions: "+err.Error())
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
		shm.Tombstone(r.host, hash, resp.cursor)
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

// syncResponse is one answer of GET /turnpike/v1/sync.
type syncResponse struct {
	version string
	cursor  string
	reset   bool
	more    bool
	keys    []string
	// hasSnapshot: the answer carries a snapshot (the version changed).
	hasSnapshot bool
	policies    policy.Map
	apis        []*model.APIDefinition
	orgs        map[string]*model.OrgSession
}

// parseSync decodes a sync answer. A malformed snapshot rejects the whole
// answer: applying half a policy set could grant access that the full set
// denies.
func parseSync(body []byte) (*syncResponse, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, errors.New("sync: invalid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("sync: answer is not an object")
	}
	r := &syncResponse{
		version: string(v.GetStringBytes("version")),
		cursor:  string(v.GetStringBytes("cursor")),
		reset:   v.GetBool("reset"),
		more:    v.GetBool("more"),
	}
	for i, k := range v.GetArray("keys") {
		b, err := k.StringBytes()
		if err != nil {
			return nil, errors.New("sync: keys[" + strconv.Itoa(i) + "] is not a string")
		}
		r.keys = append(r.keys, string(b))
	}
	snap := v.Get("snapshot")
	if snap == nil || snap.Type() == fastjson.TypeNull {
		return r, nil
	}
	r.hasSnapshot = true
	r.policies = policy.Map{}
	if o := snap.GetObject("policies"); o != nil {
		o.Visit(func(k []byte, pv *fastjson.Value) {
			if err != nil {
				return
			}
			var pol *model.Policy
			pol, err = model.PolicyFromValue(pv)
			if err != nil {
				err = errors.New("sync: policy " + strconv.Quote(string(k)) + ": " + err.Error())
				return
			}
			if pol.ID == "" {
				pol.ID = string(k)
			}
			r.policies[string(k)] = pol
		})
		if err != nil {
			return nil, err
		}
	}
	for i, av := range snap.GetArray("apis") {
		api, err := model.APIDefinitionFromValue(av)
		if err != nil {
			return nil, errors.New("sync: apis[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		r.apis = append(r.apis, api)
	}
	if o := snap.GetObject("orgs"); o != nil {
		r.orgs = map[string]*model.OrgSession{}
		o.Visit(func(k []byte, ov *fastjson.Value) {
			if err != nil {
				return
			}
			var org *model.OrgSession
			org, err = model.SessionFromValue(ov)
			if err != nil {
				err = errors.New("sync: org " + strconv.Quote(string(k)) + ": " + err.Error())
				return
			}
			r.orgs[string(k)] = org
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}
