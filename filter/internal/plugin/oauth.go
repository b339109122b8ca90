package plugin

import (
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// The endpoints of an OAuth 2.0 API's authorization server
// (<listen_path>/oauth/token, /oauth/authorize, /oauth/revoke,
// /oauth/revoke_all) are answered by the filter, never forwarded: as in
// Tyk, they are the gateway's, not the upstream's. The filter reads the
// request (body included), checks what it can alone (shared/oauth: a token
// request's grant type against the API's oauth_meta and its client
// credentials in HTTP Basic), then hands it to the sidecar in one call
// (wire.PathOAuth), which checks the client, mints the token and says what
// to answer. Requests that then carry "Bearer <access token>" are decided
// as keys (auth.OAuth).

// Outcomes of OAuth endpoint requests.
const (
	outOAuthAnswered = "oauth_endpoint" // answered with what the sidecar said
	outOAuthRefused  = "oauth_refused"  // refused by the filter's own checks
)

// oauthRequest is a request to an OAuth endpoint, across its callbacks.
type oauthRequest struct {
	endpoint string
	// The client's headers, copied when the body follows (the
	// authorization header is then removed from the request).
	authorization, contentType string
	awaitingBody               bool   // headers seen, the body is still coming
	body                       string // copied at the end of the stream
	answer                     *host.CallResponse
}

// oauthEndpoint answers requests to an OAuth API's endpoints; any other
// request goes on to authentication.
func (h *httpContext) oauthEndpoint() verdict {
	if !h.api.UseOauth2 {
		return next
	}
	o := h.oauth
	if o == nil {
		ep := oa.Endpoint(h.api.Proxy.ListenPath, route.PathOnly(h.path))
		if ep == "" {
			return next
		}
		o = &oauthRequest{endpoint: ep, authorization: h.host.RequestHeader("authorization"),
			contentType: h.host.RequestHeader("content-type")}
		h.oauth = o
		if h.bodyFollows {
			// OnHttpRequestBody runs this step again at the end of the
			// stream. A host that holds the body while the headers are
			// paused (Envoy's default) must be let go on to deliver it:
			// the headers then go on without the client's credentials,
			// and the body is held until the request is answered.
			o.awaitingBody = true
			o.authorization, o.contentType = strings.Clone(o.authorization), strings.Clone(o.contentType)
			if h.root.cfg.HeadersStopIteration {
				return wait
			}
			h.host.RemoveRequestHeader("authorization")
			h.detach() // the body callback reads the method and path
			return forward
		}
	}
	if o.answer != nil {
		return h.oauthAnswered()
	}
	r := h.root
	method := h.method
	authorization, contentType := o.authorization, o.contentType
	_, query, _ := strings.Cut(h.path, "?")
	query, _, _ = strings.Cut(query, "#")
	if o.endpoint == oa.EndpointToken {
		req, err := oa.ParseRequest(method, authorization, contentType, query, []byte(o.body))
		e := oa.Err(oa.ErrInvalidRequest)
		if err == nil {
			_, e = oa.CheckToken(req, h.api.Oauth2Meta.AllowedAccessTypes)
		}
		if e != nil {
			return h.oauthReply(oa.ErrorStatus, string(oa.AppendError(nil, e)), "", outOAuthRefused)
		}
	}
	r.scratch = wire.AppendOAuthRequest(r.scratch[:0], wire.OAuthRequest{APIID: h.api.APIID, Endpoint: o.endpoint,
		Method: method, Authorization: authorization, ContentType: contentType, Query: query, Body: o.body})
	err := h.host.Call(r.cfg.Cluster, r.callHeaders("POST", wire.PathOAuth), r.scratch, r.cfg.LookupTimeoutMS,
		func(ans *host.CallResponse) {
			o.answer = ans
			h.resume()
		})
	if err != nil {
		r.log(host.Warn, "oauth call failed: "+err.Error())
		return h.reply(unavailable(), outUnavailable)
	}
	return wait
}

// oauthAnswered relays the sidecar's answer. A failed call is 503: the
// request was never forwarded and must not be now.
func (h *httpContext) oauthAnswered() verdict {
	r := h.root
	ans := h.oauth.answer
	if ans.Status != wire.StatusOK {
		r.refused(ans.Status)
		return h.reply(unavailable(), outUnavailable)
	}
	res, err := wire.DecodeOAuthResponse(ans.Body)
	if err != nil {
		r.log(host.Error, "malformed oauth answer from the sidecar")
		return h.reply(unavailable(), outUnavailable)
	}
	return h.oauthReply(uint32(res.Status), res.Body, res.Location, outOAuthAnswered)
}

// oauthReply sends an OAuth endpoint's answer: JSON, never cached (RFC
// 6749 §5.1), with the redirect's Location.
func (h *httpContext) oauthReply(status uint32, body, location, outcome string) verdict {
	h.root.m.decision(outcome)
	hdrs := [][2]string{{"cache-control", "no-store"}, {"pragma", "no-cache"}}
	if body != "" {
		hdrs = append(hdrs, [2]string{"content-type", "application/json"})
	}
	if location != "" {
		hdrs = append(hdrs, [2]string{"location", location})
	}
	if err := h.host.Reply(status, hdrs, []byte(body)); err != nil {
		h.root.log(host.Error, "sending a local reply: "+err.Error())
		h.host.Close()
	}
	return replied
}

// oauthBody buffers the body of a request to an OAuth endpoint and,
// at its end, runs the pipeline on from the step that waited for it. Other
// requests' bodies pass.
func (h *httpContext) oauthBody(size int, endOfStream bool) proxywasm.Action {
	o := h.oauth
	if size > wire.MaxOAuthBody {
		o.awaitingBody = false
		h.reply(&reply{status: 413, msg: "Request body too large"}, outOAuthRefused)
		return proxywasm.ActionPause
	}
	if !endOfStream {
		return proxywasm.ActionPause // the host buffers it
	}
	o.awaitingBody = false
	if size > 0 {
		b, err := h.host.RequestBody(size)
		if err != nil {
			h.root.log(host.Error, "reading the request body: "+err.Error())
			h.reply(replyInternal, outInternal)
			return proxywasm.ActionPause
		}
		o.body = string(b)
	}
	h.now = h.root.now()
	return h.run()
}
