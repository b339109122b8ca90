package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"sidecar":{"token":"t"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Token = "t"
	want.Authority = want.Cluster
	if c.Cluster != want.Cluster || c.Authority != want.Authority || c.LookupTimeoutMS != 1000 ||
		c.SyncIntervalMS != 250 || c.CacheSize != 10000 || c.NegativeTTLMS != 2000 ||
		c.QuotaExceededStatus != 403 || c.QuotaFailure != Closed || c.RateLimitHeaders != HeadersQuotas ||
		c.RejectUnmatched || c.StripCredential || c.IdentityHeaders || c.APIs != nil ||
		c.Analytics != (Analytics{MaxRecords: 2000, MaxBytes: 1 << 20}) {
		t.Fatalf("defaults: got %+v", c)
	}
}

func TestParseAll(t *testing.T) {
	c, err := Parse([]byte(`{
		"sidecar": {"cluster": "sc", "authority": "sc.local", "token": "secret", "timeout_ms": 300, "sync_timeout_ms": 900},
		"sync_interval_ms": 50,
		"session_cache": {"size": 7, "ttl_ms": 1234, "max_bytes": 100000, "shared_slots": 99},
		"negative_cache_ttl_ms": 0,
		"max_stale_ms": 5000,
		"failure_mode": {"quota": "open"},
		"unmatched": "reject",
		"quota_exceeded_status": 429,
		"rate_limit_headers": "rate_limits",
		"ietf_rate_limit_headers": true,
		"strip_credential": true,
		"identity_headers": true,
		"allow_on_headers_stop_iteration": true,
		"analytics": {"enabled": true, "max_records": 10, "max_bytes": 4096},
		"apis": [{"api_id": "a1", "proxy": {"listen_path": "/a/"}}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster != "sc" || c.Authority != "sc.local" || c.Token != "secret" || c.LookupTimeoutMS != 300 ||
		c.SyncTimeoutMS != 900 || c.SyncIntervalMS != 50 || c.CacheSize != 7 || c.CacheTTLMS != 1234 ||
		c.CacheMaxBytes != 100000 || c.SharedSlots != 99 ||
		c.NegativeTTLMS != 0 || c.MaxStaleMS != 5000 || c.QuotaFailure != Open || !c.RejectUnmatched ||
		c.QuotaExceededStatus != 429 || c.RateLimitHeaders != HeadersRateLimits || !c.IETFHeaders ||
		!c.StripCredential || !c.IdentityHeaders || !c.HeadersStopIteration ||
		c.Analytics != (Analytics{Enabled: true, MaxRecords: 10, MaxBytes: 4096}) {
		t.Fatalf("got %+v", c)
	}
	if len(c.APIs) != 1 || c.APIs[0].APIID != "a1" || c.APIs[0].Proxy.ListenPath != "/a/" {
		t.Fatalf("apis: %+v", c.APIs)
	}
}

func TestAPIIDHeader(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  bool
	}{{``, true}, {`,"api_id_header":true`, true}, {`,"api_id_header":false`, false}} {
		c, err := Parse([]byte(`{"sidecar":{"token":"t"}` + tc.extra + `}`))
		if err != nil || c.APIIDHeader != tc.want {
			t.Errorf("%q: APIIDHeader %v (%v), want %v", tc.extra, c.APIIDHeader, err, tc.want)
		}
	}
	if _, err := Parse([]byte(`{"sidecar":{"token":"t"},"api_id_header":"no"}`)); err == nil ||
		!strings.Contains(err.Error(), "api_id_header") {
		t.Errorf("a string: %v", err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		in, field string
	}{
		{``, "sidecar.token"},
		{`{}`, "sidecar.token"},
		{`[1]`, "(root)"},
		{`{"sidecar":`, "(root)"},
		{`{"sidecar":{"token":""}}`, "sidecar.token"},
		{`{"sidecar":{"token":1}}`, "sidecar.token"},
		{`{"sidecar":"x"}`, "sidecar"},
		{`{"sidecar":{"token":"t","timeout_ms":0}}`, "sidecar.timeout_ms"},
		{`{"sidecar":{"token":"t","timeout_ms":1.5}}`, "sidecar.timeout_ms"},
		{`{"sidecar":{"token":"t","tokn":"x"}}`, "sidecar.tokn"},
		{`{"sidecar":{"token":"t"},"sync_interval_ms":5}`, "sync_interval_ms"},
		{`{"sidecar":{"token":"t"},"session_cache":{"size":0}}`, "session_cache.size"},
		{`{"sidecar":{"token":"t"},"negative_cache_ttl_ms":-1}`, "negative_cache_ttl_ms"},
		{`{"sidecar":{"token":"t"},"failure_mode":{"quota":"maybe"}}`, "failure_mode.quota"},
		{`{"sidecar":{"token":"t"},"unmatched":"drop"}`, "unmatched"},
		{`{"sidecar":{"token":"t"},"quota_exceeded_status":404}`, "quota_exceeded_status"},
		{`{"sidecar":{"token":"t"},"rate_limit_headers":"all"}`, "rate_limit_headers"},
		{`{"sidecar":{"token":"t"},"strip_credential":"yes"}`, "strip_credential"},
		{`{"sidecar":{"token":"t"},"apis":{}}`, "apis"},
		{`{"sidecar":{"token":"t"},"apis":[{"name":"x"}]}`, "apis[0].api_id"},
		{`{"sidecar":{"token":"t"},"apis":[{"api_id":"a"},{"api_id":"a"}]}`, "apis[1].api_id"},
		{`{"sidecar":{"token":"t"},"apis":[{"api_id":1}]}`, "apis[0]"},
		{`{"sidecar":{"token":"t"},"ttl":1}`, "ttl"},
		{`{"sidecar":{"token":"t"},"analytics":{"enabled":1}}`, "analytics.enabled"},
		{`{"sidecar":{"token":"t"},"analytics":{"max_records":10001}}`, "analytics.max_records"},
		{`{"sidecar":{"token":"t"},"analytics":{"max_bytes":10}}`, "analytics.max_bytes"},
		{`{"sidecar":{"token":"t"},"analytics":{"enable":true}}`, "analytics.enable"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil {
			t.Errorf("%s: no error", tc.in)
			continue
		}
		ce, ok := err.(*Error)
		if !ok || ce.Field != tc.field {
			t.Errorf("%s: got %v, want field %q", tc.in, err, tc.field)
		}
		if !strings.HasPrefix(err.Error(), "config: "+tc.field+": ") {
			t.Errorf("%s: message %q does not name the field", tc.in, err)
		}
	}
}

func TestParseOrgAndLease(t *testing.T) {
	for _, tc := range []struct {
		in         string
		enforce    Switch
		cover, ttl int64
		units      int64
		errField   string
	}{
		{`{}`, FromSidecar, 2000, 3000, 10000, ""},
		{`{"enforce_org_quotas":true}`, On, 2000, 3000, 10000, ""},
		{`{"enforce_org_quotas":false,"quota_lease":{"cover_ms":0}}`, Off, 0, 3000, 10000, ""},
		{`{"quota_lease":{"cover_ms":500,"ttl_ms":1000,"max_units":50}}`, FromSidecar, 500, 1000, 50, ""},
		{`{"enforce_org_quotas":"yes"}`, 0, 0, 0, 0, "enforce_org_quotas"},
		{`{"quota_lease":{"ttl_ms":10}}`, 0, 0, 0, 0, "quota_lease.ttl_ms"},
		{`{"quota_lease":{"max_units":10001}}`, 0, 0, 0, 0, "quota_lease.max_units"},
		{`{"quota_lease":{"size":1}}`, 0, 0, 0, 0, "quota_lease.size"},
	} {
		in := `{"sidecar":{"token":"t"},` + tc.in[1:]
		if tc.in == `{}` {
			in = `{"sidecar":{"token":"t"}}`
		}
		c, err := Parse([]byte(in))
		if tc.errField != "" {
			var e *Error
			if !errors.As(err, &e) || e.Field != tc.errField {
				t.Errorf("%s: error %v, want one naming %s", tc.in, err, tc.errField)
			}
			continue
		}
		if err != nil || c.EnforceOrgQuotas != tc.enforce || c.LeaseCoverMS != tc.cover || c.LeaseTTLMS != tc.ttl ||
			c.LeaseMaxUnits != tc.units {
			t.Errorf("%s: got %+v, %v", tc.in, c, err)
		}
	}
}
