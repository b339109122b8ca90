package plugin

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// The response side: local replies (the filter's own answers) and the
// rate-limit headers added to upstream responses.

// Messages the filter sends that Tyk has no equivalent for.
const (
	// MsgUnavailable answers requests the filter cannot decide because the
	// sidecar is unreachable (503 with Retry-After).
	MsgUnavailable = "Access control is temporarily unavailable, please retry"
	// MsgNoAPI answers requests that match no API when unmatched is "reject".
	MsgNoAPI = "No API matches this request"
	// MsgInternal answers a request whose processing failed unexpectedly.
	MsgInternal = "internal error"
)

// unavailableRetryAfter is the Retry-After of 503 answers, in seconds: the
// sync poll retries the sidecar several times within it.
const unavailableRetryAfter = 1

// reply is a local response the filter sends instead of forwarding.
type reply struct {
	status  uint32
	msg     string
	headers [][2]string
}

// body is Tyk's error body for the reply.
func (r *reply) body() []byte {
	return model.AppendError(make([]byte, 0, 32+len(r.msg)), r.msg)
}

// allHeaders are the reply's headers for an auth-token API.
func (r *reply) allHeaders() [][2]string {
	return r.headersWith(auth.AuthToken{}.Challenge())
}

// headersWith are the JSON content type, for a 401 the auth method's
// challenge (RFC 7235 §4.1: a 401 names the scheme the client should use;
// none when challenge is ""), then the reply's own headers.
func (r *reply) headersWith(challenge string) [][2]string {
	h := make([][2]string, 0, len(r.headers)+2)
	h = append(h, [2]string{"content-type", "application/json"})
	if r.status == access.StatusUnauthorized && challenge != "" {
		h = append(h, [2]string{"www-authenticate", challenge})
	}
	return append(h, r.headers...)
}

// challenge is the WWW-Authenticate value of the request's auth method
// (auth.Challenger), "" if it has none.
func (h *httpContext) challenge() string {
	m := h.authMethod
	if m == nil && h.api != nil && h.root.snap != nil {
		m = h.root.snap.methods[h.api]
	}
	if c, ok := m.(auth.Challenger); ok {
		return c.Challenge()
	}
	return ""
}

func denied(d access.Decision) *reply {
	return &reply{status: uint32(d.Status), msg: d.Message}
}

func retryAfter(seconds int64) [2]string {
	return [2]string{"retry-after", strconv.FormatInt(max(seconds, 1), 10)}
}

func unavailable() *reply {
	return &reply{status: 503, msg: MsgUnavailable, headers: [][2]string{retryAfter(unavailableRetryAfter)}}
}

var (
	replyMissingKey  = &reply{status: uint32(auth.DenyMissing.Status), msg: auth.DenyMissing.Message}
	replyKeyNotFound = &reply{status: uint32(auth.DenyUnknown.Status), msg: auth.DenyUnknown.Message}
	replyNoAPI       = &reply{status: access.StatusNotFound, msg: MsgNoAPI}
	replyInternal    = &reply{status: 500, msg: MsgInternal}
)

// reply sends a local response and counts the outcome. A refused request
// consumes no organisation quota: a unit it took goes back.
func (h *httpContext) reply(rep *reply, outcome string) verdict {
	h.giveBack(&h.orgQ)
	h.root.m.decision(outcome)
	body := rep.body()
	if err := h.host.Reply(rep.status, rep.headersWith(h.challenge()), body); err != nil {
		h.root.log(host.Error, "sending a local reply: "+err.Error())
		h.host.Close()
	}
	h.recordReply(rep.status, outcome, len(body))
	return replied
}

// deny answers a denial of the auth step.
func (h *httpContext) deny(d *auth.Denial) verdict {
	return h.reply(&reply{status: uint32(d.Status), msg: d.Message}, d.Outcome)
}

func (h *httpContext) rateLimited(msg, outcome string, res ratelimit.Result) verdict {
	rep := &reply{status: access.StatusTooManyRequests, msg: msg,
		headers: [][2]string{retryAfter(ratelimit.RetryAfterSeconds(res.RetryAfter))}}
	if h.root.cfg.RateLimitHeaders == config.HeadersRateLimits && outcome == outRateLimited {
		rep.headers = append(rep.headers, h.rateHeaders(h.now)...)
	}
	return h.reply(rep, outcome)
}

// OnHttpResponseHeaders adds the rate-limit headers to responses of
// authorized requests.
func (h *httpContext) OnHttpResponseHeaders(_ int, endOfStream bool) proxywasm.Action {
	h.recordResponse()
	h.onResponseHeaders(endOfStream) // response cache, header transforms (respcache.go)
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
		h.setResponseInt("x-ratelimit-limit", limit)
		h.setResponseInt("x-ratelimit-remaining", max(remaining, 0))
		h.setResponseInt("x-ratelimit-reset", reset)
	case config.HeadersRateLimits:
		if h.rated {
			for _, kv := range h.rateHeaders(r.now()) {
				h.host.SetResponseHeader(kv[0], []byte(kv[1]))
			}
		}
	}
	if cfg.IETFHeaders {
		if pol, state := h.ietfHeaders(r.now()); pol != "" {
			h.host.SetResponseHeader("ratelimit-policy", []byte(pol))
			h.host.SetResponseHeader("ratelimit", []byte(state))
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
	return h.limit.QuotaMax, h.session().QuotaRemaining, h.session().QuotaRenews
}

// setResponseInt sets a response header to a decimal integer.
func (h *httpContext) setResponseInt(name string, v int64) {
	r := h.root
	r.scratch = strconv.AppendInt(r.scratch[:0], v, 10)
	h.host.SetResponseHeader(name, r.scratch)
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
