package plugin

import (
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

func TestParseSync(t *testing.T) {
	r, err := wire.DecodeSyncResponse([]byte(`{"version":"v2","cursor":"17-3","reset":false,"more":true,
		"keys":["aa","bb"],
		"snapshot":{"policies":{"p1":{"id":"p1","rate":5,"per":1}},
			"apis":[{"api_id":"a1","active":true,"proxy":{"listen_path":"/a/"}}],
			"orgs":{"o1":{"org_id":"o1","is_inactive":true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "v2" || r.Cursor != "17-3" || r.Reset || !r.More || len(r.Keys) != 2 || r.Keys[1] != "bb" {
		t.Fatalf("header fields: %+v", r)
	}
	if r.Snapshot == nil || r.Snapshot.Policies["p1"].Rate != 5 || len(r.Snapshot.APIs) != 1 || !r.Snapshot.Orgs["o1"].IsInactive {
		t.Fatalf("snapshot: %+v", r)
	}
	s := newSnapshot(7, r.Version, r.Snapshot, []*model.APIDefinition{
		{APIID: "a1", Active: true, Proxy: model.Proxy{ListenPath: "/static-a1/"}}, // overridden
		{APIID: "s1", Active: true, Proxy: model.Proxy{ListenPath: "/s/"}},
	})
	if s.seq != 7 || s.routes.Len() != 2 {
		t.Fatalf("snapshot routes %d", s.routes.Len())
	}
	if a := s.routes.Match("h", "/a/x"); a == nil || a.APIID != "a1" {
		t.Fatalf("synced api not routed: %v", a)
	}
	if a := s.routes.Match("h", "/static-a1/x"); a != nil {
		t.Fatal("static definition not overridden by the synced one")
	}
	if a := s.routes.Match("h", "/s/x"); a == nil || a.APIID != "s1" {
		t.Fatal("static api not routed")
	}

	noSnap, err := wire.DecodeSyncResponse([]byte(`{"version":"v2","cursor":"1-0","keys":[]}`))
	if err != nil || noSnap.Snapshot != nil {
		t.Fatalf("no snapshot: %+v %v", noSnap, err)
	}
}

func TestParseSyncRejectsJunk(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"keys":[1]}`, `{"snapshot":{"policies":{"p":{"rate":"x"}}}}`,
		`{"snapshot":{"apis":[{"api_id":3}]}}`, `{"snapshot":{"orgs":{"o":{"quota_max":"x"}}}}`,
	} {
		if _, err := wire.DecodeSyncResponse([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestReplies(t *testing.T) {
	for _, tc := range []struct {
		rep     *reply
		status  uint32
		body    string
		headers map[string]string
	}{
		{replyMissingKey, 401, "{\n    \"error\": \"Authorization field missing\"\n}",
			map[string]string{"www-authenticate": `Bearer realm="turnpike"`}},
		{replyKeyNotFound, 403, "{\n    \"error\": \"Access to this API has been disallowed\"\n}", nil},
		{unavailable(), 503, "{\n    \"error\": \"" + MsgUnavailable + "\"\n}", map[string]string{"retry-after": "1"}},
		{denied(access.Decision{Reason: access.ReasonKeyExpired, Status: 401, Message: access.MsgKeyExpired}), 401,
			"{\n    \"error\": \"Key has expired, please renew\"\n}", map[string]string{"www-authenticate": `Bearer realm="turnpike"`}},
	} {
		if tc.rep.status != tc.status || string(tc.rep.body()) != tc.body {
			t.Errorf("%d %q, want %d %q", tc.rep.status, tc.rep.body(), tc.status, tc.body)
		}
		got := map[string]string{}
		for _, kv := range tc.rep.allHeaders() {
			got[kv[0]] = kv[1]
		}
		if got["content-type"] != "application/json" {
			t.Errorf("%d: content-type %q", tc.status, got["content-type"])
		}
		for k, v := range tc.headers {
			if got[k] != v {
				t.Errorf("%d: %s = %q, want %q", tc.status, k, got[k], v)
			}
		}
	}
	if h := retryAfter(0); h[1] != "1" {
		t.Errorf("Retry-After 0 became %q, want 1", h[1])
	}
}

func TestParseQuota(t *testing.T) {
	g, err := wire.DecodeQuotaResponse([]byte(`{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`))
	if err != nil || g.Granted < 1 || g.Remaining != 99 || g.Reset != 1764000000 || g.QuotaMax != 100 {
		t.Fatalf("%+v %v", g, err)
	}
	if g, err := wire.DecodeQuotaResponse([]byte(`{"granted":0,"remaining":0,"reset":5,"quota_max":100}`)); err != nil || g.Granted >= 1 {
		t.Fatalf("exhausted: %+v %v", g, err)
	}
	for _, junk := range []string{``, `{}`, `[1]`, `{"granted"`} {
		if _, err := wire.DecodeQuotaResponse([]byte(junk)); err == nil {
			t.Errorf("%q accepted", junk)
		}
	}
}

func TestRateLimitHeaders(t *testing.T) {
	now := int64(1_700_000_000) * int64(time.Second)
	h := &httpContext{
		eff:   &effective{s: &model.Session{QuotaRemaining: 3, QuotaRenews: 99}},
		limit: access.Limit{Rate: 10, Per: 1, QuotaMax: 100, QuotaRenewalRate: 3600},
		rate:  ratelimit.Result{Allowed: true, Remaining: 9, ResetAfter: 100 * time.Millisecond},
		rated: true,
	}
	// Without a reservation, Tyk's headers show the session's stored quota.
	if l, rem, reset := h.quotaValues(); l != 100 || rem != 3 || reset != 99 {
		t.Errorf("session quota headers %d %d %d", l, rem, reset)
	}
	h.quota = quotaGrant{reserved: true, max: 100, remaining: 42, reset: 1_700_003_600}
	if l, rem, reset := h.quotaValues(); l != 100 || rem != 42 || reset != 1_700_003_600 {
		t.Errorf("quota headers %d %d %d", l, rem, reset)
	}
	if got := h.rateHeaders(now); got[0][1] != "10" || got[1][1] != "9" || got[2][1] != "1700000001" {
		t.Errorf("rate headers %v", got)
	}
	pol, state := h.ietfHeaders(now)
	if pol != `"rate";q=10;w=1, "quota";q=100;w=3600` || state != `"rate";r=9;t=1, "quota";r=42;t=3600` {
		t.Errorf("IETF headers %q / %q", pol, state)
	}
}

func TestFormatRate(t *testing.T) {
	for f, want := range map[float64]string{10: "10", 0.5: "0.5", -1: "-1", 1e20: "100000000000000000000"} {
		if got := formatRate(f); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", f, got, want)
		}
	}
}
