package wire

import (
	"reflect"
	"strings"
	"testing"
)

func TestAnalyticsBatchRoundTrip(t *testing.T) {
	full := AnalyticsRecord{Time: 1_700_000_000_123_456_789, APIID: "api1", APIName: "API \"1\"", APIVersion: "v1",
		OrgID: "org1", ListenPath: "/api1/", Method: "POST", Host: "example.com", Path: "/api1/x",
		Status: 429, Outcome: "rate_limited", KeyHash: hash, Alias: "alice", OAuthID: "client",
		Policies: []string{"p1", "p2"}, Tags: []string{"gold"}, TotalUS: 1500, UpstreamUS: 1200,
		RequestBytes: 12, ResponseBytes: 34, UserAgent: "curl/8", ClientIP: "127.0.0.1"}
	tests := []struct {
		name  string
		batch AnalyticsBatch
		body  string // "" = not checked byte for byte
	}{
		{"empty", AnalyticsBatch{VM: "vm1"}, `{"vm":"vm1","dropped":0,"records":[]}`},
		{"minimal", AnalyticsBatch{VM: "v", Dropped: 3, Records: []AnalyticsRecord{{Time: 5, Status: 401, Outcome: "missing_key", APIID: "a"}}},
			`{"vm":"v","dropped":3,"records":[{"t":5,"api_id":"a","status":401,"outcome":"missing_key"}]}`},
		{"full", AnalyticsBatch{VM: "v", Records: []AnalyticsRecord{full, {Time: 1, Outcome: "allowed", Status: 200}}}, ""},
	}
	for _, tt := range tests {
		var recs []byte
		for i := range tt.batch.Records {
			if i > 0 {
				recs = append(recs, ',')
			}
			recs = AppendAnalyticsRecord(recs, &tt.batch.Records[i])
		}
		body := AppendAnalyticsBatch(nil, tt.batch.VM, tt.batch.Dropped, recs)
		if tt.body != "" && string(body) != tt.body {
			t.Errorf("%s: encoded %s, want %s", tt.name, body, tt.body)
		}
		got, err := DecodeAnalyticsBatch(body)
		if err != nil {
			t.Fatalf("%s: %v (%s)", tt.name, err, body)
		}
		want := tt.batch
		if want.Records == nil {
			want.Records = []AnalyticsRecord{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", tt.name, got, want)
		}
	}
}

func TestDecodeAnalyticsBatch(t *testing.T) {
	tests := []struct {
		body string
		err  string // substring; "" = no error
	}{
		{`{}`, ""},
		{`{"records":null,"future":{"x":1}}`, ""},
		{`{"records":[{"t":1,"newer_field":[1,2]}]}`, ""},
		{`[]`, "not an object"},
		{`{"records":{}}`, `"records": expected an array`},
		{`{"records":[1]}`, "record 0: not an object"},
		{`{"records":[{"status":"200"}]}`, `record 0: field "status": expected an integer`},
		{`{"records":[{"policies":"p1"}]}`, `field "policies": expected an array of strings`},
		{`{"records":[{"tags":[1]}]}`, `field "tags": expected an array of strings`},
		{`{"dropped":1.5}`, `field "dropped": expected an integer`},
		{`{"records":[` + strings.Repeat(`{},`, MaxAnalyticsRecords) + `{}]}`, "more than 10000 records"},
	}
	for _, tt := range tests {
		_, err := DecodeAnalyticsBatch([]byte(tt.body))
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			name := tt.body
			if len(name) > 60 {
				name = name[:60]
			}
			t.Errorf("%s: error %v, want %q", name, err, tt.err)
		}
	}
}

// do_not_track is read from the definitions as stored, which the sidecar
// sends as they are.
func TestSnapshotUntracked(t *testing.T) {
	body := `{"version":"v","cursor":"1-0","keys":[],"snapshot":{"policies":{},"apis":[` +
		`{"api_id":"quiet","do_not_track":true,"proxy":{"listen_path":"/q/"}},` +
		`{"api_id":"loud","do_not_track":false,"proxy":{"listen_path":"/l/"}},` +
		`{"api_id":"plain","proxy":{"listen_path":"/p/"}}]}}`
	resp, err := DecodeSyncResponse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resp.Snapshot.Untracked, map[string]bool{"quiet": true}) {
		t.Fatalf("untracked %v", resp.Snapshot.Untracked)
	}
}
