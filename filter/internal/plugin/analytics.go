package plugin

import (
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
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
	// buf holds the records since the last batch, encoded and separated
	// by commas; n counts them.
	buf []byte
	n   int
	// dropped counts the records lost to a full buffer since the last
	// batch; the batch reports it to the sidecar.
	dropped int64
	// out is the batch being sent; the host copies it during Call.
	out      []byte
	inFlight bool
	// failing: the last batch failed, so the next failure is not logged
	// again (a sidecar outage must not flood the proxy's log).
	failing bool

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
	a.buf = make([]byte, 0, 4096)
}

// recordReply records a request answered with a local reply of status.
func (h *httpContext) recordReply(status uint32, outcome string, bodyLen int) {
	if !h.root.cfg.Analytics.Enabled || h.api == nil || h.recorded {
		return
	}
	// A local reply is sent in the callback that decided it: h.now is
	// current, and saves a clock read.
	h.record(int(status), outcome, h.now, 0, int64(bodyLen))
}

// recordResponse records a forwarded request when its response headers
// arrive (OnHttpResponseHeaders).
func (h *httpContext) recordResponse() {
	if !h.root.cfg.Analytics.Enabled || h.forwardedAt == 0 || h.recorded {
		return
	}
	status, _ := strconv.Atoi(h.host.ResponseHeader(":status"))
	outcome := outKeyless
	if h.authorized {
		outcome = outAllowed
	}
	length, _ := strconv.ParseInt(h.host.ResponseHeader("content-length"), 10, 64)
	now := h.root.now()
	h.record(status, outcome, now, now-h.forwardedAt, length)
}

// record encodes the request's record into the buffer. The request's
// method, path and the like are read again from the host: the views taken
// in the request callback are gone by the response.
func (h *httpContext) record(status int, outcome string, now, upstreamNS, respBytes int64) {
	r := h.root
	a := &r.an
	h.recorded = true
	if r.snap != nil && r.snap.untracked[h.api.APIID] {
		return // do_not_track, as Tyk's
	}
	rec := wire.AnalyticsRecord{
		Time: h.arrived, Status: status, Outcome: outcome,
		APIID: h.api.APIID, APIName: h.api.Name, APIVersion: h.version, OrgID: h.api.OrgID,
		ListenPath: h.api.Proxy.ListenPath,
		Method:     h.host.RequestHeader(":method"),
		Host:       h.host.RequestHeader(":authority"),
		Path:       route.PathOnly(h.host.RequestHeader(":path")),
		KeyHash:    h.hash,
		UserAgent:  h.host.RequestHeader("user-agent"),
		TotalUS:    (now - h.arrived) / 1000,
		UpstreamUS: upstreamNS / 1000,
	}
	rec.RequestBytes, _ = strconv.ParseInt(h.host.RequestHeader("content-length"), 10, 64)
	rec.ResponseBytes = respBytes
	if h.eff != nil && h.eff.s != nil {
		s := h.eff.s
		rec.Alias, rec.OAuthID, rec.Tags = s.Alias, s.OauthClientID, s.Tags
		rec.Policies = s.ApplyPolicies
	}
	if addr, ok := h.host.Property("source", "address"); ok {
		rec.ClientIP = hostOnly(string(addr))
	}
	if a.n >= r.cfg.Analytics.MaxRecords {
		a.drop()
		return
	}
	mark := len(a.buf)
	if a.n > 0 {
		a.buf = append(a.buf, ',')
	}
	a.buf = wire.AppendAnalyticsRecord(a.buf, &rec)
	if len(a.buf) > r.cfg.Analytics.MaxBytes {
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
	a.out = wire.AppendAnalyticsBatch(a.out[:0], r.vmID, a.dropped, a.buf)
	a.buf, a.n, a.dropped = a.buf[:0], 0, 0
	err := r.host.Call(r.cfg.Cluster, r.callHeaders("POST", wire.PathAnalytics), a.out, r.cfg.SyncTimeoutMS,
		func(ans *host.CallResponse) {
			a.inFlight = false
			if ans.Status == wire.StatusOK {
				a.sent.Increment(n)
				a.failing = false
				return
			}
			r.refused(ans.Status)
			a.batchFailed(r, n, "the sidecar answered "+strconv.Itoa(ans.Status))
		})
	if err != nil {
		a.batchFailed(r, n, err.Error())
		return
	}
	a.inFlight = true
}

func (a *analyticsState) batchFailed(r *Root, n uint64, why string) {
	a.failed.Increment(n)
	if !a.failing {
		r.log(host.Warn, "analytics batch lost ("+strconv.FormatUint(n, 10)+" records): "+why)
	}
	a.failing = true
}
