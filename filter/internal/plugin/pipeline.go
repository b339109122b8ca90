package plugin

import (
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// A request is decided by a fixed list of steps (steps.go), in the order of
// filter/README.md's "What happens to a request". Each step says what
// comes next:
type verdict uint8

const (
	next    verdict = iota // run the next step
	wait                   // a sidecar call is in flight: pause; its answer resumes this step
	forward                // decided: the request goes upstream
	replied                // decided: a local reply was sent
)

type step struct {
	name string
	run  func(*httpContext) verdict
}

// pipeline is set in init: its steps resume paused requests, which run the
// pipeline again, and Go forbids a variable whose initializer refers to
// itself.
var pipeline []step

// Indexes of the steps a request jumps to, set with the pipeline:
// stepMatchAPI is where a request starts again after a wait that may have
// brought a new snapshot (awaitKeys); a chain of auth methods goes back to
// stepResolve for its next member and past stepVerify for a member that
// has nothing to verify (multi.go).
var stepMatchAPI, stepResolve, stepVerify int

func init() {
	pipeline = []step{
		{"normalize path", (*httpContext).normalizePath},
		{"match API", (*httpContext).matchAPI},
		{"OAuth endpoint", (*httpContext).oauthEndpoint}, // oauth.go
		{"check version", (*httpContext).checkVersion},
		{"authenticate", (*httpContext).authenticate},
		{"resolve session", (*httpContext).resolveSession},
		{"apply policies", (*httpContext).applyPolicies},
		{"verify credential", (*httpContext).verifyCredential},
		{"check access", (*httpContext).checkAccess},
		{"org limits", (*httpContext).orgLimits},
		{"rate limit", (*httpContext).rateLimit},
		{"quota", (*httpContext).reserveQuota},
		{"transform headers", (*httpContext).transformHeaders}, // transform.go
		{"response cache", (*httpContext).serveFromCache},      // respcache.go
		{"admit", (*httpContext).admit},
	}
	stepMatchAPI = stepIndex("match API")
	stepResolve = stepIndex("resolve session")
	stepVerify = stepIndex("verify credential")
}

func stepIndex(name string) int {
	for i, s := range pipeline {
		if s.name == name {
			return i
		}
	}
	panic("pipeline has no " + name + " step")
}

// HeaderAPIID marks the API a request matched, so the host can route it to
// that API's upstream. The filter always sets or removes it: a client
// cannot choose an upstream with its own copy.
const HeaderAPIID = "x-turnpike-api-id"

// Identity headers added for the upstream (identity_headers: true). Any
// copy the client sent is removed first, so the upstream can trust them.
const (
	hdrKeyHash  = "x-turnpike-key-hash"
	hdrAlias    = "x-turnpike-alias"
	hdrPolicies = "x-turnpike-policies"
)

// httpContext is one request going through the pipeline.
type httpContext struct {
	proxywasm.DefaultHttpContext
	root *Root
	host host.Host
	id   uint32

	// step is the step running, or the one a paused request resumes at.
	step int
	// resumed: the step runs again because what it waited for arrived;
	// it finds the answer in the fields below.
	resumed bool
	now     int64 // unix ns, read once per callback
	// keysAwaited: the request waited for a fresh poll because its token
	// named a key the VM lacked (awaitKeys); it does not wait again.
	keysAwaited bool

	api *model.APIDefinition
	// method, path (:path with the query string) and version start as
	// views of the request headers, valid only during the callback that
	// read them; detach copies them before the request pauses.
	method    string
	path      string
	authority string
	version   string
	detached  bool
	// authMethod identified the request; identity is what it found.
	authMethod auth.Method
	identity   auth.Identity
	cred       auth.Credential
	hash       string
	// With several auth methods (auth.Chain), the members' identities, the
	// member being verified and the base member's state (multi.go).
	authReq  authRequest
	chain    *auth.Chain
	chainIDs []auth.Identity
	chainAt  int
	base     memberState

	// Session resolution: the entry found, or the lookup's outcome.
	entry        *sessionEntry
	lookupFailed bool
	// stale is an entry past its TTL, used if the refresh fails.
	stale *sessionEntry
	// jwtLooked: a JWT's session lookup is done; jwtTries counts the JWT
	// session writes this request made or joined (jwtsession.go).
	jwtLooked bool
	jwtTries  int

	eff   *effective
	limit access.Limit
	rate  ratelimit.Result
	rated bool
	// bodyFollows: the request has a body (its headers did not end the
	// stream); oauth is set for a request to an OAuth endpoint (oauth.go).
	bodyFollows bool
	oauth       *oauthRequest
	// authBody: basic-auth credentials read from the body (authbody.go).
	authBody authBodyState
	// keyQ and orgQ are the key's and the organisation's quotas the
	// request draws on (lease.go).
	keyQ  quotaUse
	orgQ  quotaUse
	quota quotaGrant
	// authorized: the request goes upstream with a decision, so the
	// response gets rate-limit headers.
	authorized bool
	// resp is the response cache's and header transforms' state
	// (respcache.go).
	resp respState
	// vr is the request's compiled path rules once looked up (vrDone;
	// paths.go).
	vr     *versionRules
	vrDone bool
	// bx links a batch request and its sub-requests (batch.go).
	bx batchCtx
	// tx is a body transform in progress (transform_body.go).
	tx bodyTx

	// Analytics (analytics.go): when the request arrived and was
	// forwarded (unix ns; 0: not forwarded), and whether its record was
	// written.
	arrived     int64
	forwardedAt int64
	recorded    bool
	// anPart is the request's part of a forwarded request's record.
	anPart []byte
}

// session is the effective (policy-applied) session of the request, without
// its access rights: the access checks read h.eff.grant (see effective).
func (h *httpContext) session() *model.Session { return h.eff.s }

// OnHttpRequestHeaders runs the pipeline from its first step.
func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) proxywasm.Action {
	h.bodyFollows = !endOfStream
	if h.root.cfg.IdentityHeaders {
		for _, n := range [...]string{hdrKeyHash, hdrAlias, hdrPolicies} {
			h.host.RemoveRequestHeader(n)
		}
	}
	h.now = h.root.now()
	h.arrived = h.now
	return h.run()
}

// OnHttpRequestBody hands the request body to the feature waiting for it:
// an OAuth endpoint (oauth.go), a batch request (batch.go), a body
// transform (transform_body.go) or basic-auth credentials (authbody.go).
func (h *httpContext) OnHttpRequestBody(size int, endOfStream bool) proxywasm.Action {
	switch {
	case h.authBody.awaiting:
		return h.authBodyIn(size, endOfStream)
	case h.oauth != nil && h.oauth.awaitingBody:
		return h.oauthBody(size, endOfStream)
	case h.bx.state != nil && !h.bx.state.done:
		return h.batchBody(size, endOfStream)
	case h.tx.req != nil:
		return h.transformRequestBody(size, endOfStream)
	}
	return proxywasm.ActionContinue
}

// run runs the pipeline from the current step until a step decides or
// waits.
func (h *httpContext) run() proxywasm.Action {
	for h.step < len(pipeline) {
		v := pipeline[h.step].run(h)
		h.resumed = false
		switch v {
		case next:
			h.step++
		case wait:
			h.detach()
			// Answers find the streams waiting for them here.
			h.root.streams[h.id] = h
			return proxywasm.ActionPause
		case forward:
			if h.api != nil {
				h.forwardedAt = h.now
				h.startRecord()
			}
			return proxywasm.ActionContinue
		case replied:
			// What a callback that sent a local reply must return.
			return proxywasm.ActionPause
		}
	}
	return proxywasm.ActionContinue
}

// resume continues a paused request at its step, from the callback of the
// call it waited for (with this stream as the current context). A panic
// here must not reach the host's callback, which would leave the stream
// paused forever: the stream is answered with 500 instead.
func (h *httpContext) resume() {
	defer func() {
		if p := recover(); p != nil {
			h.root.log(host.Critical, "panic while resuming a request: "+panicText(p))
			h.reply(replyInternal, outInternal)
		}
	}()
	h.now = h.root.now()
	h.resumed = true
	if h.run() == proxywasm.ActionContinue {
		h.host.Resume()
	}
}

// detach copies the header views the request keeps across a pause.
func (h *httpContext) detach() {
	if h.detached {
		return
	}
	h.detached = true
	h.method = strings.Clone(h.method)
	h.path = strings.Clone(h.path)
	h.authority = strings.Clone(h.authority)
	h.identity.Detach()
	for i := range h.chainIDs {
		h.chainIDs[i].Detach()
	}
	h.version = strings.Clone(h.version)
}

// OnHttpStreamDone forgets the stream, so lookups answered later skip it.
// An organisation quota unit taken for a request that never went upstream
// (the client left while it waited for the key's quota) goes back.
func (h *httpContext) OnHttpStreamDone() {
	h.releaseRecord()
	if h.detached {
		delete(h.root.streams, h.id)
	}
	if !h.authorized {
		h.giveBack(&h.orgQ)
	}
	h.endBatch()
	h.recycle()
}

// maxFreeContexts bounds the finished contexts a VM keeps for reuse: about
// the streams a worker has in flight at once.
const maxFreeContexts = 64

// recycle keeps a finished context for the next stream (NewHttpContext),
// which saves allocating and later collecting one per request. Only a
// stream decided without ever waiting qualifies: nothing but the host's
// own stream table can still refer to it (no pending answer, lease refill,
// poll rider, batch or OAuth body), and the host calls nothing on a stream
// after proxy_on_log but proxy_on_delete, which does not reach it.
func (h *httpContext) recycle() {
	r := h.root
	if h.detached || h.bx.state != nil || h.bx.parent != nil || h.oauth != nil || len(r.free) >= maxFreeContexts {
		return
	}
	r.free = append(r.free, h)
}

func panicText(p any) string {
	switch v := p.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return "non-error panic value"
}
