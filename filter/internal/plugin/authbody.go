package plugin

import (
	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// Basic-auth credentials in the request body (basic_auth.extract_from_body,
// auth.Basic): when the Authorization header gives none, Identify answers
// auth.DenyNeedsBody and the "authenticate" step waits for the whole body
// (at most maxAuthBody bytes), then identifies the request from it
// (IdentifyBody; in a chain of several methods, every member again with
// IdentifyAllWithBody) and the pipeline goes on as for a header. The headers are
// held meanwhile, so nothing reaches the upstream before the decision:
// that needs a host that delivers the body while the headers are paused
// (allow_on_headers_stop_iteration). Without one, holding the headers
// would also hold the body forever, and letting them go would let the
// upstream see (and maybe answer) an unauthenticated request, so such a
// request is refused with 500 and logged. A request whose header carries
// credentials never waits.

// maxAuthBody bounds the body read for credentials: a login form is small,
// and the regexps run on all of it in the VM. Larger bodies get 413.
const maxAuthBody = 64 << 10

// Outcomes of reading credentials from the body.
const (
	outAuthBodyTooLarge  = "auth_body_too_large"   // 413
	outAuthBodyNotConfig = "auth_body_unsupported" // 500 the host cannot hold the headers for the body
)

// MsgAuthBodyUnsupported answers a body-credential request on a host
// that cannot hold its headers while the body comes.
const MsgAuthBodyUnsupported = "Credentials in the request body are not supported by this proxy's configuration"

// authBodyState is a request waiting for its body to be identified.
type authBodyState struct {
	// method is the API's basic auth when it asked for the body, or chain
	// the API's chain of methods when its basic-auth member did: kept, as
	// a snapshot may replace the API's methods while the body comes.
	method   *auth.Basic
	chain    *auth.Chain
	awaiting bool   // the headers are held; the body is coming
	read     bool   // the body is in (body), or there is none
	body     []byte // a copy, dropped once identified
}

// authenticateFromBody runs in the "authenticate" step when m needs the
// body: first to hold the request for it, then (from OnHttpRequestBody)
// to identify the request with it.
func (h *httpContext) authenticateFromBody(m *auth.Basic) verdict {
	ab := &h.authBody
	ab.method = m
	if !ab.read && !h.bodyFollows {
		ab.read = true // no body: Tyk reads an empty one
	}
	if ab.read {
		id, d := m.IdentifyBody(h.request(), h.path, ab.body)
		ab.body = nil
		if d != nil {
			return h.deny(d)
		}
		h.useIdentity(id)
		return next
	}
	return h.awaitAuthBody()
}

// awaitAuthBody holds the request until its body is in (authBodyIn), or
// refuses it when the host cannot hold the headers meanwhile.
func (h *httpContext) awaitAuthBody() verdict {
	ab := &h.authBody
	if !h.root.cfg.HeadersStopIteration {
		h.root.log(host.Error, "API "+h.api.APIID+" reads basic-auth credentials from the request body, which needs "+
			"allow_on_headers_stop_iteration (the host must deliver the body while the headers are held): request refused")
		return h.reply(&reply{status: 500, msg: MsgAuthBodyUnsupported}, outAuthBodyNotConfig)
	}
	ab.awaiting = true
	return wait
}

// authBodyIn buffers the body (the host holds it) and, at its end, runs
// the pipeline on from the "authenticate" step.
func (h *httpContext) authBodyIn(size int, endOfStream bool) proxywasm.Action {
	ab := &h.authBody
	if size > maxAuthBody {
		ab.awaiting = false
		h.reply(&reply{status: 413, msg: "Request body too large"}, outAuthBodyTooLarge)
		return proxywasm.ActionPause
	}
	if !endOfStream {
		return proxywasm.ActionPause
	}
	ab.awaiting, ab.read = false, true
	if size > 0 {
		b, err := h.host.RequestBody(size)
		if err != nil {
			h.root.log(host.Error, "reading the request body: "+err.Error())
			h.reply(replyInternal, outInternal)
			return proxywasm.ActionPause
		}
		ab.body = append([]byte(nil), b...)
	}
	h.now = h.root.now()
	// Continue from the body callback lets the held headers go on with the
	// body (Envoy continues headers stopped with StopIteration); a request
	// that waits for a lookup is resumed like any other (resume).
	return h.run()
}
