package wire

import (
	"strings"
	"testing"
)

const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestQuotaRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  QuotaRequest
		body string
	}{
		// Byte for byte the body today's filter builds in reserveQuota.
		{"key", QuotaRequest{KeyHash: hash, QuotaMax: 100, QuotaRenewalRate: 3600, Units: 1},
			`{"key_hash":"` + hash + `","scope":"","quota_max":100,"quota_renewal_rate":3600,"units":1}`},
		{"scoped key", QuotaRequest{KeyHash: hash, Scope: "api<1>", QuotaMax: -1, Units: 3},
			`{"key_hash":"` + hash + `","scope":"api\u003c1\u003e","quota_max":-1,"quota_renewal_rate":0,"units":3}`},
		{"org", QuotaRequest{OrgID: "org1", QuotaMax: 9, QuotaRenewalRate: 60, Units: 10000},
			`{"org_id":"org1","quota_max":9,"quota_renewal_rate":60,"units":10000}`},
		// Invalid requests encode faithfully too: Validate is the sidecar's.
		{"none", QuotaRequest{}, `{"quota_max":0,"quota_renewal_rate":0,"units":0}`},
		{"both", QuotaRequest{KeyHash: "k", OrgID: "o", Scope: "s", QuotaMax: -9223372036854775808, Units: 9223372036854775807},
			`{"key_hash":"k","org_id":"o","scope":"s","quota_max":-9223372036854775808,"quota_renewal_rate":0,"units":9223372036854775807}`},
		{"org with scope", QuotaRequest{OrgID: "o", Scope: "s"}, `{"org_id":"o","scope":"s","quota_max":0,"quota_renewal_rate":0,"units":0}`},
		// Leases and releases add fields; without them the bytes are v1's.
		{"lease", QuotaRequest{KeyHash: hash, QuotaMax: 100, QuotaRenewalRate: 60, Units: 40, Lease: true},
			`{"key_hash":"` + hash + `","scope":"","quota_max":100,"quota_renewal_rate":60,"units":40,"lease":true}`},
		{"release", QuotaRequest{OrgID: "o", Units: 7, WindowID: 1764000000},
			`{"org_id":"o","quota_max":0,"quota_renewal_rate":0,"units":7,"window_id":1764000000}`},
	}
	for _, tt := range tests {
		body := AppendQuotaRequest(nil, tt.req)
		if string(body) != tt.body {
			t.Errorf("%s: encoded %s, want %s", tt.name, body, tt.body)
		}
		got, err := DecodeQuotaRequest(body)
		if err != nil || got != tt.req {
			t.Errorf("%s: decoded %+v, %v; want %+v", tt.name, got, err, tt.req)
		}
	}
}

func TestDecodeQuotaRequest(t *testing.T) {
	tests := []struct {
		body string
		want QuotaRequest
		err  string // substring; "" = no error
	}{
		// What the sidecar's tests and operators send.
		{`{"key_hash":"h","units":1}`, QuotaRequest{KeyHash: "h", Units: 1}, ""},
		{` {"units":2, "units":3, "scope":null} `, QuotaRequest{Units: 3}, ""},
		{`{"org_id":"o\u00e9","quota_max":5}`, QuotaRequest{OrgID: "oé", QuotaMax: 5}, ""},
		{"{\"scope\":\"a\xffb\"}", QuotaRequest{Scope: "a\uFFFDb"}, ""},
		{`{"key_hash":`, QuotaRequest{}, "invalid JSON"},
		{`{"units":1}x`, QuotaRequest{}, "invalid JSON"},
		{`{"units":01}`, QuotaRequest{}, "invalid JSON"},
		{`{"units":NaN}`, QuotaRequest{}, "invalid JSON"},
		{`[]`, QuotaRequest{}, "not an object"},
		{`null`, QuotaRequest{}, "not an object"},
		{`{"key_hash":"h","units":1,"bogus":1}`, QuotaRequest{}, `unknown field "bogus"`},
		{`{"Units":1}`, QuotaRequest{}, `unknown field "Units"`},
		{`{"units":1.5}`, QuotaRequest{}, `field "units": expected an integer`},
		{`{"units":1e3}`, QuotaRequest{}, `field "units": expected an integer`},
		{`{"units":"1"}`, QuotaRequest{}, `field "units": expected an integer`},
		{`{"quota_max":9223372036854775808}`, QuotaRequest{}, `field "quota_max": expected an integer`},
		{`{"key_hash":1}`, QuotaRequest{}, `field "key_hash": expected a string`},
	}
	for _, tt := range tests {
		got, err := DecodeQuotaRequest([]byte(tt.body))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.body, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.body, err, tt.err)
		case got != tt.want:
			t.Errorf("%s: %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestQuotaRequestValidate(t *testing.T) {
	tests := []struct {
		req QuotaRequest
		err string
	}{
		{QuotaRequest{KeyHash: hash, Scope: "s", Units: 1}, ""},
		{QuotaRequest{OrgID: "o", Units: MaxQuotaUnits}, ""},
		{QuotaRequest{Units: 1}, "exactly one of key_hash and org_id is required"},
		{QuotaRequest{KeyHash: hash, OrgID: "o", Units: 1}, "exactly one of key_hash and org_id is required"},
		{QuotaRequest{KeyHash: strings.ToUpper(hash), Units: 1}, "key_hash must be 64 lower-case hex digits"},
		{QuotaRequest{OrgID: "o", Scope: "s", Units: 1}, "scope applies to key quotas only"},
		{QuotaRequest{KeyHash: hash}, "units must be between 1 and 10000"},
		{QuotaRequest{KeyHash: hash, Units: MaxQuotaUnits + 1}, "units must be between 1 and 10000"},
	}
	for _, tt := range tests {
		err := tt.req.Validate()
		if (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("%+v: %v, want %q", tt.req, err, tt.err)
		}
	}
}

func TestQuotaResponseRoundTrip(t *testing.T) {
	tests := []struct {
		resp QuotaResponse
		body string
	}{
		// Today's sidecar answers, byte for byte.
		{QuotaResponse{Granted: 1, Remaining: 99, Reset: 1764000000, QuotaMax: 100}, `{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`},
		{QuotaResponse{Granted: 3, Remaining: -1, QuotaMax: -1}, `{"granted":3,"remaining":-1,"reset":0,"quota_max":-1}`},
		{QuotaResponse{Granted: 2, QuotaMax: 2}, `{"granted":2,"remaining":0,"reset":0,"quota_max":2}`},
		{QuotaResponse{}, `{"granted":0,"remaining":0,"reset":0,"quota_max":0}`},
	}
	for _, tt := range tests {
		body := AppendQuotaResponse(nil, tt.resp)
		if string(body) != tt.body {
			t.Errorf("encoded %s, want %s", body, tt.body)
		}
		got, err := DecodeQuotaResponse(body)
		if err != nil || got != tt.resp {
			t.Errorf("%s: decoded %+v, %v", body, got, err)
		}
	}
}

func TestDecodeQuotaResponse(t *testing.T) {
	tests := []struct {
		body string
		want QuotaResponse
		ok   bool
	}{
		// A newer sidecar may add fields, and leave out all but granted.
		{`{"granted":1,"lease":{"units":10},"remaining":5}`, QuotaResponse{Granted: 1, Remaining: 5}, true},
		{`{"granted":null}`, QuotaResponse{}, true},
		{`{"remaining":5}`, QuotaResponse{}, false},
		{`{"granted":"1"}`, QuotaResponse{}, false},
		{`{"granted":1,"reset":1.5}`, QuotaResponse{}, false},
		{`{"error":"storage unavailable"}`, QuotaResponse{}, false},
		{`[1]`, QuotaResponse{}, false},
		{``, QuotaResponse{}, false},
	}
	for _, tt := range tests {
		got, err := DecodeQuotaResponse([]byte(tt.body))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: %+v, %v", tt.body, got, err)
		}
	}
}

// The filter makes one quota call per request that has a quota: encoding
// into a reused buffer and decoding the answer (pooled parser) allocate
// nothing.
func TestQuotaAllocations(t *testing.T) {
	req := QuotaRequest{KeyHash: hash, Scope: "gold", QuotaMax: 1000, QuotaRenewalRate: 3600, Units: 1}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendQuotaRequest(buf[:0], req) }); n != 0 {
		t.Errorf("AppendQuotaRequest: %v allocations", n)
	}
	body := []byte(`{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeQuotaResponse(body) }); n > 0 {
		t.Errorf("DecodeQuotaResponse: %v allocations", n)
	}
}

// BenchmarkQuotaCall is the filter's share of a quota call: the request
// body into a reused buffer, and the answer decoded.
func BenchmarkQuotaCall(b *testing.B) {
	req := QuotaRequest{KeyHash: hash, Scope: "gold", QuotaMax: 1000, QuotaRenewalRate: 3600, Units: 1}
	answer := []byte(`{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendQuotaRequest(buf[:0], req)
		if _, err := DecodeQuotaResponse(answer); err != nil {
			b.Fatal(err)
		}
	}
}

func TestQuotaLeaseFields(t *testing.T) {
	plain := AppendQuotaResponse(nil, QuotaResponse{Granted: 1, Remaining: 9, Reset: 5, QuotaMax: 10})
	if string(plain) != `{"granted":1,"remaining":9,"reset":5,"quota_max":10}` {
		t.Errorf("a reservation's answer changed: %s", plain)
	}
	lease := QuotaResponse{Granted: 8, Remaining: 2, Reset: 5, QuotaMax: 10, WindowID: 5, WindowMS: 59500}
	body := AppendQuotaResponse(nil, lease)
	if got, err := DecodeQuotaResponse(body); err != nil || got != lease {
		t.Errorf("lease answer %s decoded as %+v, %v", body, got, err)
	}
	if _, err := DecodeQuotaRequest([]byte(`{"lease":1}`)); err == nil || !strings.Contains(err.Error(), "expected a boolean") {
		t.Errorf("a non-boolean lease: %v", err)
	}
	for _, c := range []struct {
		req QuotaRequest
		err string
	}{
		{QuotaRequest{OrgID: "o", Units: 3, WindowID: 9}, ""},
		{QuotaRequest{OrgID: "o", Units: 3}, "window_id is required"},
		{QuotaRequest{OrgID: "o", Units: 0, WindowID: 9}, "units must be"},
		{QuotaRequest{Units: 1, WindowID: 9}, "exactly one"},
	} {
		err := c.req.ValidateRelease()
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ValidateRelease(%+v) = %v, want %q", c.req, err, c.err)
		}
	}
	if n, err := DecodeReleaseResponse(AppendReleaseResponse(nil, 7)); n != 7 || err != nil {
		t.Errorf("release answer: %d, %v", n, err)
	}
	if _, err := DecodeReleaseResponse([]byte(`{}`)); err == nil {
		t.Error("a release answer without released decoded")
	}
}
