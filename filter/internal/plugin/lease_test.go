package plugin

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// quotaCall returns the pending quota call (not a release) and its request.
func (fx *fixture) quotaCall() (*hosttest.Call, wire.QuotaRequest) {
	fx.t.Helper()
	for _, c := range fx.f.Calls {
		if c.Path() == wire.PathQuota {
			req, err := wire.DecodeQuotaRequest([]byte(c.Body))
			if err != nil {
				fx.t.Fatal(err)
			}
			return c, req
		}
	}
	return nil, wire.QuotaRequest{}
}

// releases answers and returns the pending releases.
func (fx *fixture) releases() []wire.QuotaRequest {
	fx.t.Helper()
	var out []wire.QuotaRequest
	for c := fx.f.Pending(wire.PathQuotaRelease); c != nil; c = fx.f.Pending(wire.PathQuotaRelease) {
		req, err := wire.DecodeQuotaRequest([]byte(c.Body))
		if err != nil || req.ValidateRelease() != nil {
			fx.t.Fatalf("release %s: %v", c.Body, err)
		}
		out = append(out, req)
		fx.f.Answer(c, 200, nil, `{"released":1}`)
	}
	return out
}

const (
	testWindow = 1700003600
	leaseSess  = `"quota_max":1000,"quota_renewal_rate":3600`
)

// leaseAnswer grants units of a 1000-unit quota with remaining left.
func leaseAnswer(units, remaining int64) string {
	return string(wire.AppendQuotaResponse(nil, wire.QuotaResponse{Granted: units, Remaining: remaining,
		Reset: testWindow, QuotaMax: 1000, WindowID: testWindow, WindowMS: 3600_000}))
}

// TestQuotaLeaseSpendsLocally: after the first lease, requests spend units
// of it without a sidecar call; the next lease is asked before it runs out,
// without holding a request, and is sized by the recent rate.
func TestQuotaLeaseSpendsLocally(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "lease-key")
	fx.lookup("lease-key", 200, testSession(leaseSess))
	c, req := fx.quotaCall()
	if c == nil || !req.Lease || req.Units != 1 || req.KeyHash != keys.Hash("lease-key") {
		t.Fatalf("first quota call %+v", req)
	}
	fx.f.Answer(c, 200, nil, leaseAnswer(1, 999))
	if status(s) != 200 {
		t.Fatalf("first request: %d", status(s))
	}
	// Traffic: one request per millisecond.
	fx.f.Clock += int64(time.Millisecond)
	s, _, _ = fx.send("/api1/x", "lease-key")
	c, req = fx.quotaCall()
	if c == nil || req.Units < 100 {
		t.Fatalf("second call %+v: the lease should cover the observed rate", req)
	}
	fx.f.Answer(c, 200, nil, leaseAnswer(100, 899))
	if status(s) != 200 {
		t.Fatalf("second request: %d", status(s))
	}
	calls := 0
	refills := 0
	for i := range 200 {
		fx.f.Clock += int64(time.Millisecond)
		s := fx.do("/api1/x", "lease-key", "")
		if status(s) != 200 {
			t.Fatalf("request %d: %d %+v", i, status(s), s.Reply)
		}
		if c, req := fx.quotaCall(); c != nil {
			if c.Context != fx.r.id {
				t.Fatalf("a refill sent from stream %d held it", c.Context)
			}
			refills++
			fx.f.Answer(c, 200, nil, leaseAnswer(req.Units, 500))
		}
		calls = len(fx.f.Calls)
	}
	if refills == 0 || refills > 3 || calls != 0 {
		t.Fatalf("%d refills for 200 requests (calls left %d)", refills, calls)
	}
	fx.respond(s)
	if rem := s.ResponseHeaders["x-ratelimit-remaining"]; rem == "" || rem == "0" {
		t.Errorf("X-RateLimit-Remaining %q", rem)
	}
}

// TestQuotaLeaseSharedAcrossVMs: a second VM spends the lease the first one
// took, so a proxy asks the sidecar once for all its workers.
func TestQuotaLeaseSharedAcrossVMs(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "vm-key")
	fx.lookup("vm-key", 200, testSession(leaseSess))
	c, _ := fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(5, 995))
	if status(s) != 200 {
		t.Fatal("first request")
	}
	vm2 := NewRoot(fx.f, 2)
	if !vm2.OnPluginStart(0) {
		t.Fatal("second VM did not start")
	}
	fx2 := &fixture{t: t, f: fx.f, r: vm2, next: 5000, streams: map[uint32]*httpContext{}}
	fx2.sync(`{"version":"v1","cursor":"1-0","keys":[],"snapshot":` + testSnapshot + `}`)
	for i := range 4 { // the session comes from shared data too
		s := fx2.do("/api1/x", "vm-key", "")
		if status(s) != 200 {
			t.Fatalf("VM 2 request %d: %d (calls %d)", i, status(s), len(fx.f.Calls))
		}
	}
	// The five units are spent: the next request must ask.
	s, _, _ = fx.send("/api1/x", "vm-key")
	if c, _ := fx.quotaCall(); c == nil || status(s) != 0 {
		t.Fatalf("an empty lease did not make the request ask (status %d)", status(s))
	}
}

// TestQuotaLeaseExhausted: a lease answer with no unit refuses the request.
func TestQuotaLeaseExhausted(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "ex-key")
	fx.lookup("ex-key", 200, testSession(leaseSess))
	c, _ := fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(0, 0))
	if status(s) != 403 || !strings.Contains(s.Reply.Body, "Quota exceeded") {
		t.Fatalf("exhausted: %d %+v", status(s), s.Reply)
	}
}

// TestQuotaLeaseReturns: unspent units go back when the lease expires, when
// the key changes (sync feed), when a policy edit changes the limit, and
// when the plugin stops.
func TestQuotaLeaseReturns(t *testing.T) {
	take := func(t *testing.T, fx *fixture, key, sess string, units int64) {
		t.Helper()
		s, _, _ := fx.send("/api1/x", key)
		if sess != "" {
			fx.lookup(key, 200, sess)
		}
		c, _ := fx.quotaCall()
		if c == nil {
			t.Fatal("no quota call")
		}
		fx.f.Answer(c, 200, nil, leaseAnswer(units, 1000-units))
		if status(s) != 200 {
			t.Fatalf("status %d", status(s))
		}
	}
	want := func(t *testing.T, got []wire.QuotaRequest, hash string, units int64) {
		t.Helper()
		if len(got) != 1 || got[0].KeyHash != hash || got[0].Units != units || got[0].WindowID != testWindow {
			t.Fatalf("releases %+v, want %d units of %s", got, units, hash)
		}
	}
	t.Run("expiry", func(t *testing.T) {
		fx := newFixture(t, `,"quota_lease":{"ttl_ms":1000}`, testSnapshot)
		take(t, fx, "exp-key", testSession(leaseSess), 10)
		fx.r.OnTick()
		if got := fx.releases(); len(got) != 0 {
			t.Fatalf("released before expiry: %+v", got)
		}
		fx.f.Clock += int64(1001 * time.Millisecond)
		fx.r.OnTick()
		want(t, fx.releases(), keys.Hash("exp-key"), 9)
		fx.r.OnTick()
		if got := fx.releases(); len(got) != 0 {
			t.Fatalf("released twice: %+v", got)
		}
	})
	t.Run("key changed", func(t *testing.T) {
		fx := newFixture(t, "", testSnapshot)
		take(t, fx, "chg-key", testSession(leaseSess), 10)
		fx.r.OnTick()
		fx.sync(`{"version":"v1","cursor":"2-0","keys":["` + keys.Hash("chg-key") + `"]}`)
		want(t, fx.releases(), keys.Hash("chg-key"), 9)
	})
	t.Run("limit changed", func(t *testing.T) {
		fx := newFixture(t, "", testSnapshot)
		take(t, fx, "lim-key", testSession(leaseSess), 10)
		// The key now has another quota (e.g. a policy edit): the old units
		// are not spent against it.
		fx.r.sessions.Clear()
		a, b := fx.r.shared.Keys(keys.Hash("lim-key"))
		_, _ = fx.f.Set(a, nil, 0), fx.f.Set(b, nil, 0)
		fx.send("/api1/x", "lim-key")
		fx.lookup("lim-key", 200, testSession(`"quota_max":500,"quota_renewal_rate":3600`))
		want(t, fx.releases(), keys.Hash("lim-key"), 9)
		if c, req := fx.quotaCall(); c == nil || req.QuotaMax != 500 {
			t.Fatalf("no lease asked for the new limit: %+v", req)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		fx := newFixture(t, "", testSnapshot)
		take(t, fx, "stop-key", testSession(leaseSess), 10)
		fx.r.OnPluginDone()
		want(t, fx.releases(), keys.Hash("stop-key"), 9)
	})
}

// TestQuotaNoLease: cover_ms 0, and quotas that never renew, reserve one
// unit per request as before.
func TestQuotaNoLease(t *testing.T) {
	for _, tc := range []struct{ config, sess string }{
		{`,"quota_lease":{"cover_ms":0}`, leaseSess},
		{"", `"quota_max":10,"quota_renewal_rate":0`},
	} {
		fx := newFixture(t, tc.config, testSnapshot)
		for i := range 2 {
			s, _, _ := fx.send("/api1/x", "nl-key")
			if i == 0 {
				fx.lookup("nl-key", 200, testSession(tc.sess))
			}
			c, req := fx.quotaCall()
			if c == nil || req.Lease || req.Units != 1 {
				t.Fatalf("%s: request %d call %+v", tc.config, i, req)
			}
			fx.f.Answer(c, 200, nil, `{"granted":1,"remaining":5,"reset":0,"quota_max":10}`)
			if status(s) != 200 {
				t.Fatalf("status %d", status(s))
			}
		}
	}
}

// orgSnapshot has organisation org1 with rate and quota limits.
func orgSnapshot(rate, per, quota int) string {
	return strings.Replace(testSnapshot, `"org1":{"org_id":"org1"}`,
		`"org1":{"org_id":"org1","rate":`+strconv.Itoa(rate)+`,"per":`+strconv.Itoa(per)+
			`,"quota_max":`+strconv.Itoa(quota)+`,"quota_renewal_rate":3600}`, 1)
}

// TestOrgLimits: Tyk's organisation monitor: org rate limit and quota across
// every key of the organisation, with Tyk's messages, only when enforced.
func TestOrgLimits(t *testing.T) {
	orgAnswer := func(units, remaining int64) string {
		return string(wire.AppendQuotaResponse(nil, wire.QuotaResponse{Granted: units, Remaining: remaining,
			Reset: testWindow, QuotaMax: 2, WindowID: testWindow, WindowMS: 3600_000}))
	}
	t.Run("off", func(t *testing.T) {
		fx := newFixture(t, "", orgSnapshot(1, 10, 2))
		for i := range 5 {
			s := fx.do("/api1/x", "org-key", testSession(""))
			if status(s) != 200 {
				t.Fatalf("request %d: %d without enforce_org_quotas", i, status(s))
			}
		}
	})
	t.Run("rate", func(t *testing.T) {
		fx := newFixture(t, `,"enforce_org_quotas":true`, orgSnapshot(2, 10, 0))
		var got []uint32
		for i := range 4 {
			s := fx.do("/api1/x", "key-"+strconv.Itoa(i), testSession(""))
			got = append(got, status(s))
			if status(s) == 403 && !strings.Contains(s.Reply.Body, "This organisation rate limit has been exceeded") {
				t.Fatalf("body %s", s.Reply.Body)
			}
		}
		if got[0] != 200 || got[1] != 200 || got[2] != 403 || got[3] != 403 {
			t.Fatalf("statuses %v: rate 2 per 10 s across the organisation's keys", got)
		}
	})
	t.Run("quota", func(t *testing.T) {
		// The sidecar's switch applies when the plugin does not say.
		fx := newFixture(t, "", "")
		fx.sync(`{"version":"v1","cursor":"1-0","keys":[],"enforce_org_quotas":true,"snapshot":` +
			orgSnapshot(0, 0, 2) + `}`)
		for i, want := range []uint32{200, 200, 403} {
			key := "qkey-" + strconv.Itoa(i)
			s, _, _ := fx.send("/api1/x", key)
			fx.lookup(key, 200, testSession(""))
			c, req := fx.quotaCall()
			if c == nil || req.OrgID != "org1" || req.QuotaMax != 2 || !req.Lease {
				t.Fatalf("request %d: org quota call %+v", i, req)
			}
			if want == 200 {
				fx.f.Answer(c, 200, nil, orgAnswer(1, int64(1-i)))
			} else {
				fx.f.Answer(c, 200, nil, orgAnswer(0, 0))
			}
			if status(s) != want {
				t.Fatalf("request %d: %d, want %d", i, status(s), want)
			}
			if want == 403 && !strings.Contains(s.Reply.Body, "This organisation quota has been exceeded") {
				t.Fatalf("body %s", s.Reply.Body)
			}
		}
	})
	t.Run("refused later consumes nothing", func(t *testing.T) {
		fx := newFixture(t, `,"enforce_org_quotas":true`, orgSnapshot(0, 0, 100))
		s, _, _ := fx.send("/api1/x", "rl-org-key")
		fx.lookup("rl-org-key", 200, testSession(`"rate":1,"per":60`))
		c, _ := fx.quotaCall()
		fx.f.Answer(c, 200, nil, orgAnswer(3, 97))
		if status(s) != 200 {
			t.Fatal("first request")
		}
		// Refused by the key's own rate limit: its org unit goes back.
		if s := fx.do("/api1/x", "rl-org-key", ""); status(s) != 429 {
			t.Fatalf("second request: %d", status(s))
		}
		if s := fx.do("/api1/x", "other-key", testSession("")); status(s) != 200 {
			t.Fatalf("third request: %d", status(s))
		}
		if s := fx.do("/api1/x", "other-key", ""); status(s) != 200 {
			t.Fatalf("fourth request: %d: the refused request's unit was not given back", status(s))
		}
		// Two units were left after the first request: both were spent,
		// and the third request asks.
		s, _, _ = fx.send("/api1/x", "other-key")
		if c, _ := fx.quotaCall(); c == nil || status(s) != 0 {
			t.Fatalf("fifth request: %d without asking", status(s))
		}
	})
	t.Run("reset", func(t *testing.T) {
		fx := newFixture(t, `,"enforce_org_quotas":true`, orgSnapshot(0, 0, 100))
		s, _, _ := fx.send("/api1/x", "reset-key")
		fx.lookup("reset-key", 200, testSession(""))
		c, _ := fx.quotaCall()
		fx.f.Answer(c, 200, nil, orgAnswer(5, 95))
		if status(s) != 200 {
			t.Fatal("first request")
		}
		fx.r.OnTick()
		fx.sync(`{"version":"v1","cursor":"2-0","keys":[],"orgs":["org1"]}`)
		if got := fx.releases(); len(got) != 1 || got[0].OrgID != "org1" || got[0].Units != 4 {
			t.Fatalf("releases after an org reset: %+v", got)
		}
		s, _, _ = fx.send("/api1/x", "reset-key")
		if c, _ := fx.quotaCall(); c == nil || status(s) != 0 {
			t.Fatal("the reset org's old units were spent")
		}
	})
}

// TestQuotaLeaseReleaseRetried: a release the sidecar could not take is
// sent again on the next tick.
func TestQuotaLeaseReleaseRetried(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "retry-key")
	fx.lookup("retry-key", 200, testSession(leaseSess))
	c, _ := fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(10, 990))
	if status(s) != 200 {
		t.Fatal("first request")
	}
	fx.r.OnPluginDone()
	c = fx.f.Pending(wire.PathQuotaRelease)
	if c == nil {
		t.Fatal("no release")
	}
	fx.f.Answer(c, 503, nil, `{"error":"storage unavailable"}`)
	fx.r.OnTick()
	if got := fx.releases(); len(got) != 1 || got[0].Units != 9 {
		t.Fatalf("retried releases %+v", got)
	}
}

// TestQuotaLeaseFeedReset: a feed reset (another or a flushed Redis) drains
// every lease.
func TestQuotaLeaseFeedReset(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "fr-key")
	fx.lookup("fr-key", 200, testSession(leaseSess))
	c, _ := fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(10, 990))
	if status(s) != 200 {
		t.Fatal("first request")
	}
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"9-0","reset":true,"keys":[]}`)
	if got := fx.releases(); len(got) != 1 || got[0].Units != 9 {
		t.Fatalf("releases after a feed reset: %+v", got)
	}
}

// TestQuotaLeaseWaitsForOwnRefill: a request that finds the lease empty
// while this VM is refilling it waits for that refill instead of making a
// call of its own.
func TestQuotaLeaseWaitsForOwnRefill(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.send("/api1/x", "rf-key")
	fx.lookup("rf-key", 200, testSession(leaseSess))
	c, _ := fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(1, 999))
	fx.f.Clock += int64(time.Millisecond)
	s, _, _ = fx.send("/api1/x", "rf-key")
	c, _ = fx.quotaCall()
	fx.f.Answer(c, 200, nil, leaseAnswer(2, 997)) // small: the next spend asks for a refill
	if status(s) != 200 {
		t.Fatal("second request")
	}
	fx.f.Clock += int64(time.Millisecond)
	if s := fx.do("/api1/x", "rf-key", ""); status(s) != 200 {
		t.Fatal("third request")
	}
	refill, _ := fx.quotaCall()
	if refill == nil || refill.Context != fx.r.id {
		t.Fatal("no refill from the root context")
	}
	waiting, _, _ := fx.send("/api1/x", "rf-key")
	if status(waiting) != 0 || len(fx.f.Calls) != 1 {
		t.Fatalf("the request on an empty lease did not wait for the refill (status %d, calls %d)", status(waiting), len(fx.f.Calls))
	}
	fx.f.Answer(refill, 200, nil, leaseAnswer(50, 900))
	if status(waiting) != 200 {
		t.Fatalf("after the refill: status %d", status(waiting))
	}
	// At a request per millisecond 50 units are short: another refill, but
	// no call held by a request.
	for _, c := range fx.f.Calls {
		if c.Context != fx.r.id {
			t.Fatalf("a call from stream %d", c.Context)
		}
	}
}
