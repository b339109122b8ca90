package plugin

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

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

func TestCompactSession(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"classic form", classicSession, `{"rate":1000,"per":1,"date_created":"0001-01-01T00:00:00Z","quota_max":-1,` +
			`"access_rights":{"api1":{"api_name":"API 1","api_id":"api1","versions":["Default"]}},"org_id":"org1"}`},
		// Map values are data: a zero there is an entry, not a default.
		{"maps kept whole", `{"meta_data":{"a":0,"b":null,"c":""},"oauth_keys":{"k":""},"access_rights":{"":{}}}`,
			`{"meta_data":{"a":0,"b":null,"c":""},"oauth_keys":{"k":""},"access_rights":{"":{}}}`},
		// With a duplicate the last member wins, so none is dropped.
		{"duplicates kept", `{"rate":5,"rate":0,"per":0}`, `{"rate":5,"rate":0,"per":0}`},
		// A pointer (smoothing) or slice present but empty is not absent.
		{"empty pointers and slices kept", `{"smoothing":{},"tags":[],"apply_policies":[""]}`,
			`{"smoothing":{},"tags":[],"apply_policies":[""]}`},
		{"non-literal zeros kept", `{"rate":0.0,"per":-0,"expires":0e1}`, `{"rate":0.0,"per":-0,"expires":0e1}`},
		{"escapes", `{"alias":"a\"b\u00e9\n","org_id":"\u0000"}`, `{"alias":"a\"bé\n","org_id":"\u0000"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := compactSession([]byte(tc.in))
			if string(got) != tc.want {
				t.Errorf("compact =\n%s\nwant\n%s", got, tc.want)
			}
			requireSameSession(t, []byte(tc.in), got)
		})
	}
	if n := len(compactSession([]byte(classicSession))); n*4 > len(classicSession) {
		t.Errorf("the classic session compacts to %d of %d bytes", n, len(classicSession))
	}
}

func requireSameSession(t *testing.T, in, compacted []byte) {
	t.Helper()
	want, err := model.DecodeSession(in)
	if err != nil {
		t.Fatalf("input does not decode: %v", err)
	}
	got, err := model.DecodeSession(compacted)
	if err != nil {
		t.Fatalf("compacted %s does not decode: %v", compacted, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("compacted %s decodes to\n%+v\nnot\n%+v", compacted, got, want)
	}
}

// FuzzCompactSession: whatever session DecodeSession accepts, its compact
// form decodes to the same session.
func FuzzCompactSession(f *testing.F) {
	f.Add([]byte(classicSession))
	for _, name := range []string{"session_classic.json", "session_compact.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "model", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"rate":5,"rate":0,"meta_data":{"x":false},"access_rights":{"a":{"limit":{"rate":0},"endpoints":[]}}}`))
	f.Add([]byte(`{"smoothing":{"enabled":false},"limit":{},"monitor":{"trigger_limits":[0]},"tags":["",""]}`))
	f.Add([]byte(`{"date_created":"","last_updated":0,"quota_max":1e2,"alias":"\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := model.DecodeSession(data); err != nil {
			return
		}
		requireSameSession(t, data, compactSession(data))
	})
}
