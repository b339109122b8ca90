package model

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// appendAccessDefinition appends one access right in the classic form
// (used by TestEncodeZeroValues).
func appendAccessDefinition(dst []byte, a AccessDefinition) []byte {
	o := accessDefinition(beginObject(dst, classic), a)
	return o.end()
}

// classicSession is what the sidecar returns for a key with one API: every
// field present.
const classicSession = `{"last_check":0,"allowance":0,"rate":1000,"per":1,"throttle_interval":0,"throttle_retry_limit":0,` +
	`"max_query_depth":0,"date_created":"0001-01-01T00:00:00Z","expires":0,"quota_max":-1,"quota_renews":0,` +
	`"quota_remaining":0,"quota_renewal_rate":0,"access_rights":{"api1":{"api_name":"API 1","api_id":"api1",` +
	`"versions":["Default"],"allowed_urls":null,"restricted_types":null,"allowed_types":null,"limit":{"rate":0,` +
	`"per":0,"smoothing":null,"throttle_interval":0,"throttle_retry_limit":0,"max_query_depth":0,"quota_max":0,` +
	`"quota_renews":0,"quota_remaining":0,"quota_renewal_rate":0},"field_access_rights":null,` +
	`"disable_introspection":false,"allowance_scope":""}},"org_id":"org1","oauth_client_id":"","oauth_keys":null,` +
	`"certificate":"","basic_auth_data":{"password":"","hash_type":""},"jwt_data":{"secret":""},"hmac_enabled":false,` +
	`"enable_http_signature_validation":false,"hmac_string":"","rsa_certificate_id":"","is_inactive":false,` +
	`"apply_policy_id":"","apply_policies":null,"data_expires":0,"monitor":{"trigger_limits":null},` +
	`"enable_detail_recording":false,"enable_detailed_recording":false,"meta_data":null,"tags":null,"alias":"",` +
	`"last_updated":"","id_extractor_deadline":0,"session_lifetime":0,"smoothing":null}`

func TestAppendCompactJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"classic form", classicSession, `{"rate":1000,"per":1,"quota_max":-1,"access_rights":{"api1":` +
			`{"api_name":"API 1","api_id":"api1","versions":["Default"]}},"org_id":"org1"}`},
		{"zero session", `{}`, `{}`},
		// Map values are data: a zero there is an entry, not a default.
		{"maps kept whole", `{"meta_data":{"a":0,"b":null,"c":""},"oauth_keys":{"k":""},"access_rights":{"":{}}}`,
			`{"access_rights":{"":{}},"oauth_keys":{"k":""},"meta_data":{"a":0,"b":null,"c":""}}`},
		// Decoded, a present smoothing is a pointer and an empty array a
		// non-nil slice: neither is the zero value.
		{"empty pointers and slices kept", `{"smoothing":{},"tags":[],"apply_policies":[""],"oauth_keys":{}}`,
			`{"oauth_keys":{},"apply_policies":[""],"tags":[],"smoothing":{}}`},
		{"value structs left out when zero",
			`{"basic_auth_data":{"password":"","hash_type":""},"jwt_data":{"secret":"s"},"monitor":{"trigger_limits":[]}}`,
			`{"jwt_data":{"secret":"s"},"monitor":{"trigger_limits":[]}}`},
		{"limits", `{"access_rights":{"a":{"limit":{"rate":0,"smoothing":null}},"b":{"limit":{"smoothing":{}}},` +
			`"c":{"limit":{"quota_max":-1}},"d":{"limit":null}}}`,
			`{"access_rights":{"a":{},"b":{"limit":{"smoothing":{}}},"c":{"limit":{"quota_max":-1}},"d":{}}}`},
		// Array elements are positions: a zero element stays as {}.
		{"zero elements kept", `{"access_rights":{"a":{"allowed_urls":[{"url":"","methods":null}],` +
			`"field_access_rights":[{"limits":{"max_query_depth":0}}],` +
			`"endpoints":[{"methods":[{"name":"GET","limit":{"rate":0,"per":0}}]}]}}}`,
			`{"access_rights":{"a":{"allowed_urls":[{}],"field_access_rights":[{}],"endpoints":[{"methods":[{"name":"GET"}]}]}}}`},
		{"empty endpoints left out", `{"access_rights":{"a":{"endpoints":[]}}}`, `{"access_rights":{"a":{}}}`},
		// The last of duplicated members wins, in the input and so here.
		{"duplicates", `{"rate":5,"rate":0,"per":0,"per":2}`, `{"per":2}`},
		// -0 decodes as -0, which a missing member would not give.
		{"zeros by value", `{"rate":-0,"per":0.0,"expires":0e1,"quota_max":-0}`, `{"rate":-0}`},
		{"dates", `{"date_created":"0001-01-01T00:00:00Z"}`, `{}`},
		{"date kept", `{"date_created":"2024-08-09T14:40:34.87614+03:00"}`,
			`{"date_created":"2024-08-09T14:40:34.87614+03:00"}`},
		// Found by fuzzing the filter's former JSON-level compaction:
		// last_updated written as the number 0 decodes as "0", not as "".
		{"last_updated number zero", `{"last_updated":0}`, `{"last_updated":"0"}`},
		// Also found by fuzzing: a NUL must come out as \u0000, valid JSON
		// (Go's %q style \x00 is not).
		{"escapes", `{"alias":"a\"b\u00e9\n<","org_id":"\u0000","meta_data":{"\u0000":"\u0000"}}`,
			`{"org_id":"\u0000","meta_data":{"\u0000":"\u0000"},"alias":"a\"bé\n\u003c"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSession([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := s.AppendCompactJSON(nil)
			if string(got) != tc.want {
				t.Errorf("compact =\n%s\nwant\n%s", got, tc.want)
			}
			checkCompact(t, s)
		})
	}
}

// checkCompact asserts the compact form's contract for s: valid JSON,
// decoding to s exactly (-0 included, which DeepEqual does not tell from 0),
// no longer than the classic form, and stable.
func checkCompact(t *testing.T, s *Session) {
	t.Helper()
	c := s.AppendCompactJSON(nil)
	if !json.Valid(c) {
		t.Fatalf("compact form is not valid JSON: %q", c)
	}
	back, err := DecodeSession(c)
	if err != nil {
		t.Fatalf("compact form %s does not decode: %v", c, err)
	}
	if !reflect.DeepEqual(back, s) || !bytes.Equal(back.AppendJSON(nil), s.AppendJSON(nil)) {
		t.Fatalf("compact form %s decodes to\n%s\nnot\n%s", c, back.AppendJSON(nil), s.AppendJSON(nil))
	}
	if classic := s.AppendJSON(nil); len(c) > len(classic) {
		t.Fatalf("compact form (%d bytes) longer than the classic form (%d)", len(c), len(classic))
	}
	if again := back.AppendCompactJSON(nil); !bytes.Equal(again, c) {
		t.Fatalf("compact form not stable\n%s\n%s", c, again)
	}
}

// The compact form is for the caches: a key with one API shrinks to a
// fraction of its classic size.
func TestCompactSize(t *testing.T) {
	tests := []struct {
		name       string
		in         []byte
		maxPercent int // of the classic size
	}{
		{"one API, nothing else set", []byte(classicSession), 25},
		// Most fields set, and set fields stay: about 63%.
		{"portal key", readTestdata(t, "session_classic.json"), 70},
	}
	for _, tc := range tests {
		s, err := DecodeSession(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		classic, compact := len(s.AppendJSON(nil)), len(s.AppendCompactJSON(nil))
		if compact*100 > classic*tc.maxPercent {
			t.Errorf("%s: compact %d bytes, classic %d: more than %d%%", tc.name, compact, classic, tc.maxPercent)
		}
	}
}

// Full values, zero values and real documents keep their value through the
// compact form, and Tyk's own structs read it (with encoding/json, which
// also leaves missing members zero) as the classic form says.
func TestCompactMatchesTyk(t *testing.T) {
	inputs := []*Session{fullSession(), {}}
	for _, f := range []string{"session_classic.json", "session_compact.json"} {
		s, err := DecodeSession(readTestdata(t, f))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, s)
	}
	for i, s := range inputs {
		checkCompact(t, s)
		var mirror tykSession
		if err := json.Unmarshal(s.AppendCompactJSON(nil), &mirror); err != nil {
			t.Fatalf("#%d: encoding/json rejects the compact form: %v", i, err)
		}
		theirs, _ := json.Marshal(&mirror)
		if ours := s.AppendJSON(nil); !bytes.Equal(ours, theirs) {
			t.Errorf("#%d: Tyk's structs read the compact form as\n%s\nnot\n%s", i, theirs, ours)
		}
	}
}

// FuzzAppendCompactJSON: whatever session DecodeSession produces, its
// compact form decodes to the same session (checkCompact).
func FuzzAppendCompactJSON(f *testing.F) {
	addSeeds(f, "session_classic.json", "session_compact.json")
	f.Add(fullSession().AppendJSON(nil))
	f.Add([]byte(classicSession))
	f.Add([]byte(`{"rate":5,"rate":0,"meta_data":{"x":false},"access_rights":{"a":{"limit":{"rate":0},"endpoints":[]}}}`))
	f.Add([]byte(`{"smoothing":{"enabled":false},"limit":{},"monitor":{"trigger_limits":[0]},"tags":["",""]}`))
	f.Add([]byte(`{"date_created":"","last_updated":0,"quota_max":1e2,"alias":"\ud800","org_id":"\u0000"}`))
	f.Add([]byte(`{"rate":-0,"monitor":{"trigger_limits":[-0]},"access_rights":{"a":{"limit":{"per":-0.0}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSession(data)
		if err != nil {
			return
		}
		checkCompact(t, s)
	})
}

func BenchmarkAppendSessionCompactJSON(b *testing.B) {
	s, err := DecodeSession(readTestdata(b, "session_classic.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = s.AppendCompactJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
