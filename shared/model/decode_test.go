package model

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeFile decodes a testdata document that must decode.
func decodeFile[T any](t *testing.T, name string, decode func([]byte) (T, error)) T {
	t.Helper()
	v, err := decode(readTestdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// equal fails the test with both values encoded when got != want; the JSON
// form makes the differing field easy to spot.
func equal[T interface{ AppendJSON([]byte) []byte }](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded value differs\n got: %s\nwant: %s\n(%#v)", got.AppendJSON(nil), want.AppendJSON(nil), got)
	}
}

func itachiRights() AccessDefinition {
	return AccessDefinition{
		APIName:     "Itachi api",
		APIID:       "8ddd91f3cda9453442c477b06c4e2da4",
		Versions:    []string{"Default"},
		AllowedURLs: []AccessSpec{{URL: "/users", Methods: []string{"GET"}}},
		Limit: APILimit{Rate: 1000, Per: 60, ThrottleInterval: 10, ThrottleRetryLimit: 10,
			QuotaMax: 10000, QuotaRemaining: 10000, QuotaRenewalRate: 3600},
	}
}

func TestDecodeSessionClassic(t *testing.T) {
	itachi := itachiRights()
	itachi.RestrictedTypes = []GraphQLType{}
	itachi.AllowedTypes = []GraphQLType{}
	itachi.FieldAccessRights = []FieldAccessDefinition{}
	itachi.Limit.QuotaRenews = 1723207234
	want := &Session{
		Allowance: 1000, Rate: 1000, Per: 60, ThrottleInterval: 10, ThrottleRetryLimit: 10,
		MaxQueryDepth: -1, DateCreated: "2024-08-09T14:40:34.87614+03:00", Expires: 1712895619,
		QuotaMax: 10000, QuotaRenews: 1723207234, QuotaRemaining: 9998, QuotaRenewalRate: 3600,
		AccessRights: map[string]AccessDefinition{
			"8ddd91f3cda9453442c477b06c4e2da4": itachi,
			"b84fe1a04e5648927971c0557971565c": {
				APIName:        "Tyk Test API",
				APIID:          "b84fe1a04e5648927971c0557971565c",
				Versions:       []string{"Default", "v2"},
				AllowanceScope: "shared",
				Endpoints: []Endpoint{{Path: "/anything", Methods: []EndpointMethod{
					{Name: "POST", Limit: RateLimit{Rate: 5, Per: 1}},
				}}},
			},
		},
		OrgID:                   "5e9d9544a1dcd60001d0ed20",
		ApplyPolicies:           []string{"5ead7120575961000181867e"},
		EnableDetailedRecording: true,
		MetaData: map[string]RawValue{
			"tyk_developer_id": RawValue(`"62b3fb9a1d5e4f00017226f5"`),
			"user_type":        RawValue(`"mobile_user"`),
			"limits":           RawValue(`{"tier":2,"regions":["eu","us"],"beta":true}`),
		},
		Tags:        []string{"security", "edge", "edge-eu"},
		Alias:       "portal-key",
		LastUpdated: "1723203634",
		Smoothing:   &Smoothing{Enabled: true, Threshold: 500, Trigger: 0.8, Step: 100, Delay: 30},
	}
	equal(t, decodeFile(t, "session_classic.json", DecodeSession), want)
}

// The compact form is Tyk 5.12+'s omitzero output, here the Gateway API
// example of a key (quota_renews written as a float).
func TestDecodeSessionCompact(t *testing.T) {
	want := &Session{
		Allowance: 1000, Rate: 1000, Per: 60, ThrottleInterval: 10, ThrottleRetryLimit: 10,
		DateCreated: "2024-08-09T14:40:34.87614+03:00",
		QuotaMax:    10000, QuotaRenews: 1723207234, QuotaRenewalRate: 3600,
		AccessRights:            map[string]AccessDefinition{"itachi-api": itachiRights()},
		OrgID:                   "5e9d9544a1dcd60001d0ed20",
		ApplyPolicies:           []string{"5ead7120575961000181867e"},
		EnableDetailedRecording: true,
		MetaData: map[string]RawValue{
			"tyk_developer_id": RawValue(`"62b3fb9a1d5e4f00017226f5"`),
			"user_type":        RawValue(`"mobile_user"`),
		},
		Tags:        []string{"security", "edge", "edge-eu"},
		Alias:       "portal-key",
		LastUpdated: "1723203634",
	}
	equal(t, decodeFile(t, "session_compact.json", DecodeSession), want)
}

func TestDecodePolicy(t *testing.T) {
	smoothing := &Smoothing{Threshold: 500, Trigger: 0.8, Step: 100, Delay: 30}
	want := &Policy{
		ID: "5ead7120575961000181867e", Name: "Sample policy", OrgID: "664a14650619d40001f1f00f",
		Rate: 1000, Per: 60, QuotaMax: 10000, QuotaRenewalRate: 3600, ThrottleInterval: 10,
		ThrottleRetryLimit: 10, MaxQueryDepth: -1,
		AccessRights: map[string]AccessDefinition{"8ddd91f3cda9453442c477b06c4e2da4": {
			APIName:           "Itachi api",
			APIID:             "8ddd91f3cda9453442c477b06c4e2da4",
			Versions:          []string{"Default"},
			AllowedURLs:       []AccessSpec{{URL: "/users", Methods: []string{"GET"}}},
			RestrictedTypes:   []GraphQLType{},
			AllowedTypes:      []GraphQLType{},
			Limit:             APILimit{Smoothing: smoothing},
			FieldAccessRights: []FieldAccessDefinition{},
		}},
		Active:       true,
		Tags:         []string{"security"},
		KeyExpiresIn: 2592000, // written as 2.592e+06
		Partitions:   PolicyPartitions{Quota: true, RateLimit: true, Acl: true},
		LastUpdated:  "1716980105",
		MetaData:     map[string]RawValue{"user_type": RawValue(`"mobile_user"`)},
		Smoothing:    smoothing,
	}
	equal(t, decodeFile(t, "policy.json", DecodePolicy), want)
}

func TestDecodeAPIDefinition(t *testing.T) {
	want := &APIDefinition{
		APIID: "b84fe1a04e5648927971c0557971565c", Name: "Tyk Test API",
		OrgID: "664a14650619d40001f1f00f", Active: true, Domain: "api.example.com",
		Proxy: Proxy{ListenPath: "/tyk-api-test/", TargetURL: "https://httpbin.org", StripListenPath: true},
		// auth_configs.authToken wins over the deprecated auth.
		Auth:          AuthConfig{AuthHeaderName: "X-Api-Key", UseParam: true, ParamName: "api_key"},
		AuthConfigs:   map[string]AuthConfig{"jwt": {AuthHeaderName: "Authorization"}},
		StripAuthData: true,
		VersionData: VersionData{DefaultVersion: "v1", FallbackToDefault: true, Versions: map[string]VersionInfo{
			"v1": {Name: "v1", UseExtendedPaths: true},
			"v2": {Name: "v2", Expires: "2030-01-02 15:04"},
		}},
		VersionDefinition: VersionDefinition{Location: "header", Key: "x-api-version"},
		SessionLifetime:   3600,
		GlobalRateLimit:   GlobalRateLimit{Rate: 100, Per: 1},
	}
	equal(t, decodeFile(t, "apidef.json", DecodeAPIDefinition), want)
}

func TestDecodeAPIDefinitionAuthSource(t *testing.T) {
	tests := []struct {
		name, in string
		want     AuthConfig
	}{
		{"legacy auth only", `{"auth":{"auth_header_name":"X-Key","use_cookie":true,"cookie_name":"k"}}`,
			AuthConfig{AuthHeaderName: "X-Key", UseCookie: true, CookieName: "k"}},
		{"authToken after auth", `{"auth":{"auth_header_name":"A"},"auth_configs":{"authToken":{"auth_header_name":"B"}}}`,
			AuthConfig{AuthHeaderName: "B"}},
		{"authToken before auth", `{"auth_configs":{"authToken":{"auth_header_name":"B"}},"auth":{"auth_header_name":"A"}}`,
			AuthConfig{AuthHeaderName: "B"}},
		{"null authToken falls back", `{"auth_configs":{"authToken":null},"auth":{"auth_header_name":"A"}}`,
			AuthConfig{AuthHeaderName: "A"}},
		{"other auth configs ignored", `{"auth_configs":{"jwt":{"auth_header_name":"J"}},"auth":{"disable_header":true,"use_certificate":false}}`,
			AuthConfig{DisableHeader: true}},
		{"neither", `{}`, AuthConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeAPIDefinition([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if a.Auth != tt.want {
				t.Errorf("Auth = %+v, want %+v", a.Auth, tt.want)
			}
		})
	}
}

func TestDecodeAPIDefinitionFallbackToDefault(t *testing.T) {
	for in, want := range map[string]bool{
		`{"definition":{"fallback_to_default":true}}`:                                               true,
		`{"version_data":{"fallback_to_default":true}}`:                                             true,
		`{"definition":{"fallback_to_default":false},"version_data":{"fallback_to_default":false}}`: false,
		`{}`: false,
	} {
		a, err := DecodeAPIDefinition([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if a.VersionData.FallbackToDefault != want {
			t.Errorf("%s: FallbackToDefault = %v, want %v", in, a.VersionData.FallbackToDefault, want)
		}
	}
}

// decodeAny runs the decoder named by kind, for tables that cover all of them.
func decodeAny(kind, in string) (any, error) {
	switch kind {
	case "session":
		return DecodeSession([]byte(in))
	case "policy":
		return DecodePolicy([]byte(in))
	case "policies":
		return DecodePolicies([]byte(in))
	case "apidef":
		return DecodeAPIDefinition([]byte(in))
	}
	panic("unknown kind " + kind)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		kind, in string
		field    string // FieldError.Field; "-" for a syntax error
		msg      string
	}{
		{"session", `{"access_rights":{"a":{"limit":{"rate":"10"}}}}`, "access_rights.a.limit.rate", "expected a number, got string"},
		{"session", `{"access_rights":{"a":{"allowed_urls":[{"url":"/x","methods":["GET",7]}]}}}`, "access_rights.a.allowed_urls[0].methods[1]", "expected a string, got number"},
		{"session", `{"access_rights":{"a":{"endpoints":[{"methods":[{"limit":{"per":true}}]}]}}}`, "access_rights.a.endpoints[0].methods[0].limit.per", "expected a number, got boolean"},
		{"session", `{"access_rights":{"a":{"field_access_rights":[{"limits":{"max_query_depth":1.5}}]}}}`, "access_rights.a.field_access_rights[0].limits.max_query_depth", "expected an integer, got 1.5"},
		{"session", `{"access_rights":[]}`, "access_rights", "expected an object, got array"},
		{"session", `{"access_rights":{"a":"b"}}`, "access_rights.a", "expected an object, got string"},
		{"session", `{"quota_max":12.5}`, "quota_max", "expected an integer, got 12.5"},
		{"session", `{"quota_max":1e19}`, "quota_max", "number 1e19 is out of range for an integer"},
		{"session", `{"expires":9223372036854775808}`, "expires", "number 9223372036854775808 is out of range for an integer"},
		{"session", `{"rate":1e999}`, "rate", "number 1e999 is out of range"},
		{"session", `{"is_inactive":"true"}`, "is_inactive", "expected a boolean, got string"},
		{"session", `{"tags":"a"}`, "tags", "expected an array, got string"},
		{"session", `{"meta_data":{"x":[1,{"y":1e999}]}}`, "", ""}, // raw values keep any valid number
		{"session", `{"smoothing":{"threshold":"5"}}`, "smoothing.threshold", "expected an integer, got string"},
		{"session", `{"monitor":{"trigger_limits":[80,"90"]}}`, "monitor.trigger_limits[1]", "expected a number, got string"},
		{"session", `{"basic_auth_data":[]}`, "basic_auth_data", "expected an object, got array"},
		{"session", `{"date_created":0}`, "date_created", "expected a string, got number"},
		{"session", `{"last_updated":1.5}`, "last_updated", "expected an integer, got 1.5"},
		{"session", `{"oauth_keys":{"c":1}}`, "oauth_keys.c", "expected a string, got number"},
		{"session", `[]`, "", "expected an object, got array"},
		{"session", `{"rate":NaN}`, "-", ""},
		{"session", `{"rate":01}`, "-", ""},
		{"session", `{"a":"\x"}`, "-", ""},
		{"session", `{"rate":1`, "-", ""},
		{"session", ``, "-", ""},
		{"policy", `{"_id":"asd"}`, "_id", `expected "" or 24 hex digits, got "asd"`},
		{"policy", `{"_id":5}`, "_id", "expected a string, got number"},
		{"policy", `{"partitions":{"per_api":1}}`, "partitions.per_api", "expected a boolean, got number"},
		{"policy", `{"access_rights":{"a":{"versions":[["v1"]]}}}`, "access_rights.a.versions[0]", "expected a string, got array"},
		{"policies", `{"p1":{"rate":"x"}}`, "p1.rate", "expected a number, got string"},
		{"policies", `[{"id":"a"},{"id":"b","per":[]}]`, "[1].per", "expected a number, got array"},
		{"policies", `[{"id":"a"},{"id":"a"}]`, "[1]", `duplicate policy id "a"`},
		{"policies", `[{"id":"5ead7120575961000181867e"},{"_id":"5ead7120575961000181867e"}]`, "[1]", `duplicate policy id "5ead7120575961000181867e"`},
		{"policies", `{"a":{},"a":{}}`, "a", `duplicate policy id "a"`},
		{"policies", `[{"name":"no id"}]`, "[0]", "policy has neither id nor _id"},
		{"policies", `[null]`, "[0]", "policy has neither id nor _id"},
		{"policies", `"x"`, "", "expected an object or an array, got string"},
		{"apidef", `{"proxy":{"strip_listen_path":"yes"}}`, "proxy.strip_listen_path", "expected a boolean, got string"},
		{"apidef", `{"auth_configs":{"authToken":{"use_param":1}}}`, "auth_configs.authToken.use_param", "expected a boolean, got number"},
		{"apidef", `{"version_data":{"versions":{"v1":{"expires":1}}}}`, "version_data.versions.v1.expires", "expected a string, got number"},
		{"apidef", `{"global_rate_limit":{"rate":"1"}}`, "global_rate_limit.rate", "expected a number, got string"},
		{"apidef", `{"session_lifetime":60.5}`, "session_lifetime", "expected an integer, got 60.5"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.in, func(t *testing.T) {
			_, err := decodeAny(tt.kind, tt.in)
			var fe *FieldError
			switch {
			case tt.field == "" && tt.msg == "":
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			case tt.field == "-":
				if err == nil || errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "invalid JSON: ") {
					t.Fatalf("want a JSON syntax error, got %v", err)
				}
			case !errors.As(err, &fe):
				t.Fatalf("want a *FieldError, got %v", err)
			case fe.Field != tt.field || fe.Msg != tt.msg:
				t.Fatalf("got field %q msg %q, want field %q msg %q", fe.Field, fe.Msg, tt.field, tt.msg)
			}
		})
	}
}

func TestFieldErrorString(t *testing.T) {
	_, err := DecodeSession([]byte(`{"access_rights":{"a":{"limit":{"rate":"10"}}}}`))
	if got, want := err.Error(), `field "access_rights.a.limit.rate": expected a number, got string`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = DecodeSession([]byte(`true`))
	if got, want := err.Error(), `top-level value: expected an object, got boolean`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDecodeLenientValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Session
	}{
		{"empty object", `{}`, &Session{}},
		{"null document", `null`, &Session{}},
		{"null fields", `{"rate":null,"quota_max":null,"org_id":null,"is_inactive":null,"access_rights":null,` +
			`"tags":null,"meta_data":null,"smoothing":null,"basic_auth_data":null,"monitor":null}`, &Session{}},
		{"null limit and elements", `{"access_rights":{"a":{"limit":null,"versions":[null,"v1"]}}}`,
			&Session{AccessRights: map[string]AccessDefinition{"a": {Versions: []string{"", "v1"}}}}},
		{"integral floats", `{"quota_max":1e3,"expires":1.712895619e+09,"throttle_retry_limit":10.0,"quota_renewal_rate":-3600.000}`,
			&Session{QuotaMax: 1000, Expires: 1712895619, ThrottleRetryLimit: 10, QuotaRenewalRate: -3600}},
		{"exact big integer", `{"quota_max":9007199254740993}`, &Session{QuotaMax: 9007199254740993}},
		{"last_updated as number", `{"last_updated":1723203634}`, &Session{LastUpdated: "1723203634"}},
		{"last_updated as float", `{"last_updated":1.723203634e9}`, &Session{LastUpdated: "1723203634"}},
		{"zero date is empty", `{"date_created":"0001-01-01T00:00:00Z"}`, &Session{}},
		{"unknown fields", `{"mtls_static_certificate_bindings":["x"],"post_expiry_action":"retain","rate":5,` +
			`"access_rights":{"a":{"mcp_primitives":{"x":1},"api_id":"a"}}}`,
			&Session{Rate: 5, AccessRights: map[string]AccessDefinition{"a": {APIID: "a"}}}},
		{"last duplicate wins", `{"rate":1,"rate":2,"tags":["a"],"tags":null}`, &Session{Rate: 2}},
		{"empty endpoints", `{"access_rights":{"a":{"endpoints":[]}}}`,
			&Session{AccessRights: map[string]AccessDefinition{"a": {}}}},
		{"invalid UTF-8", "{\"alias\":\"a\xffb\",\"meta_data\":{\"k\xfe\":\"\xfd\"}}",
			&Session{Alias: "a\uFFFDb", MetaData: map[string]RawValue{"k\uFFFD": RawValue("\"\uFFFD\"")}}},
		{"escapes", `{"alias":"\u00e9\n\"\\\/","meta_data":{"h":"<a&b>"}}`,
			&Session{Alias: "é\n\"\\/", MetaData: map[string]RawValue{"h": RawValue(`"\u003ca\u0026b\u003e"`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSession([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			equal(t, got, tt.want)
		})
	}
}

func TestDecodePolicies(t *testing.T) {
	const mid = "5ead7120575961000181867e"
	tests := []struct {
		name, in string
		want     map[string]*Policy
	}{
		{"object: key overrides inner id", `{"p1":{"id":"other","rate":5},"p2":{"per":1}}`,
			map[string]*Policy{"p1": {ID: "p1", Rate: 5}, "p2": {ID: "p2", Per: 1}}},
		{"array keyed by id", `[{"id":"p1","_id":"` + mid + `"},{"id":"p2"}]`,
			map[string]*Policy{"p1": {ID: "p1", MID: mid}, "p2": {ID: "p2"}}},
		{"array: _id stands in for a missing id", `[{"_id":"5EAD7120575961000181867E","name":"dash"}]`,
			map[string]*Policy{mid: {ID: mid, MID: mid, Name: "dash"}}},
		{"empty object", `{}`, map[string]*Policy{}},
		{"empty array", `[]`, map[string]*Policy{}},
		{"null", `null`, map[string]*Policy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePolicies([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromValue(t *testing.T) {
	// A payload that embeds a session and a policy, as the sidecar's own
	// messages do; error paths are relative to the embedded value.
	v := fastjson.MustParse(`{"session":{"rate":5,"tags":["a"]},"policy":{"id":"p","rate":"x"},"api":{"api_id":"a"}}`)
	s, err := SessionFromValue(v.Get("session"))
	if err != nil || s.Rate != 5 || len(s.Tags) != 1 {
		t.Errorf("SessionFromValue = %+v, %v", s, err)
	}
	var fe *FieldError
	if _, err := PolicyFromValue(v.Get("policy")); !errors.As(err, &fe) || fe.Field != "rate" {
		t.Errorf("PolicyFromValue error = %v, want a FieldError on rate", err)
	}
	if a, err := APIDefinitionFromValue(v.Get("api")); err != nil || a.APIID != "a" {
		t.Errorf("APIDefinitionFromValue = %+v, %v", a, err)
	}
	// A missing member is nil, which decodes like null.
	if s, err := SessionFromValue(v.Get("missing")); err != nil || !reflect.DeepEqual(s, &Session{}) {
		t.Errorf("SessionFromValue(nil) = %+v, %v", s, err)
	}
	// fastjson parses NaN as a number; *FromValue must still reject it.
	nan := fastjson.MustParse(`{"rate":NaN,"meta_data":{"x":nan}}`)
	if _, err := SessionFromValue(nan); !errors.As(err, &fe) || fe.Field != "rate" || fe.Msg != `invalid number "NaN"` {
		t.Errorf("SessionFromValue(NaN) error = %v", err)
	}
}

func BenchmarkDecodeSession(b *testing.B) {
	data := readTestdata(b, "session_classic.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSession(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSessionJSON(b *testing.B) {
	s, err := DecodeSession(readTestdata(b, "session_classic.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = s.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
