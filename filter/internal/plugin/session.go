package plugin

import (
	"bytes"
	"math"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Session resolution, cheapest first: this VM's cache, shared data (another
// VM fetched it), then one sidecar lookup per key and VM with every stream
// that asks meanwhile waiting on it. Across VMs duplicate lookups are
// possible: proxy-wasm has no way to wake a stream of another VM.

func (r *Root) ttl() int64      { return r.cfg.CacheTTLMS * int64(time.Millisecond) }
func (r *Root) maxStale() int64 { return r.cfg.MaxStaleMS * int64(time.Millisecond) }

// fromShared returns the session another VM stored, if it is current: same
// generation, within the TTL, and not older than an eviction this VM saw.
func (r *Root) fromShared(hash string, now int64) *sessionEntry {
	s, ok := r.shared.Get(r.host, hash)
	if !ok || now-s.Fetched >= r.ttl() || s.Generation != shm.Generation(r.host) ||
		r.evictedAfter(hash, s.Cursor, now) {
		return nil
	}
	// Decoded to validate it; the decoded session usually serves this very
	// request. The JSON was compacted by the VM that stored it.
	stored, err := model.DecodeSession(s.JSON)
	if err != nil {
		return nil
	}
	e := &sessionEntry{json: bytes.Clone(s.JSON), decoded: stored, fetched: s.Fetched, cursor: strings.Clone(s.Cursor)}
	r.sessions.PutSized(hash, e, s.Fetched+r.ttl()+r.maxStale(), e.bytes())
	return e
}

// startLookup registers stream id as waiting for hash's session and sends
// the lookup unless one is already in flight. It returns false when the
// call could not be sent.
func (r *Root) startLookup(hash string, id uint32) bool {
	if l, ok := r.lookups[hash]; ok {
		l.waiters = append(l.waiters, id)
		return true
	}
	r.m.calls[callLookup].Increment(1)
	err := r.dispatchFromRoot(id, wire.SessionPath(hash), r.cfg.LookupTimeoutMS,
		func(ans *host.CallResponse) { r.onLookup(hash, ans) })
	if err != nil {
		r.m.failures[callLookup].Increment(1)
		r.log(host.Warn, "session lookup call failed: "+err.Error())
		return false
	}
	r.lookups[hash] = &lookup{waiters: []uint32{id}}
	return true
}

// onLookup handles a lookup answer and resumes every stream waiting for it.
func (r *Root) onLookup(hash string, ans *host.CallResponse) {
	l := r.lookups[hash]
	delete(r.lookups, hash)
	now := r.now()
	var e *sessionEntry
	failed := false
	switch ans.Status {
	case wire.StatusOK:
		cursor := ans.Header(wire.HeaderCursor)
		stored, err := model.DecodeSession(ans.Body)
		if err != nil {
			// A session the sidecar stored but we cannot read: refuse the
			// key like Tyk refuses a key it cannot load, and say why.
			r.log(host.Error, "undecodable session from the sidecar: "+err.Error())
			e = &sessionEntry{fetched: now}
			break
		}
		// Cached compact (a few hundred bytes, not the classic 1.2 KB), at
		// its exact size: the entry keeps it for as long as it is cached.
		r.scratch = stored.AppendCompactJSON(r.scratch[:0])
		compact := bytes.Clone(r.scratch)
		e = &sessionEntry{json: compact, decoded: stored, fetched: now, cursor: cursor,
			orgSession: ans.Header(wire.HeaderOrgSession) == "1"}
		if r.evictedAfter(hash, cursor, now) {
			break // changed while we asked: serve this answer, cache nothing
		}
		r.sessions.PutSized(hash, e, now+r.ttl()+r.maxStale(), e.bytes())
		// Shared in compact form too: every VM that picks it up keeps it.
		err = r.shared.Put(r.host, hash, shm.Session{
			Fetched: now, Generation: shm.Generation(r.host), Cursor: cursor, JSON: compact,
		}, &r.shareBuf)
		if err != nil {
			r.log(host.Warn, "sharing a session: "+err.Error())
		}
	case wire.StatusNotFound:
		e = &sessionEntry{fetched: now}
		// A key created while the lookup was in flight must not be
		// remembered as unknown.
		if _, changed := r.recent.Get(hash, now); !changed && r.cfg.NegativeTTLMS > 0 {
			r.sessions.PutSized(hash, e, now+r.cfg.NegativeTTLMS*int64(time.Millisecond), e.bytes())
		}
	default:
		failed = true
		r.m.failures[callLookup].Increment(1)
		r.refused(ans.Status)
	}
	if l == nil {
		return
	}
	for _, id := range l.waiters {
		h := r.streams[id]
		if h == nil || r.host.SetContext(r.contextOf(id)) != nil {
			continue // the stream ended while it waited
		}
		h.entry, h.lookupFailed = e, failed
		h.resume()
	}
	_ = r.host.SetContext(r.id)
}

// effective returns the policy-applied session of e for api under the
// current snapshot, applying the policies at most once per snapshot.
func (r *Root) effective(e *sessionEntry, api *model.APIDefinition) *effective {
	if e.effSeq != r.snap.seq {
		e.effSeq, e.effAPI, e.eff, e.more = r.snap.seq, "", nil, nil
	}
	if e.eff != nil && e.effAPI == api.APIID {
		return e.eff
	}
	if eff, ok := e.more[api.APIID]; ok {
		return eff
	}
	eff := r.applyPolicies(e, api)
	if e.eff == nil {
		e.effAPI, e.eff = api.APIID, eff
	} else {
		if e.more == nil {
			e.more = make(map[string]*effective, 1)
		}
		e.more[api.APIID] = eff
	}
	return eff
}

// applyPolicies makes the effective session of e for api: a fresh decode
// of the stored JSON (or the one decoded with the entry), with the
// snapshot's policies applied in place.
func (r *Root) applyPolicies(e *sessionEntry, api *model.APIDefinition) *effective {
	s := e.decoded
	e.decoded = nil
	if s == nil {
		var err error
		if s, err = model.DecodeSession(e.json); err != nil {
			// The JSON was validated when the entry was made: only a bug
			// gets here, and the key is refused rather than guessed.
			return &effective{err: err}
		}
	}
	// Tyk checks policies against the API's organisation; an API without
	// one imposes no check.
	var guard *string
	if api.OrgID != "" {
		guard = &api.OrgID
	}
	missing := false
	for _, id := range s.ApplyPolicies {
		if _, ok := r.snap.policies[id]; !ok {
			missing = true
		}
	}
	err := policy.Apply(s, r.snap.policies, guard)
	return &effective{s: slimSession(s), grant: access.GrantFor(s, api.APIID), err: err, missingPolicy: missing}
}

// slimSession returns a copy of the effective session s without what no
// request reads once the grant is made: the access rights (the grant holds
// the one for the API), OAuth keys, monitor, smoothing and the date
// strings. Meta data stays: body transforms with enable_session read it
// (_tyk_meta). AccessRights is nil in the copy, which the access checks
// would take for a master key: they read the grant, never s.
func slimSession(s *model.Session) *model.Session {
	c := *s
	c.AccessRights, c.OauthKeys, c.Smoothing = nil, nil, nil
	c.Monitor = model.Monitor{}
	c.DateCreated, c.LastUpdated = "", ""
	return &c
}

// hashOverhead is what a hash cache entry costs besides its two strings:
// the strings' headers, the LRU node and the index's slot.
const hashOverhead = 96

// hashKey returns keys.Hash(key), from the per-VM cache when it can. key
// may be a view of the request's memory: it is copied before it is kept.
func (r *Root) hashKey(key string, now int64) string {
	if h, ok := r.hashes.Get(key, now); ok {
		return h
	}
	h := keys.Hash(key)
	r.hashes.PutSized(strings.Clone(key), h, math.MaxInt64, len(key)+len(h)+hashOverhead)
	return h
}
