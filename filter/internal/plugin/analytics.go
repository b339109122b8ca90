package plugin

import (
	"math"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Analytics (analytics.enabled): every request decided for an API becomes
// one record (shared/wire.AnalyticsRecord), encoded at once into the VM's
// buffer, and the buffer goes to the sidecar in one call per tick.
//
// Nothing here may hold a request up: a record is written when its
// response headers pass (forwarded requests) or when the local reply is
// sent, a full buffer drops the record and counts it, and a failed batch
// is counted, not retried. Requests that match no API are not recorded (Tyk
// records per API), nor are streams reset before their response headers,
// nor requests for an API with "do_not_track": true.

// analyticsState is a VM's record buffer.
type analyticsState struct {
	// buf holds, after head bytes kept free for the batch's head
	// (wire.AppendAnalyticsBatchHead), the records since the last batch,
	// encoded and separated by commas; n counts them. A batch is sent
	// from buf itself: the head is written just in front of the records
	// and the host copies the body during Call, so shipping copies and
	// allocates no batch.
	buf  []byte
	head int
	n    int
	// dropped counts the records lost to a full buffer since the last
	// batch; the batch reports it to the sidecar.
	dropped int64
	// hdr is the head's scratch space, headers the batch call's headers,
	// answered its answer callback, and shipping the records of the
	// batch in flight: made once, so a tick's shipping allocates none
	// (each allocation brings the next garbage collection, and the write
	// barrier it keeps on for every request while it runs, closer).
	hdr      []byte
	headers  [][2]string
	answered func(*host.CallResponse)
	shipping uint64
	inFlight bool
	// failing: the last batch failed, so the next failure is not logged
	// again (a sidecar outage must not flood the proxy's log).
	failing bool
	// free holds buffers for the request parts of forwarded requests'
	// records, reused so that recording allocates nothing in steady state.
	free [][]byte

	recorded, droppedC, sent, failed *counter
}

// startAnalytics defines the analytics counters; only a VM that records
// has them.
func (r *Root) startAnalytics() {
	if !r.cfg.Analytics.Enabled {
		return
	}
	a := &r.an
	def := func(name string) *counter {
		c := newCounter(r.host, name)
		r.m.all = append(r.m.all, c)
		return c
	}
	a.recorded = def("turnpike.analytics.recorded")
	a.droppedC = def("turnpike.analytics.dropped")
	a.sent = def("turnpike.analytics.sent")
	a.failed = def("turnpike.analytics.failed")
	// Sized for a full buffer up front (up to 4 MiB; max_bytes defaults
	// to 1 MiB): a buffer growing under load allocates large blocks,
	// and each starts a garbage collection that keeps the write barrier
	// on for every request until it ends (filter/README.md, "Per-request
	// cost and VM memory").
	a.head = len(wire.AppendAnalyticsBatchHead(nil, r.vmID, math.MaxInt64))
	a.hdr = make([]byte, 0, a.head)
	a.buf = make([]byte, a.head, a.head+min(r.cfg.Analytics.MaxBytes, 4<<20)+len(wire.AnalyticsBatchTail))
	a.headers = r.callHeaders("POST", wire.PathAnalytics)
	a.answered = func(ans *host.CallResponse) { a.answer(r, ans) }
}

// sourceAddress is the property with the client's address; a variable,
// so the variadic call does not allocate its path per request.
var sourceAddress = []string{"source", "address"}

// tracked reports whether the request is to be recorded.
func (h *httpContext) tracked() bool {
	r := h.root
	return r.cfg.Analytics.Enabled && h.api != nil && !h.recorded && h.anPart == nil &&
		(r.snap == nil || !r.snap.untracked[h.api.APIID])
}

// requestFields fills what the request callback knows: the method, path
// and authority read by the pipeline (views valid in the callback that
// decides, or copies made when it paused), two more headers (from the
// callback's header snapshot: no host call), the peer.
//
// The fields that are the same for every request of a key and API (API
// id, name, org, listen path, key hash, alias, OAuth client, policies,
// tags) are left out when the request has an effective session:
// appendRequestPart adds them from that session's cache instead.
func (h *httpContext) requestFields(rec *wire.AnalyticsRecord) {
	rec.Time = h.arrived
	rec.APIVersion = h.version
	rec.Method, rec.Host, rec.Path = h.method, h.authority, route.PathOnly(h.path)
	if !h.cachedFields() {
		constantFields(rec, h.api, h.hash, h.eff)
	}
	rec.UserAgent = h.host.RequestHeader("user-agent")
	if bodyMethod(h.method) {
		rec.RequestBytes = parseLength(h.host.RequestHeader("content-length"))
	}
	rec.ClientIP = h.clientIP()
}

// cachedFields reports whether the record's constant fields come from the
// effective session's cache.
func (h *httpContext) cachedFields() bool { return h.eff != nil && h.eff.s != nil }

// constantFields sets the fields of a record that depend only on the API
// and the key.
func constantFields(rec *wire.AnalyticsRecord, api *model.APIDefinition, hash string, eff *effective) {
	rec.APIID, rec.APIName = api.APIID, api.Name
	rec.OrgID, rec.ListenPath = api.OrgID, api.Proxy.ListenPath
	rec.KeyHash = hash
	if eff != nil && eff.s != nil {
		s := eff.s
		rec.Alias, rec.OAuthID, rec.Tags, rec.Policies = s.Alias, s.OauthClientID, s.Tags, s.ApplyPolicies
	}
}

// appendRequestPart encodes the request's part of its record: rec's fields,
// then the key's and API's cached ones (JSON fields in any order).
func (h *httpContext) appendRequestPart(dst []byte, rec *wire.AnalyticsRecord) []byte {
	dst = wire.AppendAnalyticsRequest(dst, rec)
	if !h.cachedFields() {
		return dst
	}
	e := h.eff
	if e.an == nil || e.anHash != h.hash { // the hash: one eff may serve a chain's members
		e.anHash = strings.Clone(h.hash)
		var c wire.AnalyticsRecord
		constantFields(&c, h.api, h.hash, e)
		// Encoded as a record of its own whose time is 0, minus the
		// object's opening: `,"api_id":…` up to its last field.
		enc := wire.AppendAnalyticsRequest(nil, &c)
		e.an = enc[len(emptyRequestPart):]
	}
	return append(dst, e.an...)
}

// emptyRequestPart is what wire.AppendAnalyticsRequest writes for a record
// whose fields are all zero.
var emptyRequestPart = string(wire.AppendAnalyticsRequest(nil, &wire.AnalyticsRecord{}))

// recordReply records a request answered with a local reply of status: the
// whole record at once, in the callback that decided it (h.now is current).
func (h *httpContext) recordReply(status uint32, outcome string, bodyLen int) {
	if !h.tracked() {
		return
	}
	h.recorded = true
	var rec wire.AnalyticsRecord
	h.requestFields(&rec)
	rec.Status, rec.Outcome = int(status), outcome
	rec.TotalUS, rec.ResponseBytes = (h.now-h.arrived)/1000, int64(bodyLen)
	a := &h.root.an
	if !a.room(h.root) {
		return
	}
	mark := len(a.buf)
	a.sep()
	a.buf = wire.AppendAnalyticsResponse(h.appendRequestPart(a.buf, &rec), &rec)
	a.commit(h.root, mark)
}

// startRecord writes the request's part of a forwarded request's record
// (run, as the request goes upstream) into a buffer of its own, taken from
// the VM's free list; recordResponse completes it.
func (h *httpContext) startRecord() {
	if !h.tracked() {
		return
	}
	a := &h.root.an
	var part []byte
	if n := len(a.free); n > 0 {
		part, a.free = a.free[n-1][:0], a.free[:n-1]
	}
	var rec wire.AnalyticsRecord
	h.requestFields(&rec)
	h.anPart = h.appendRequestPart(part, &rec)
}

// recordResponse completes a forwarded request's record when its response
// headers arrive (OnHttpResponseHeaders): the upstream's status, the
// latencies.
func (h *httpContext) recordResponse() {
	if h.anPart == nil || h.recorded {
		return
	}
	r := h.root
	h.recorded = true
	now := r.now()
	var rec wire.AnalyticsRecord
	rec.Status = int(parseLength(h.host.ResponseHeader(":status")))
	rec.Outcome = outKeyless
	if h.authorized {
		rec.Outcome = outAllowed
	}
	rec.ResponseBytes = parseLength(h.host.ResponseHeader("content-length"))
	rec.TotalUS, rec.UpstreamUS = (now-h.arrived)/1000, (now-h.forwardedAt)/1000
	a := &r.an
	if a.room(r) {
		mark := len(a.buf)
		a.sep()
		a.buf = append(a.buf, h.anPart...)
		a.buf = wire.AppendAnalyticsResponse(a.buf, &rec)
		a.commit(r, mark)
	}
	h.releaseRecord()
}

// releaseRecord returns the request part's buffer to the free list (also
// when the stream ends without a response).
func (h *httpContext) releaseRecord() {
	a := &h.root.an
	if h.anPart != nil && len(a.free) < maxFreeParts && cap(h.anPart) <= maxPartSize {
		a.free = append(a.free, h.anPart)
	}
	h.anPart = nil
}

// The free list keeps the request parts' buffers of this many finished
// streams, each up to maxPartSize: enough for the streams a VM has in
// flight, without keeping an outsized one.
const (
	maxFreeParts = 1024
	maxPartSize  = 4096
)

// room reports whether the buffer takes another record, counting a drop
// when it does not.
func (a *analyticsState) room(r *Root) bool {
	if a.n >= r.cfg.Analytics.MaxRecords {
		a.drop()
		return false
	}
	return true
}

// sep separates the next record from the previous one.
func (a *analyticsState) sep() {
	if len(a.buf) > a.head {
		a.buf = append(a.buf, ',')
	}
}

// commit counts the record appended since mark, or takes it back (and
// counts a drop) when it took the buffer past max_bytes.
func (a *analyticsState) commit(r *Root, mark int) {
	if len(a.buf)-a.head > r.cfg.Analytics.MaxBytes {
		a.buf = a.buf[:mark]
		a.drop()
		return
	}
	a.n++
	a.recorded.Increment(1)
}

func (a *analyticsState) drop() {
	a.dropped++
	a.droppedC.Increment(1)
}

// bodyMethod reports whether requests of method usually carry a body:
// for GET, HEAD, DELETE and OPTIONS the content-length is not read (a
// host call per request saved on the most common traffic; such a request
// with a body is recorded with 0 bytes).
func bodyMethod(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS":
		return false
	}
	return true
}

// parseLength reads a non-negative decimal header value (content-length,
// :status); anything else is 0. Unlike strconv, a bad or missing value
// costs no allocated error.
func parseLength(s string) int64 {
	if s == "" || len(s) > 18 {
		return 0
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// hostOnly strips the port of a peer address: 10.0.0.1:5555 -> 10.0.0.1,
// [::1]:5555 -> ::1.
func hostOnly(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if i := strings.IndexByte(addr, ']'); i > 0 {
			return addr[1:i]
		}
		return addr
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr, ':') == i {
		return addr[:i]
	}
	return addr
}

// shipAnalytics sends the buffered records to the sidecar (OnTick, root
// context). One batch is in flight at most: while it is, records keep
// collecting up to the buffer's bounds.
func (r *Root) shipAnalytics() {
	a := &r.an
	if !r.cfg.Analytics.Enabled || a.inFlight || (a.n == 0 && a.dropped == 0) {
		return
	}
	n := uint64(a.n)
	a.hdr = wire.AppendAnalyticsBatchHead(a.hdr[:0], r.vmID, a.dropped)
	var body []byte
	if start := a.head - len(a.hdr); start >= 0 {
		copy(a.buf[start:], a.hdr)
		body = append(a.buf, wire.AnalyticsBatchTail...)[start:]
	} else { // not expected: head was sized for this VM's id and any count
		body = wire.AppendAnalyticsBatch(nil, r.vmID, a.dropped, a.buf[a.head:])
	}
	a.buf, a.n, a.dropped = a.buf[:a.head], 0, 0
	// The host has copied body when Call returns: buf takes new records
	// at once.
	err := r.host.Call(r.cfg.Cluster, a.headers, body, r.cfg.SyncTimeoutMS, a.answered)
	if err != nil {
		a.batchFailed(r, n, err.Error())
		return
	}
	a.shipping, a.inFlight = n, true
}

// answer handles the sidecar's answer to the batch in flight.
func (a *analyticsState) answer(r *Root, ans *host.CallResponse) {
	a.inFlight = false
	if ans.Status == wire.StatusOK {
		a.sent.Increment(a.shipping)
		a.failing = false
		return
	}
	r.refused(ans.Status)
	a.batchFailed(r, a.shipping, "the sidecar answered "+strconv.Itoa(ans.Status))
}

func (a *analyticsState) batchFailed(r *Root, n uint64, why string) {
	a.failed.Increment(n)
	if !a.failing {
		r.log(host.Warn, "analytics batch lost ("+strconv.FormatUint(n, 10)+" records): "+why)
	}
	a.failing = true
}
