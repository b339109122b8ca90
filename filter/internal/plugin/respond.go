package plugin

import (
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

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

// allHeaders are the JSON content type, for a 401 the challenge, then the
// reply's own headers.
func (r *reply) allHeaders() [][2]string {
	h := make([][2]string, 0, len(r.headers)+2)
	h = append(h, [2]string{"content-type", "application/json"})
	if r.status == access.StatusUnauthorized {
		// RFC 6750 §3: a 401 names the scheme the client should use.
		h = append(h, [2]string{"www-authenticate", `Bearer realm="turnpike"`})
	}
	return append(h, r.headers...)
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
	replyMissingKey  = &reply{status: access.StatusUnauthorized, msg: access.MsgAuthFieldMissing}
	replyKeyNotFound = &reply{status: access.StatusForbidden, msg: access.MsgKeyNotFound}
	replyNoAPI       = &reply{status: access.StatusNotFound, msg: MsgNoAPI}
	replyInternal    = &reply{status: 500, msg: MsgInternal}
)
