package plugin

import (
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Quota leases. The sidecar grants this proxy several units of a quota at
// once (one Lua script in Redis per lease); all VMs spend them through one
// shared-data entry (shm.SpendLease, compare-and-swap), so a request with a
// quota far from exhausted makes no sidecar call. A VM asks for the next
// lease before the current one runs out, without holding the request.
// Units not spent go back to the sidecar (a release) when the lease
// expires, when the key or the organisation changes, and when the plugin
// stops; the sidecar adds them back only into the window they came from.
//
// Redis counts units when it grants them, so the sum granted in a window
// never exceeds quota_max, and what this proxy admits never exceeds what it
// was granted. Without a window end (quota_renewal_rate <= 0) units could
// not be matched to a window on release, so such quotas, and all quotas
// with quota_lease.cover_ms 0, reserve one unit per request as before.

// leaseRef is a lease this VM has used: where it lives in shared data and
// whose units it holds, for releases and invalidation.
type leaseRef struct {
	key   string // shared-data key
	hash  string // key hash ("" for an organisation)
	scope string
	org   string // organisation id ("" for a key)
	used  int64  // unix ns this VM last used it
}

// quotaUse is one quota a request draws on: the key's or its
// organisation's.
type quotaUse struct {
	ref    *leaseRef
	max    int64
	rate   int64
	lease  bool // drawn from a lease (else one unit reserved per request)
	sentAt int64
	// answer is the sidecar's answer to this request's call.
	answer *host.CallResponse
	// held: a lease unit was spent for this request, in window heldWindow;
	// it goes back if the request is refused later.
	held       bool
	heldWindow int64
	// waited: the request waited for this VM's refill of the lease (at
	// most once); retry: that refill is in, spend again.
	waited, retry bool
}

// refillWaiter is a request waiting for this VM's refill of a lease.
type refillWaiter struct {
	h *httpContext
	q *quotaUse
}

type quotaOutcome uint8

const (
	quotaOK quotaOutcome = iota
	quotaExceeded
	quotaWait
	quotaFailure
)

// keyLease and orgLease find (or start tracking) the lease of a key's
// quota in scope, or of an organisation's. The effective session keeps
// its key's lease, so a request builds no shared-data key.
func (r *Root) keyLease(e *effective, hash, scope string) *leaseRef {
	if ref := e.lease; ref != nil && ref.scope == scope {
		if r.leases[ref.key] == nil {
			r.leases[ref.key] = ref // forgotten by the sweep meanwhile
		}
		return ref
	}
	key := shm.LeaseKey(hash, scope)
	ref := r.leases[key]
	if ref == nil {
		ref = &leaseRef{key: key, hash: hash, scope: scope}
		r.leases[key] = ref
	}
	e.lease = ref
	return ref
}

func (r *Root) orgLease(org string) *leaseRef {
	key := shm.OrgLeaseKey(org)
	if ref := r.leases[key]; ref != nil {
		return ref
	}
	ref := &leaseRef{key: key, org: org}
	r.leases[key] = ref
	return ref
}

// newQuotaUse prepares drawing on ref's quota of quotaMax per renewalRate.
func (r *Root) newQuotaUse(ref *leaseRef, quotaMax, renewalRate int64) quotaUse {
	return quotaUse{ref: ref, max: quotaMax, rate: renewalRate,
		lease: r.cfg.LeaseCoverMS > 0 && quotaMax > 0 && renewalRate > 0}
}

func (r *Root) leasePolicy() shm.LeasePolicy {
	return shm.LeasePolicy{
		Cover:          r.cfg.LeaseCoverMS * int64(time.Millisecond),
		MaxUnits:       r.cfg.LeaseMaxUnits,
		TTL:            r.leaseTTL(),
		PendingTimeout: int64(r.cfg.LookupTimeoutMS)*int64(time.Millisecond) + int64(time.Second),
	}
}

func (r *Root) leaseTTL() int64 { return r.cfg.LeaseTTLMS * int64(time.Millisecond) }

// takeQuota spends one unit of q for the request: from the lease, or by
// asking the sidecar while the request waits (quotaWait; the answer comes
// to quotaAnswered).
func (h *httpContext) takeQuota(q *quotaUse) (quotaGrant, quotaOutcome) {
	r := h.root
	q.ref.used = h.now
	ask := int64(1)
	if q.lease {
		s, err := shm.SpendLease(r.host, &r.shmScratch, q.ref.key, q.max, q.rate, h.now, r.leasePolicy())
		if err != nil {
			r.log(host.Error, "quota lease state: "+err.Error())
			return quotaGrant{}, quotaFailure
		}
		r.release(h.id, q.ref, s.Void)
		if s.Spent {
			q.held, q.heldWindow = true, s.WindowID
			if s.Refill {
				r.refill(h.id, q.ref, q.max, q.rate, s.Ask)
			}
			return quotaGrant{reserved: true, max: q.max, remaining: s.Remaining, reset: s.Reset}, quotaOK
		}
		// The lease is empty. If this VM is refilling it, wait for that
		// rather than ask for a unit of our own: a burst of requests for
		// one key would otherwise make a call each.
		if waiting, ok := r.refills[q.ref.key]; ok && !q.waited {
			q.waited = true
			r.refills[q.ref.key] = append(waiting, refillWaiter{h, q})
			return quotaGrant{}, quotaWait
		}
		ask = s.Ask
	}
	q.sentAt = h.now
	r.scratch = wire.AppendQuotaRequest(r.scratch[:0], q.request(ask))
	r.m.calls[callQuota].Increment(1)
	// The host copies the body before Call returns.
	// Sent as the stream: if the client leaves before the answer, the host
	// drops it, and the units granted stay counted until the window ends
	// (one unit, or one lease for the request that asked for it).
	err := h.host.Call(r.cfg.Cluster, r.callHeaders("POST", wire.PathQuota), r.scratch, r.cfg.LookupTimeoutMS,
		func(ans *host.CallResponse) {
			q.answer = ans
			h.resume()
		})
	if err != nil {
		r.m.failures[callQuota].Increment(1)
		r.log(host.Warn, "quota call failed: "+err.Error())
		return quotaGrant{}, quotaFailure
	}
	return quotaGrant{}, quotaWait
}

// request is the body asking for units of q's quota.
func (q *quotaUse) request(units int64) wire.QuotaRequest {
	return wire.QuotaRequest{KeyHash: q.ref.hash, OrgID: q.ref.org, Scope: q.ref.scope,
		QuotaMax: q.max, QuotaRenewalRate: q.rate, Units: units, Lease: q.lease}
}

// quotaAnswered decides with the sidecar's answer to takeQuota's call: the
// grant joins the lease and one unit of it is spent for the request.
func (h *httpContext) quotaAnswered(q *quotaUse) (quotaGrant, quotaOutcome) {
	r := h.root
	ans := q.answer
	q.answer = nil
	g, err := wire.DecodeQuotaResponse(ans.Body)
	if ans.Status != 200 || err != nil {
		r.m.failures[callQuota].Increment(1)
		if r.refused(ans.Status); ans.Status == 200 {
			r.log(host.Error, "malformed quota answer from the sidecar")
		}
		if q.lease {
			// Let the next request ask for a full lease.
			_ = shm.ClearPending(r.host, &r.shmScratch, q.ref.key)
		}
		return quotaGrant{}, quotaFailure
	}
	if !q.lease || g.WindowID == 0 {
		// A plain reservation (or an unlimited quota): nothing to keep.
		if g.Granted < 1 {
			return quotaGrant{reset: g.Reset}, quotaExceeded
		}
		return quotaGrant{reserved: true, max: g.QuotaMax, remaining: g.Remaining, reset: g.Reset}, quotaOK
	}
	s, err := shm.MergeLease(r.host, &r.shmScratch, q.ref.key, q.grant(g), true, h.now, r.leaseTTL())
	if err != nil {
		r.log(host.Error, "quota lease state: "+err.Error())
		// The units were counted by the sidecar; give them back.
		r.release(h.id, q.ref, shm.Leftover{Units: g.Granted, WindowID: g.WindowID})
		return quotaGrant{}, quotaFailure
	}
	r.release(h.id, q.ref, s.Void)
	if !s.Spent {
		return quotaGrant{reset: g.Reset}, quotaExceeded
	}
	q.held, q.heldWindow = true, s.WindowID
	return quotaGrant{reserved: true, max: q.max, remaining: s.Remaining, reset: s.Reset}, quotaOK
}

func (q *quotaUse) grant(g wire.QuotaResponse) shm.Grant {
	return shm.Grant{Units: g.Granted, WindowID: g.WindowID, WindowMS: g.WindowMS, Remaining: g.Remaining,
		Reset: g.Reset, Max: q.max, Rate: q.rate, SentAt: q.sentAt}
}

// giveBack returns the unit q holds, for a request refused after it was
// spent: to the lease if it still holds that window, else to the sidecar.
func (h *httpContext) giveBack(q *quotaUse) {
	if !q.held {
		return
	}
	q.held = false
	r := h.root
	left, err := shm.GiveBack(r.host, &r.shmScratch, q.ref.key, q.heldWindow, r.now())
	if err != nil {
		left = shm.Leftover{Units: 1, WindowID: q.heldWindow}
	}
	r.release(h.id, q.ref, left)
}

// refill asks the sidecar for the next lease without holding a request.
// The answer joins the lease whichever streams are still alive.
func (r *Root) refill(from uint32, ref *leaseRef, quotaMax, renewalRate, units int64) {
	q := &quotaUse{ref: ref, max: quotaMax, rate: renewalRate, lease: true, sentAt: r.now()}
	r.scratch = wire.AppendQuotaRequest(r.scratch[:0], q.request(units))
	r.m.calls[callQuota].Increment(1)
	err := r.postFromRoot(from, wire.PathQuota, r.scratch, r.cfg.LookupTimeoutMS, func(ans *host.CallResponse) {
		r.absorb(q, ans)
		r.resumeRefillWaiters(ref.key)
	})
	if err != nil {
		r.m.failures[callQuota].Increment(1)
		_ = shm.ClearPending(r.host, &r.shmScratch, ref.key)
		return
	}
	// In flight: requests that find the lease empty wait for it (or for
	// an earlier refill of this VM still in flight, whose waiters stay).
	if _, ok := r.refills[ref.key]; !ok {
		r.refills[ref.key] = nil
	}
}

// resumeRefillWaiters lets the requests that waited for this VM's refill of
// the lease at key spend again (or ask for themselves if it brought
// nothing).
func (r *Root) resumeRefillWaiters(key string) {
	waiters := r.refills[key]
	delete(r.refills, key)
	for _, w := range waiters {
		if r.streams[w.h.id] != w.h || r.host.SetContext(w.h.id) != nil {
			continue // the client left
		}
		w.q.retry = true
		w.h.resume()
	}
	if len(waiters) > 0 {
		_ = r.host.SetContext(r.id)
	}
}

// absorb adds a lease answer that no request waits for to the lease.
func (r *Root) absorb(q *quotaUse, ans *host.CallResponse) {
	g, err := wire.DecodeQuotaResponse(ans.Body)
	if ans.Status != 200 || err != nil || g.WindowID == 0 {
		r.m.failures[callQuota].Increment(1)
		_ = shm.ClearPending(r.host, &r.shmScratch, q.ref.key)
		return
	}
	s, err := shm.MergeLease(r.host, &r.shmScratch, q.ref.key, q.grant(g), false, r.now(), r.leaseTTL())
	if err != nil {
		r.log(host.Error, "quota lease state: "+err.Error())
		s.Void = shm.Leftover{Units: g.Granted, WindowID: g.WindowID}
	}
	r.release(r.id, q.ref, s.Void)
}

// release gives unspent units back to the sidecar. A release that fails
// (sidecar unreachable) is retried every tick until its window ends; units
// whose release is lost stay counted until then, which never lets more
// through than the quota.
func (r *Root) release(from uint32, ref *leaseRef, left shm.Leftover) {
	if left.Units <= 0 || left.WindowID == 0 {
		return
	}
	for left.Units > 0 {
		n := min(left.Units, wire.MaxQuotaUnits)
		left.Units -= n
		part := shm.Leftover{Units: n, WindowID: left.WindowID}
		body := wire.AppendQuotaRequest(nil, wire.QuotaRequest{KeyHash: ref.hash, OrgID: ref.org, Scope: ref.scope,
			Units: n, WindowID: left.WindowID})
		r.m.calls[callRelease].Increment(1)
		err := r.postFromRoot(from, wire.PathQuotaRelease, body, r.cfg.LookupTimeoutMS, func(ans *host.CallResponse) {
			if ans.Status != 200 {
				r.m.failures[callRelease].Increment(1)
				r.retryRelease(ref, part)
			}
		})
		if err != nil {
			r.m.failures[callRelease].Increment(1)
			r.retryRelease(ref, part)
		}
	}
}

// maxRetries bounds the releases kept for retry; past it the oldest wait
// for their window's end instead.
const maxRetries = 4096

type pendingRelease struct {
	ref  *leaseRef
	left shm.Leftover
}

func (r *Root) retryRelease(ref *leaseRef, left shm.Leftover) {
	if len(r.retries) >= maxRetries {
		r.retries = r.retries[1:]
	}
	r.retries = append(r.retries, pendingRelease{ref, left})
}

// retryReleases sends again, once per tick, the releases that failed and
// whose window has not ended.
func (r *Root) retryReleases(now int64) {
	todo := r.retries
	r.retries = nil
	for _, p := range todo {
		if now < p.left.WindowID*int64(time.Second) {
			r.release(r.id, p.ref, p.left)
		}
	}
}

// drainLeases gives back the unspent units of this VM's leases that match
// (nil: all), draining them for every VM.
func (r *Root) drainLeases(now int64, match func(*leaseRef) bool, when func(*shm.Lease) bool) {
	for _, ref := range r.leases {
		if match != nil && !match(ref) {
			continue
		}
		left, err := shm.DrainLease(r.host, &r.shmScratch, ref.key, now, when)
		if err != nil {
			r.log(host.Error, "quota lease state: "+err.Error())
			continue
		}
		r.release(r.id, ref, left)
	}
}

// sweepLeases, every second: units of leases past their expiry go back, and
// leases this VM has not used for a while are forgotten (another VM that
// uses one tracks it itself). It reads the shared entry of every lease the
// VM used recently, so it runs with the bucket sweep, not on every tick.
func (r *Root) sweepLeases(now int64) {
	if len(r.leases) == 0 {
		return
	}
	r.drainLeases(now, nil, func(l *shm.Lease) bool { return now >= l.Expires || now >= l.Deadline })
	forget := 2*r.leaseTTL() + int64(time.Second)
	for key, ref := range r.leases {
		if now-ref.used > forget {
			delete(r.leases, key)
		}
	}
}

// invalidateLeases gives back the units leased for evicted keys and for
// organisations whose quota was reset: a key update or delete, or a
// reset_quota, must not leave units of the old count to spend. The sidecar
// adds them back only if their window is still the counter's (a key update
// that kept the counter), never into a reset one.
func (r *Root) invalidateLeases(now int64, hashes, orgs []string) {
	if len(r.leases) == 0 || len(hashes)+len(orgs) == 0 {
		return
	}
	set := make(map[string]bool, len(hashes)+len(orgs))
	for _, h := range hashes {
		set[h] = true
	}
	for _, o := range orgs {
		set["org:"+o] = true
	}
	r.drainLeases(now, func(ref *leaseRef) bool {
		if ref.org != "" {
			return set["org:"+ref.org]
		}
		return set[ref.hash]
	}, nil)
}
