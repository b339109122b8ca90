package plugin

import (
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/pathnorm"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// The steps of the pipeline, in order. Each reads what earlier steps left
// on the httpContext and returns a verdict (pipeline.go).

// normalizePath makes the path every later step authorizes the path the
// upstream is sent (shared/pathnorm): /demo/../api3/x is /api3/x for the
// API match and the access rights, and :path is rewritten to it. A path
// with no single safe reading (an encoded slash, a backslash, NUL, ".."
// above the root, ...) is refused with 400.
func (h *httpContext) normalizePath() verdict {
	h.method = h.host.RequestHeader(":method")
	h.path = h.host.RequestHeader(":path")
	h.authority = h.host.RequestHeader(":authority")
	p, changed, err := pathnorm.Normalize(h.path)
	if err != nil {
		return h.reply(&reply{status: 400, msg: err.Error()}, outBadPath)
	}
	if changed {
		h.path = p
		h.host.SetRequestHeader(":path", p)
	}
	return next
}

// matchAPI finds the API the request is for. Without a snapshot (policies
// and API definitions) nothing can be decided.
func (h *httpContext) matchAPI() verdict {
	r := h.root
	if r.snap == nil {
		return h.reply(unavailable(), outUnavailable)
	}
	refreshed := h.resumed
	api := r.snap.routes.Match(h.authority, h.path)
	if api == nil {
		// With unmatched: pass, requests for no API are not ours to hold:
		// only a rejecting filter waits for a fresh configuration.
		if r.cfg.RejectUnmatched && !refreshed && r.awaitFresh(h.id) {
			return wait
		}
		if r.cfg.RejectUnmatched {
			return h.reply(replyNoAPI, outNoAPI)
		}
		// A client's own copy must not pick an API's upstream.
		if r.cfg.APIIDHeader {
			h.host.RemoveRequestHeader(HeaderAPIID)
		}
		r.m.decision(outUnmatched)
		return forward
	}
	h.api = api
	// The host routes on it (turnpike-gateway, Envoy's route table) and
	// removes it before the upstream; it replaces any client copy.
	if r.cfg.APIIDHeader {
		h.host.SetRequestHeader(HeaderAPIID, api.APIID)
	}
	if h.isBatch(api) {
		return h.startBatch() // batch.go
	}
	if api.UseKeylessAccess {
		h.resp.forwarded = true
		h.transformHeaders()
		r.m.decision(outKeyless)
		return forward
	}
	return next
}

// checkVersion refuses a version the API does not have or that expired.
// Tyk checks the version before authentication.
func (h *httpContext) checkVersion() verdict {
	h.version = route.Version(h.api, h.host.RequestHeader, h.path)
	if _, d := access.CheckVersion(h.api, h.version, time.Unix(0, h.now)); !d.Allowed() {
		return h.reply(denied(d), d.Reason.String())
	}
	return next
}

// authenticate finds the credential with the API's auth method and hashes
// the key it names.
func (h *httpContext) authenticate() verdict {
	if b := h.authBody.method; b != nil {
		return h.authenticateFromBody(b) // the body arrived (authbody.go)
	}
	if c := h.authBody.chain; c != nil {
		return h.authenticateChain(c) // the body arrived for a chain's basic auth
	}
	h.authMethod = h.root.snap.methods[h.api]
	if c, ok := h.authMethod.(*auth.Chain); ok {
		return h.authenticateChain(c)
	}
	id, d := h.authMethod.Identify(h.request(), h.path)
	if b, ok := h.authMethod.(*auth.Basic); ok && d == auth.DenyNeedsBody {
		return h.authenticateFromBody(b) // authbody.go
	}
	if d != nil {
		if h.awaitKeys(d) {
			return wait
		}
		return h.deny(d)
	}
	h.useIdentity(id)
	return next
}

// awaitKeys makes a request whose token names a verification key this VM
// lacks wait once for a fresh poll, then decides it again from the API
// match: the sidecar fetches an API's JWKS when the API is created and
// when a token names an unknown kid (the method asked for it), and the
// other VMs learn of the keys only at their next poll. Without the wait,
// the first requests of a new JWT API, or after a key rotation, are
// refused on some VMs and admitted on others.
func (h *httpContext) awaitKeys(d *auth.Denial) bool {
	if (d != auth.DenyJWTNoKey && d != auth.DenyOIDCNoKey) || h.keysAwaited || !h.root.awaitFresh(h.id) {
		return false
	}
	h.keysAwaited = true
	// The fresh poll may bring a new snapshot, whose API definitions and
	// methods replace the ones this request matched.
	h.step = stepMatchAPI
	return true
}

// authRequest is what auth methods read: the host's headers and
// properties, and the time this callback read once (auth methods find it
// through Now, and need not ask the host again).
type authRequest struct {
	host.Host
	now int64
}

func (r *authRequest) Now() int64 { return r.now }

func (h *httpContext) request() auth.Request {
	h.authReq = authRequest{h.host, h.now}
	return &h.authReq
}

// useIdentity makes id the identity whose session the next steps resolve.
func (h *httpContext) useIdentity(id auth.Identity) {
	if h.detached {
		id.Detach() // identified after a pause: detach will not run again
	}
	h.identity = id
	h.cred = id.Cred
	h.cred.Key = "" // only the location is needed, to strip it
	h.hash = h.root.hashKey(id.Key, h.now)
}

// resolveSession finds the key's stored session: this VM's cache, shared
// data (another VM fetched it), then one sidecar lookup (session.go). A
// JWT's session is then created or updated from its claims (jwtsession.go).
func (h *httpContext) resolveSession() verdict {
	if t := h.identity.JWT; t != nil && t.Session != nil {
		return h.jwtSession()
	}
	return h.lookupSession()
}

func (h *httpContext) lookupSession() verdict {
	r := h.root
	if h.resumed {
		switch {
		case h.lookupFailed:
			return h.sessionUnavailable()
		case h.entry.unknown():
			return h.noStoredSession()
		}
		return next
	}
	if e, ok := r.sessions.Get(h.hash, h.now); ok {
		if e.unknown() {
			r.m.cacheNegative.Increment(1)
			return h.noStoredSession()
		}
		if h.now-e.fetched < r.ttl() {
			r.m.cacheHit.Increment(1)
			h.entry = e
			return next
		}
		h.stale = e
	} else if e := r.fromShared(h.hash, h.now); e != nil {
		r.m.cacheShared.Increment(1)
		h.entry = e
		return next
	}
	r.m.cacheMiss.Increment(1)
	if !r.startLookup(h.hash, h.id) {
		return h.sessionUnavailable()
	}
	return wait
}

// sessionUnavailable applies the failure mode of an unreachable sidecar: a
// session fetched within session_cache.ttl_ms + max_stale_ms keeps working,
// an unknown key gets 503 (never 403: the key may well be valid).
func (h *httpContext) sessionUnavailable() verdict {
	r := h.root
	if e := h.stale; e != nil && h.now-e.fetched <= r.ttl()+r.maxStale() {
		r.m.cacheStale.Increment(1)
		h.entry = e
		return next
	}
	return h.reply(unavailable(), outUnavailable)
}

// applyPolicies makes the effective session for the API, once per key, API
// and snapshot.
func (h *httpContext) applyPolicies() verdict {
	eff := h.root.effective(h.entry, h.api)
	if eff.missingPolicy && !h.resumed && h.root.awaitFresh(h.id) {
		return wait // the policy may have been created since the last poll
	}
	if eff.err != nil {
		// Tyk answers a key whose policies cannot be applied as unknown.
		h.root.log(host.Debug, "applying policies: "+eff.err.Error())
		return h.unknownKey()
	}
	h.eff = eff
	return next
}

// verifyCredential checks the credential against the session it names, for
// methods that carry more than a lookup key (auth.Verifier).
func (h *httpContext) verifyCredential() verdict {
	if v, ok := h.authMethod.(auth.Verifier); ok {
		if d := v.Verify(h.request(), h.path, &h.identity, h.session()); d != nil {
			return h.deny(d)
		}
	}
	if h.chain != nil {
		return h.nextMember()
	}
	return next
}

// unknownKey answers a credential that names no usable session, as its
// method says (auth.Identity.Unknown).
func (h *httpContext) unknownKey() verdict {
	if d := h.identity.Unknown; d != nil {
		return h.deny(d)
	}
	if u, ok := h.authMethod.(auth.Unknowner); ok {
		return h.deny(u.Unknown())
	}
	return h.reply(replyKeyNotFound, outKeyNotFound)
}

// checkAccess runs the session checks (inactive, expired, API, version,
// allowed_urls) and finds the limits that apply to the request.
func (h *httpContext) checkAccess() verdict {
	r := h.root
	req := access.Request{Method: h.method, Path: route.PathOnly(h.path), Version: h.version}
	if d := r.checker.CheckGrant(&h.eff.grant, h.api, req, time.Unix(0, h.now)); !d.Allowed() {
		return h.reply(denied(d), d.Reason.String())
	}
	h.limit, _ = r.checker.GrantLimit(&h.eff.grant, h.api, h.method, req.Path)
	return next
}

// orgLimits refuses requests of an inactive organisation, then, with
// enforce_org_quotas, applies the organisation's rate limit and quota
// (orglimit.go). When the sidecar said, with the session, that the key's
// organisation has an org session the snapshot lacks, the request waits
// for a fresh configuration first.
func (h *httpContext) orgLimits() verdict {
	r := h.root
	if h.orgQ.answer != nil { // resumed by the org quota call
		return h.orgQuotaDecided(h.quotaAnswered(&h.orgQ))
	}
	if h.orgQ.retry { // resumed by this VM's refill of the org lease
		h.orgQ.retry = false
		return h.orgQuotaDecided(h.takeQuota(&h.orgQ))
	}
	orgID := h.session().OrgID
	if h.entry.orgSession && r.snap.orgs[orgID] == nil && !h.resumed && r.awaitFresh(h.id) {
		return wait
	}
	org := r.snap.orgs[orgID]
	if org == nil {
		return next // Tyk: no org session, no org check
	}
	if d := access.CheckOrg(org); !d.Allowed() {
		return h.reply(denied(d), d.Reason.String())
	}
	if !r.enforceOrgs() {
		return next
	}
	return h.enforceOrg(org)
}

// rateLimit takes a token from the key's bucket, then from the API's
// global_rate_limit bucket, both in shared data.
func (h *httpContext) rateLimit() verdict {
	r := h.root
	if limit := h.limit; !h.api.DisableRateLimit && limit.RateLimited() {
		key, mark := h.eff.bucketKey(h.hash, limit)
		res, ok := h.take(key, ratelimit.Limit{Rate: limit.Rate, Per: limit.Per}, mark)
		if !ok {
			return h.reply(unavailable(), outUnavailable)
		}
		h.rate, h.rated = res, true
		if !res.Allowed {
			return h.rateLimited(access.MsgRateLimited, outRateLimited, res)
		}
	}
	if key := r.snap.apiBuckets[h.api]; key != "" {
		g := h.api.GlobalRateLimit
		res, ok := h.take(key, ratelimit.Limit{Rate: g.Rate, Per: g.Per}, nil)
		if !ok {
			return h.reply(unavailable(), outUnavailable)
		}
		if !res.Allowed {
			return h.rateLimited(access.MsgAPIRateLimited, outAPIRateLimited, res)
		}
	}
	return next
}

// take takes a token from a shared bucket; ok is false if shared data
// failed us, which is answered as unavailable rather than guessed. mark,
// if not nil, remembers when the bucket was last recorded for the sweep.
func (h *httpContext) take(key string, lim ratelimit.Limit, mark *bucketMark) (ratelimit.Result, bool) {
	r := h.root
	res, err := shm.Take(r.store, &r.shmScratch, key, lim, h.now)
	if err != nil {
		r.log(host.Error, "rate limit state: "+err.Error())
		return res, false
	}
	r.trackBucketMarked(key, h.now, mark)
	return res, true
}

// reserveQuota takes one unit of the key's quota from this proxy's lease,
// or from the sidecar (lease.go).
func (h *httpContext) reserveQuota() verdict {
	if h.keyQ.answer != nil { // resumed by the quota call
		return h.quotaDecided(h.quotaAnswered(&h.keyQ))
	}
	if h.keyQ.retry { // resumed by this VM's refill of the lease
		h.keyQ.retry = false
		return h.quotaDecided(h.takeQuota(&h.keyQ))
	}
	if h.api.DisableQuota || !h.limit.QuotaEnforced() {
		return next
	}
	r := h.root
	h.keyQ = r.newQuotaUse(r.keyLease(h.eff, h.hash, h.limit.Scope), h.limit.QuotaMax, h.limit.QuotaRenewalRate)
	return h.quotaDecided(h.takeQuota(&h.keyQ))
}

type quotaGrant struct {
	reserved  bool
	max       int64
	remaining int64
	reset     int64 // unix seconds; 0 = never
}

// quotaFailed applies failure_mode.quota: closed answers 503; open admits
// and counts in shared data, so this proxy alone still stops at the quota.
func (h *httpContext) quotaFailed() verdict {
	r := h.root
	if r.cfg.QuotaFailure != config.Open {
		return h.reply(unavailable(), outUnavailable)
	}
	r.m.quotaLocal.Increment(1)
	res, err := shm.Reserve(r.host, shm.QuotaKey(h.hash, h.limit.Scope), h.limit.QuotaMax,
		h.limit.QuotaRenewalRate, h.now/int64(time.Second))
	if err != nil {
		r.log(host.Error, "local quota state: "+err.Error())
		return h.reply(unavailable(), outUnavailable)
	}
	return h.quotaDecided(quotaGrant{reserved: res.Granted >= 1, max: h.limit.QuotaMax,
		remaining: res.Remaining, reset: res.ResetAt}, quotaOK)
}

func (h *httpContext) quotaDecided(g quotaGrant, o quotaOutcome) verdict {
	switch o {
	case quotaWait:
		return wait
	case quotaFailure:
		return h.quotaFailed()
	}
	if !g.reserved {
		rep := &reply{status: h.root.cfg.QuotaExceededStatus, msg: access.MsgQuotaExceeded}
		if rep.status == access.StatusTooManyRequests && g.reset > 0 {
			rep.headers = [][2]string{retryAfter(g.reset - h.now/int64(time.Second))}
		}
		return h.reply(rep, outQuotaExceeded)
	}
	h.quota = g
	return next
}

// admit lets the request through, after removing the credential and adding
// identity headers as configured.
func (h *httpContext) admit() verdict {
	r := h.root
	h.authorized = true
	h.resp.forwarded = true
	if r.cfg.StripCredential || h.api.StripAuthData {
		h.cred.Strip(h.host, h.path)
		for _, id := range h.chainIDs {
			if id.Cred.From != h.cred.From || id.Cred.Name != h.cred.Name {
				id.Cred.Strip(h.host, h.path)
			}
		}
	}
	if r.cfg.IdentityHeaders {
		s := h.session()
		h.host.SetRequestHeader(hdrKeyHash, h.hash)
		if s.Alias != "" {
			h.host.SetRequestHeader(hdrAlias, s.Alias)
		}
		if ids := s.ApplyPolicies; len(ids) > 0 {
			h.host.SetRequestHeader(hdrPolicies, strings.Join(ids, ","))
		}
	}
	r.m.decision(outAllowed)
	return forward
}
