package plugin

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
	"github.com/valyala/fastjson"
)

// Identity headers added for the upstream (identity_headers: true). Any
// copy the client sent is removed first, so the upstream can trust them.
const (
	hdrKeyHash  = "x-turnpike-key-hash"
	hdrAlias    = "x-turnpike-alias"
	hdrPolicies = "x-turnpike-policies"
)

// httpContext decides one request. Steps that wait for the sidecar pause
// the request and continue in the call's callback.
type httpContext struct {
	proxywasm.DefaultHttpContext
	root *Root
	id   uint32

	api *model.APIDefinition
	// method, path (:path with the query string) and version start as
	// views of the request headers, valid only during the callback that
	// read them; detach copies them before the request pauses.
	method   string
	path     string
	version  string
	detached bool
	cred     route.Credential
	hash     string
	// stale is an entry past its TTL, used if the refresh fails.
	stale *sessionEntry

	eff   *model.Session
	limit access.Limit
	rate  ratelimit.Result
	rated bool
	quota quotaGrant
	// authorized: the request goes upstream with a decision, so the
	// response gets rate-limit headers.
	authorized bool
}

type quotaGrant struct {
	reserved  bool
	max       int64
	remaining int64
	reset     int64 // unix seconds; 0 = never
}

func requestHeader(name string) string {
	v, _ := proxywasm.GetHttpRequestHeader(name)
	return v
}

// headerView returns a request header without copying it: the result is
// only valid until the current callback returns. Most requests are decided
// within the callback, so copying the headers the decision reads would be
// pure garbage; a request that pauses copies what it keeps (detach).
func headerView(name string) string {
	v, _ := proxywasm.GetHttpRequestHeaderView(name)
	return v
}

// detach copies the header views the request keeps across a pause.
func (h *httpContext) detach() {
	if h.detached {
		return
	}
	h.detached = true
	h.method = strings.Clone(h.method)
	h.path = strings.Clone(h.path)
	h.version = strings.Clone(h.version)
}

// pause detaches the request from this callback's memory and pauses it.
func (h *httpContext) pause() proxywasm.Action {
	h.detach()
	return proxywasm.ActionPause
}

// OnHttpRequestHeaders runs the decision pipeline.
func (h *httpContext) OnHttpRequestHeaders(int, bool) proxywasm.Action {
	r := h.root
	now := r.now()
	if r.cfg.IdentityHeaders {
		for _, n := range [...]string{hdrKeyHash, hdrAlias, hdrPolicies} {
			_ = proxywasm.RemoveHttpRequestHeader(n)
		}
	}
	if r.snap == nil {
		// No policies and API definitions yet: nothing can be decided.
		return h.reply(unavailable(), outUnavailable)
	}
	h.method = headerView(":method")
	h.path = headerView(":path")
	api := r.snap.routes.Match(headerView(":authority"), h.path)
	if api == nil {
		if r.cfg.RejectUnmatched {
			return h.reply(replyNoAPI, outNoAPI)
		}
		r.m.decision(outUnmatched)
		return proxywasm.ActionContinue
	}
	h.api = api
	if api.UseKeylessAccess {
		r.m.decision(outKeyless)
		return proxywasm.ActionContinue
	}
	// Tyk checks the version before authentication.
	h.version = route.Version(api, headerView, h.path)
	if _, d := access.CheckVersion(api, h.version, time.Unix(0, now)); !d.Allowed() {
		return h.reply(denied(d), d.Reason.String())
	}
	h.cred = route.Extract(&api.Auth, headerView, h.path)
	key := h.cred.Key
	// The key is a view of this callback's memory and, once hashed, never
	// needed again.
	h.cred.Key = ""
	if key == "" {
		return h.reply(replyMissingKey, outMissingKey)
	}
	// Keys that cannot exist are refused without a lookup: too short for
	// Tyk, or a generated key whose checksum fails (a typo or a forgery).
	if len(key) < route.MinKeyLength || len(key) > keys.MaxCustomLen ||
		(keys.LooksGenerated(key) && keys.Check(key) != nil) {
		return h.reply(replyKeyNotFound, outKeyNotFound)
	}
	h.hash = r.hashKey(key, now)

	if e, ok := r.sessions.Get(h.hash, now); ok {
		if e.unknown() {
			r.m.cacheNegative.Increment(1)
			return h.reply(replyKeyNotFound, outKeyNotFound)
		}
		if now-e.fetched < r.ttl() {
			r.m.cacheHit.Increment(1)
			return h.decide(e, now)
		}
		h.stale = e
	} else if e := r.fromShared(h.hash, now); e != nil {
		r.m.cacheShared.Increment(1)
		return h.decide(e, now)
	}
	r.m.cacheMiss.Increment(1)
	if !r.startLookup(h.hash, h.id) {
		return h.lookupFailed(now)
	}
	return h.pause()
}

// continueWithSession resumes the pipeline after a lookup (in the call's
// callback, with this stream as the effective context).
func (h *httpContext) continueWithSession(e *sessionEntry, failed bool, now int64) {
	var act proxywasm.Action
	switch {
	case failed:
		act = h.lookupFailed(now)
	case e.unknown():
		act = h.reply(replyKeyNotFound, outKeyNotFound)
	default:
		act = h.decide(e, now)
	}
	h.resumeIf(act)
}

func (h *httpContext) resumeIf(act proxywasm.Action) {
	if act == proxywasm.ActionContinue {
		_ = proxywasm.ResumeHttpRequest()
	}
}

// lookupFailed applies the failure mode of an unreachable sidecar: a
// session fetched within session_cache.ttl_ms + max_stale_ms keeps working,
// an unknown key gets 503 (never 403: the key may well be valid).
func (h *httpContext) lookupFailed(now int64) proxywasm.Action {
	r := h.root
	if e := h.stale; e != nil && now-e.fetched <= r.ttl()+r.maxStale() {
		r.m.cacheStale.Increment(1)
		return h.decide(e, now)
	}
	return h.reply(unavailable(), outUnavailable)
}

// decide runs the checks that need the session: policies, key state,
// access rights, rate limit, then the quota.
func (h *httpContext) decide(e *sessionEntry, now int64) proxywasm.Action {
	r := h.root
	eff := r.effective(e, h.api)
	if eff.err != nil {
		// Tyk answers a key whose policies cannot be applied as unknown.
		proxywasm.LogDebug("turnpike: applying policies: " + eff.err.Error())
		return h.reply(replyKeyNotFound, outKeyNotFound)
	}
	s := eff.s
	req := access.Request{Method: h.method, Path: route.PathOnly(h.path), Version: h.version}
	if d := r.checker.CheckSession(s, h.api, req, time.Unix(0, now)); !d.Allowed() {
		return h.reply(denied(d), d.Reason.String())
	}
	if org := r.snap.orgs[s.OrgID]; org != nil {
		if d := access.CheckOrg(org); !d.Allowed() {
			return h.reply(denied(d), d.Reason.String())
		}
	}
	limit, _ := r.checker.EffectiveLimit(s, h.api, h.method, req.Path)
	h.eff, h.limit = s, limit

	if !h.api.DisableRateLimit && limit.RateLimited() {
		res, ok := h.take(eff.bucketKey(h.hash, limit), ratelimit.Limit{Rate: limit.Rate, Per: limit.Per}, now)
		if !ok {
			return h.reply(unavailable(), outUnavailable)
		}
		h.rate, h.rated = res, true
		if !res.Allowed {
			return h.rateLimited(access.MsgRateLimited, outRateLimited, res, now)
		}
	}
	if key := r.snap.apiBuckets[h.api]; key != "" {
		g := h.api.GlobalRateLimit
		res, ok := h.take(key, ratelimit.Limit{Rate: g.Rate, Per: g.Per}, now)
		if !ok {
			return h.reply(unavailable(), outUnavailable)
		}
		if !res.Allowed {
			return h.rateLimited(access.MsgAPIRateLimited, outAPIRateLimited, res, now)
		}
	}
	if !h.api.DisableQuota && limit.QuotaEnforced() {
		return h.reserveQuota(now)
	}
	return h.admit()
}

// take takes a token from a shared bucket; ok is false if shared data
// failed us, which is answered as unavailable rather than guessed.
func (h *httpContext) take(key string, lim ratelimit.Limit, now int64) (ratelimit.Result, bool) {
	r := h.root
	res, err := shm.Take(r.store, &r.shmScratch, key, lim, now)
	if err != nil {
		proxywasm.LogError("turnpike: rate limit state: " + err.Error())
		return res, false
	}
	r.buckets[key] = now
	return res, true
}

func (h *httpContext) rateLimited(msg, outcome string, res ratelimit.Result, now int64) proxywasm.Action {
	rep := &reply{status: access.StatusTooManyRequests, msg: msg,
		headers: [][2]string{retryAfter(ratelimit.RetryAfterSeconds(res.RetryAfter))}}
	if h.root.cfg.RateLimitHeaders == config.HeadersRateLimits && outcome == outRateLimited {
		rep.headers = append(rep.headers, h.rateHeaders(now)...)
	}
	return h.reply(rep, outcome)
}

// reserveQuota asks the sidecar for one unit of quota.
func (h *httpContext) reserveQuota(now int64) proxywasm.Action {
	r := h.root
	body := make([]byte, 0, 192)
	body = append(body, `{"key_hash":"`...)
	body = append(body, h.hash...)
	body = append(body, `","scope":`...)
	body = model.AppendString(body, h.limit.Scope)
	body = append(body, `,"quota_max":`...)
	body = strconv.AppendInt(body, h.limit.QuotaMax, 10)
	body = append(body, `,"quota_renewal_rate":`...)
	body = strconv.AppendInt(body, h.limit.QuotaRenewalRate, 10)
	body = append(body, `,"units":1}`...)
	r.m.calls[callQuota].Increment(1)
	_, err := proxywasm.DispatchHttpCall(r.cfg.Cluster, r.callHeaders("POST", "/turnpike/v1/quota"), body, nil,
		r.cfg.LookupTimeoutMS, h.onQuota)
	if err != nil {
		r.m.failures[callQuota].Increment(1)
		proxywasm.LogWarn("turnpike: quota call failed: " + err.Error())
		return h.quotaFailed(now)
	}
	return h.pause()
}

func (h *httpContext) onQuota(numHeaders, bodySize, _ int) {
	r := h.root
	now := r.now()
	var act proxywasm.Action
	if callStatus(numHeaders) != 200 {
		r.m.failures[callQuota].Increment(1)
		act = h.quotaFailed(now)
	} else if g, ok := parseQuota(callBody(bodySize)); !ok {
		r.m.failures[callQuota].Increment(1)
		proxywasm.LogError("turnpike: malformed quota answer from the sidecar")
		act = h.quotaFailed(now)
	} else {
		act = h.quotaDecided(g, now)
	}
	h.resumeIf(act)
}

// parseQuota reads {"granted":1,"remaining":99,"reset":...,"quota_max":100}.
func parseQuota(body []byte) (quotaGrant, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject || v.Get("granted") == nil {
		return quotaGrant{}, false
	}
	return quotaGrant{
		reserved:  v.GetInt64("granted") >= 1,
		max:       v.GetInt64("quota_max"),
		remaining: v.GetInt64("remaining"),
		reset:     v.GetInt64("reset"),
	}, true
}

// quotaFailed applies failure_mode.quota: closed answers 503; open admits
// and counts in shared data, so this proxy alone still stops at the quota.
func (h *httpContext) quotaFailed(now int64) proxywasm.Action {
	r := h.root
	if r.cfg.QuotaFailure != config.Open {
		return h.reply(unavailable(), outUnavailable)
	}
	r.m.quotaLocal.Increment(1)
	res, err := shm.Reserve(r.store, shm.QuotaKey(h.hash, h.limit.Scope), h.limit.QuotaMax,
		h.limit.QuotaRenewalRate, now/int64(time.Second))
	if err != nil {
		proxywasm.LogError("turnpike: local quota state: " + err.Error())
		return h.reply(unavailable(), outUnavailable)
	}
	return h.quotaDecided(quotaGrant{reserved: res.Granted >= 1, max: h.limit.QuotaMax,
		remaining: res.Remaining, reset: res.ResetAt}, now)
}

func (h *httpContext) quotaDecided(g quotaGrant, now int64) proxywasm.Action {
	if !g.reserved {
		rep := &reply{status: h.root.cfg.QuotaExceededStatus, msg: access.MsgQuotaExceeded}
		if rep.status == access.StatusTooManyRequests && g.reset > 0 {
			rep.headers = [][2]string{retryAfter(g.reset - now/int64(time.Second))}
		}
		return h.reply(rep, outQuotaExceeded)
	}
	h.quota = g
	return h.admit()
}

// admit lets the request through, after removing the credential and adding
// identity headers as configured.
func (h *httpContext) admit() proxywasm.Action {
	r := h.root
	h.authorized = true
	if r.cfg.StripCredential || h.api.StripAuthData {
		h.stripCredential()
	}
	if r.cfg.IdentityHeaders {
		_ = proxywasm.ReplaceHttpRequestHeader(hdrKeyHash, h.hash)
		if h.eff.Alias != "" {
			_ = proxywasm.ReplaceHttpRequestHeader(hdrAlias, h.eff.Alias)
		}
		if ids := h.eff.ApplyPolicies; len(ids) > 0 {
			_ = proxywasm.ReplaceHttpRequestHeader(hdrPolicies, strings.Join(ids, ","))
		}
	}
	r.m.decision(outAllowed)
	return proxywasm.ActionContinue
}

func (h *httpContext) stripCredential() {
	switch h.cred.From {
	case route.Header:
		_ = proxywasm.RemoveHttpRequestHeader(h.cred.Name)
	case route.Param:
		_ = proxywasm.ReplaceHttpRequestHeader(":path", route.StripParam(h.path, h.cred.Name))
	case route.Cookie:
		if rest := route.StripCookie(requestHeader("cookie"), h.cred.Name); rest != "" {
			_ = proxywasm.ReplaceHttpRequestHeader("cookie", rest)
		} else {
			_ = proxywasm.RemoveHttpRequestHeader("cookie")
		}
	}
}

// reply sends a local response and counts the outcome. It returns Pause,
// which is what a callback that sent a local reply must return.
func (h *httpContext) reply(rep *reply, outcome string) proxywasm.Action {
	h.root.m.decision(outcome)
	if err := proxywasm.SendHttpResponse(rep.status, rep.allHeaders(), rep.body(), -1); err != nil {
		proxywasm.LogError("turnpike: sending a local reply: " + err.Error())
		_ = proxywasm.CloseHttpRequest()
	}
	return proxywasm.ActionPause
}

// OnHttpResponseHeaders adds the rate-limit headers to responses of
// authorized requests.
func (h *httpContext) OnHttpResponseHeaders(int, bool) proxywasm.Action {
	if !h.authorized {
		return proxywasm.ActionContinue
	}
	r := h.root
	cfg := &r.cfg
	switch cfg.RateLimitHeaders {
	case config.HeadersQuotas:
		// Tyk's default, so on every response: formatted into the VM's
		// scratch buffer rather than into three new strings.
		limit, remaining, reset := h.quotaValues()
		r.setResponseInt("x-ratelimit-limit", limit)
		r.setResponseInt("x-ratelimit-remaining", max(remaining, 0))
		r.setResponseInt("x-ratelimit-reset", reset)
	case config.HeadersRateLimits:
		if h.rated {
			for _, kv := range h.rateHeaders(r.now()) {
				_ = proxywasm.ReplaceHttpResponseHeader(kv[0], kv[1])
			}
		}
	}
	if cfg.IETFHeaders {
		if pol, state := h.ietfHeaders(r.now()); pol != "" {
			_ = proxywasm.ReplaceHttpResponseHeader("ratelimit-policy", pol)
			_ = proxywasm.ReplaceHttpResponseHeader("ratelimit", state)
		}
	}
	return proxywasm.ActionContinue
}

// quotaValues are the values of Tyk's default X-RateLimit-* headers: the
// quota after this request. Without an enforced quota they are the
// session's stored quota fields, as Tyk's are.
func (h *httpContext) quotaValues() (limit, remaining, reset int64) {
	if h.quota.reserved {
		return h.quota.max, h.quota.remaining, h.quota.reset
	}
	return h.limit.QuotaMax, h.eff.QuotaRemaining, h.eff.QuotaRenews
}

// setResponseInt sets a response header to a decimal integer.
func (r *Root) setResponseInt(name string, v int64) {
	r.scratch = strconv.AppendInt(r.scratch[:0], v, 10)
	_ = proxywasm.ReplaceHttpResponseHeaderBytes(name, r.scratch)
}

// rateHeaders are Tyk 5.13's "rate_limits" headers: the rate, what the
// bucket still admits, and when it is full again (unix seconds).
func (h *httpContext) rateHeaders(now int64) [][2]string {
	reset := ceilSeconds(now + int64(h.rate.ResetAfter))
	return [][2]string{
		{"x-ratelimit-limit", formatRate(h.limit.Rate)},
		{"x-ratelimit-remaining", strconv.FormatInt(max(h.rate.Remaining, 0), 10)},
		{"x-ratelimit-reset", strconv.FormatInt(reset, 10)},
	}
}

// ietfHeaders are the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers: one item for the rate ("rate") and
// one for the quota ("quota"), whichever apply.
func (h *httpContext) ietfHeaders(now int64) (policy, state string) {
	var pol, st []string
	if h.rated {
		pol = append(pol, `"rate";q=`+formatRate(math.Floor(h.limit.Rate))+`;w=`+formatRate(math.Ceil(h.limit.Per)))
		st = append(st, `"rate";r=`+strconv.FormatInt(max(h.rate.Remaining, 0), 10)+
			`;t=`+strconv.FormatInt(ceilSeconds(int64(h.rate.ResetAfter)), 10))
	}
	if h.quota.reserved {
		p := `"quota";q=` + strconv.FormatInt(h.quota.max, 10)
		if h.limit.QuotaRenewalRate > 0 {
			p += `;w=` + strconv.FormatInt(h.limit.QuotaRenewalRate, 10)
		}
		pol = append(pol, p)
		s := `"quota";r=` + strconv.FormatInt(max(h.quota.remaining, 0), 10)
		if h.quota.reset > 0 {
			s += `;t=` + strconv.FormatInt(max(h.quota.reset-now/int64(time.Second), 0), 10)
		}
		st = append(st, s)
	}
	return strings.Join(pol, ", "), strings.Join(st, ", ")
}

func ceilSeconds(ns int64) int64 {
	return (ns + int64(time.Second) - 1) / int64(time.Second)
}

// formatRate prints a rate as an integer when it is one (10, not 10.0).
func formatRate(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// OnHttpStreamDone forgets the stream, so lookups answered later skip it.
func (h *httpContext) OnHttpStreamDone() {
	delete(h.root.streams, h.id)
}
