package model

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "\b\f\n\r\t\x00\x1f\x7f",
		"<script>&amp;</script>", "é ü 日本 🎉", "\u2028 \u2029", "bad \xff\xfe utf8 \xe2\x82",
		"\ufffd", "ends with \xc3",
	} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.8, 1000, 60, 1e20, 1e21, 123456789e15, 1e-6, 1e-7, 9.99e-7,
		1.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.7232072340000002e+09, -2.5e-10,
	} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendFloat(nil, f)); got != "0" {
			t.Errorf("appendFloat(%v) = %s, want 0", f, got)
		}
	}
}

func TestAppendError(t *testing.T) {
	tests := map[string]string{
		"Authorization field missing":            "{\n    \"error\": \"Authorization field missing\"\n}",
		"Access to this API has been disallowed": "{\n    \"error\": \"Access to this API has been disallowed\"\n}",
		`bad "key" <x>`:                          "{\n    \"error\": \"bad \\\"key\\\" \\u003cx\\u003e\"\n}",
	}
	for msg, want := range tests {
		got := AppendError([]byte("prefix:"), msg)
		if string(got) != "prefix:"+want {
			t.Errorf("AppendError(%q) = %q, want %q", msg, got, want)
		}
		var body struct{ Error string }
		if err := json.Unmarshal(got[len("prefix:"):], &body); err != nil || body.Error != msg {
			t.Errorf("body %q does not decode to the message: %v", got, err)
		}
	}
}

// The zero values show the classic encoding rules: every field present, nil
// collections as null, an unset date as Go's zero time.
func TestEncodeZeroValues(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"session", (&Session{}).AppendJSON(nil), `{"last_check":0,"allowance":0,"rate":0,"per":0,` +
			`"throttle_interval":0,"throttle_retry_limit":0,"max_query_depth":0,"date_created":"0001-01-01T00:00:00Z",` +
			`"expires":0,"quota_max":0,"quota_renews":0,"quota_remaining":0,"quota_renewal_rate":0,"access_rights":null,` +
			`"org_id":"","oauth_client_id":"","oauth_keys":null,"certificate":"","basic_auth_data":{"password":"","hash_type":""},` +
			`"jwt_data":{"secret":""},"hmac_enabled":false,"enable_http_signature_validation":false,"hmac_string":"",` +
			`"rsa_certificate_id":"","is_inactive":false,"apply_policy_id":"","apply_policies":null,"data_expires":0,` +
			`"monitor":{"trigger_limits":null},"enable_detail_recording":false,"enable_detailed_recording":false,` +
			`"meta_data":null,"tags":null,"alias":"","last_updated":"","id_extractor_deadline":0,"session_lifetime":0,"smoothing":null}`},
		{"access right", appendAccessDefinition(nil, AccessDefinition{Versions: []string{}}),
			`{"api_name":"","api_id":"","versions":[],"allowed_urls":null,"restricted_types":null,` +
				`"allowed_types":null,"limit":{"rate":0,"per":0,"smoothing":null,"throttle_interval":0,"throttle_retry_limit":0,` +
				`"max_query_depth":0,"quota_max":0,"quota_renews":0,"quota_remaining":0,"quota_renewal_rate":0},` +
				`"field_access_rights":null,"disable_introspection":false,"allowance_scope":""}`},
		{"policy", (&Policy{}).AppendJSON(nil), `{"_id":"","id":"","name":"","org_id":"","rate":0,"per":0,"quota_max":0,` +
			`"quota_renewal_rate":0,"throttle_interval":0,"throttle_retry_limit":0,"max_query_depth":0,"access_rights":null,` +
			`"hmac_enabled":false,"enable_http_signature_validation":false,"active":false,"is_inactive":false,"tags":null,` +
			`"key_expires_in":0,"partitions":{"quota":false,"rate_limit":false,"complexity":false,"acl":false,"per_api":false},` +
			`"last_updated":"","meta_data":null,"graphql_access_rights":null,"smoothing":null}`},
		{"api definition", (&APIDefinition{}).AppendJSON(nil), `{"api_id":"","name":"","org_id":"","active":false,` +
			`"use_keyless":false,"use_standard_auth":false,"use_basic_auth":false,"enable_signature_checking":false,` +
			`"enable_jwt":false,"use_oauth2":false,"use_openid":false,"use_mutual_tls_auth":false,"use_go_plugin_auth":false,` +
			`"enable_coprocess_auth":false,"custom_plugin_auth_enabled":false,"base_identity_provided_by":"",` +
			`"custom_middleware_bundle":"","custom_middleware_bundle_disabled":false,` +
			`"basic_auth":{"disable_caching":false,"cache_ttl":0,"extract_from_body":false,"body_user_regexp":"","body_password_regexp":""},` +
			`"hmac_allowed_clock_skew":0,"hmac_allowed_algorithms":null,"client_certificates":null,` +
			`"jwt_signing_method":"","jwt_source":"","jwt_identity_base_field":"","jwt_client_base_field":"",` +
			`"jwt_policy_field_name":"","jwt_default_policies":null,"jwt_scope_to_policy_mapping":null,` +
			`"jwt_scope_claim_name":"","jwt_skip_kid":false,"jwt_issued_at_validation_skew":0,` +
			`"jwt_expires_at_validation_skew":0,"jwt_not_before_validation_skew":0,"domain":"","proxy":{"listen_path":"","target_url":"","strip_listen_path":false},` +
			`"auth":{"auth_header_name":"","use_param":false,"param_name":"","use_cookie":false,"cookie_name":"","disable_header":false,"use_certificate":false},` +
			`"auth_configs":{"authToken":{"auth_header_name":"","use_param":false,"param_name":"","use_cookie":false,"cookie_name":"","disable_header":false,"use_certificate":false}},` +
			`"strip_auth_data":false,"version_data":{"not_versioned":false,"default_version":"","fallback_to_default":false,"versions":null},` +
			`"definition":{"location":"","key":"","strip_path":false,"fallback_to_default":false},"session_lifetime":0,` +
			`"dont_set_quota_on_create":false,"disable_rate_limit":false,"disable_quota":false,` +
			`"global_rate_limit":{"disabled":false,"rate":0,"per":0},` +
			`"oauth_meta":{"allowed_access_types":null,"allowed_authorize_types":null,"auth_login_redirect":""},"cache_options":{"cache_timeout":0,"enable_cache":false,` +
			`"cache_all_safe_requests":false,"cache_response_codes":null,"enable_upstream_cache_control":false,` +
			`"cache_control_ttl_header":"","cache_by_headers":null},"response_processors":null,"enable_batch_request_support":false,"enable_context_vars":false}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
}

// fullSession sets every field (checked by assertAllSet), so a field that
// the encoder or the decoder forgets breaks the round trip.
func fullSession() *Session {
	smoothing := &Smoothing{Enabled: true, Threshold: 500, Trigger: 0.8, Step: 100, Delay: 30}
	return &Session{
		LastCheck: 1, Allowance: 999.5, Rate: 1000, Per: 60, ThrottleInterval: 0.25, ThrottleRetryLimit: 3,
		MaxQueryDepth: -1, DateCreated: "2024-03-13T03:56:46.568042549Z", Expires: 1712895619,
		QuotaMax: 20000, QuotaRenews: 1710302205, QuotaRemaining: 19999, QuotaRenewalRate: 31556952,
		AccessRights: map[string]AccessDefinition{
			"api-b": {APIName: "B", APIID: "api-b", Versions: []string{"v1"}},
			"api-a": {
				APIName: "A <&>", APIID: "api-a", Versions: []string{"Default", "v2"},
				AllowedURLs:     []AccessSpec{{URL: "^/users/{id}$", Methods: []string{"GET", "PUT"}}},
				RestrictedTypes: []GraphQLType{{Name: "Query", Fields: []string{"secret"}}},
				AllowedTypes:    []GraphQLType{{Name: "Person", Fields: []string{"name", "age"}}},
				Limit: APILimit{Rate: 10, Per: 1, Smoothing: smoothing, ThrottleInterval: 1.5,
					ThrottleRetryLimit: 2, MaxQueryDepth: 5, QuotaMax: 100, QuotaRenews: 1710302205,
					QuotaRemaining: 42, QuotaRenewalRate: 3600},
				FieldAccessRights: []FieldAccessDefinition{{TypeName: "Query", FieldName: "people",
					Limits: FieldLimits{MaxQueryDepth: 2}}},
				DisableIntrospection: true,
				AllowanceScope:       "shared-scope",
				Endpoints: []Endpoint{{Path: "/anything", Methods: []EndpointMethod{
					{Name: "GET", Limit: RateLimit{Rate: 5, Per: 1e-7}},
				}}},
			},
		},
		OrgID: "5e9d9544a1dcd60001d0ed20", OauthClientID: "client-1",
		OauthKeys:     map[string]string{"client-1": "token\u2028x"},
		Certificate:   "cert-id",
		BasicAuthData: BasicAuthData{Password: "$2a$10$hash", HashType: "bcrypt"},
		JWTData:       JWTData{Secret: "jwt-secret"},
		HMACEnabled:   true, EnableHTTPSignatureValidation: true, HmacSecret: "hmac\"secret\"",
		RSACertificateID: "rsa-1", IsInactive: true, ApplyPolicyID: "legacy-policy",
		ApplyPolicies: []string{"p1", "p2"}, DataExpires: 86400,
		Monitor:               Monitor{TriggerLimits: []float64{80, 90.5}},
		EnableDetailRecording: true, EnableDetailedRecording: true,
		MetaData: map[string]RawValue{
			"tyk_developer_id":   RawValue(`"62b3fb9a1d5e4f00017226f5"`),
			"rate_limit_pattern": RawValue(`"$tyk_meta.tenant"`),
			"nested":             RawValue(`{"a":[1,2.5,-3e-7,true,false,null],"b":{}}`),
		},
		Tags: []string{"edge", "edge-eu"}, Alias: "portal-developer@example.org", LastUpdated: "1710302206",
		IDExtractorDeadline: 1710302300, SessionLifetime: 3600, Smoothing: smoothing,
	}
}

func fullPolicy() *Policy {
	s := fullSession()
	return &Policy{
		MID: "5ead7120575961000181867e", ID: "5ead7120575961000181867e", Name: "Gold", OrgID: s.OrgID,
		Rate: 100, Per: 1, QuotaMax: -1, QuotaRenewalRate: 3600, ThrottleInterval: 2, ThrottleRetryLimit: 4,
		MaxQueryDepth: 7, AccessRights: s.AccessRights, HMACEnabled: true, EnableHTTPSignatureValidation: true,
		Active: true, IsInactive: true, Tags: []string{"gold"}, KeyExpiresIn: 2592000,
		Partitions:  PolicyPartitions{Quota: true, RateLimit: true, Complexity: true, Acl: true, PerAPI: true},
		LastUpdated: "1716980105", MetaData: s.MetaData, Smoothing: s.Smoothing,
	}
}

func fullAPIDefinition() *APIDefinition {
	return &APIDefinition{
		APIID: "api-a", Name: "A", OrgID: "org", Active: true, UseKeylessAccess: true, Domain: "api.example.com",
		UseStandardAuth: true, UseBasicAuth: true, EnableSignatureChecking: true, EnableJWT: true, UseOauth2: true,
		UseOpenID: true, UseMutualTLSAuth: true, UseGoPluginAuth: true, EnableCoProcessAuth: true,
		CustomPluginAuthEnabled: true, BaseIdentityProvidedBy: "auth_token", CustomMiddlewareBundle: "bundle.zip",
		CustomMiddlewareBundleDisabled: true,
		BasicAuth: BasicAuthMeta{DisableCaching: true, CacheTTL: 30, ExtractFromBody: true,
			BodyUserRegexp: `user=(\w+)`, BodyPasswordRegexp: `pass=(\w+)`},
		HmacAllowedClockSkew: 5000, HmacAllowedAlgorithms: []string{"hmac-sha256"},
		ClientCertificates: []string{"org0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		JWTSigningMethod:   "rsa", JWTSource: "aHR0cHM6Ly9pZHAvandrcw==", JWTIdentityBaseField: "email",
		JWTClientIDBaseField: "azp", JWTPolicyFieldName: "pol", JWTDefaultPolicies: []string{"p1", "p2"},
		JWTScopeToPolicyMapping: map[string]string{"read": "p3"}, JWTScopeClaimName: "scp", JWTSkipKid: true,
		JWTIssuedAtValidationSkew: 1, JWTExpiresAtValidationSkew: 2, JWTNotBeforeValidationSkew: 3,
		OpenIDOptions: &OpenIDOptions{SegregateByClient: true, Providers: []OIDProvider{
			{Issuer: "https://idp.example.com", ClientIDs: map[string]string{"Y2xpZW50": "p1"}}}},
		Scopes: &Scopes{JWT: ScopeClaim{ScopeClaimName: "scp", ScopeToPolicy: map[string]string{"read": "p3"}},
			OIDC: ScopeClaim{ScopeClaimName: "scope", ScopeToPolicy: map[string]string{"write": "p2"}}},
		Proxy: Proxy{ListenPath: "/a/", TargetURL: "http://upstream:8080", StripListenPath: true},
		Auth:  AuthConfig{AuthHeaderName: "X-Key", UseParam: true, ParamName: "key", UseCookie: true, CookieName: "k", DisableHeader: true, UseCertificate: true},
		AuthConfigs: map[string]AuthConfig{
			"jwt": {AuthHeaderName: "X-JWT", UseParam: true, ParamName: "jwt", UseCookie: true, CookieName: "j", DisableHeader: true, UseCertificate: true},
		},
		StripAuthData: true,
		VersionData: VersionData{NotVersioned: true, DefaultVersion: "v1", FallbackToDefault: true,
			Versions: map[string]VersionInfo{"v1": {Name: "v1", Expires: "2030-01-02 15:04", UseExtendedPaths: true,
				ExtendedPaths: ExtendedPaths{
					Cached: []string{"/a"},
					AdvanceCacheConfig: []CacheMeta{{Disabled: true, Method: "GET", Path: "/b", CacheKeyRegex: "x",
						CacheOnlyResponseCodes: []float64{200}, Timeout: 5}},
					TransformHeader: []HeaderInjectionMeta{{Disabled: true, DeleteHeaders: []string{"x-d"},
						AddHeaders: map[string]string{"x-a": "1"}, Path: "/c", Method: "GET", ActOnResponse: true}},
					TransformResponseHeader: []HeaderInjectionMeta{{Disabled: true, DeleteHeaders: []string{"x-e"},
						AddHeaders: map[string]string{"x-b": "2"}, Path: "/d", Method: "POST", ActOnResponse: true}},
					Transform: []TemplateMeta{{Disabled: true, Path: "/e", Method: "POST", TemplateData: TemplateData{
						Input: "json", Mode: "blob", EnableSession: true, TemplateSource: "e3suYX19"}}},
					TransformResponse: []TemplateMeta{{Disabled: true, Path: "/f", Method: "GET", TemplateData: TemplateData{
						Input: "xml", Mode: "file", EnableSession: true, TemplateSource: "f.tmpl"}}},
				},
				GlobalHeaders: map[string]string{"x-g": "1"}, GlobalHeadersRemove: []string{"x-r"}, GlobalHeadersDisabled: true,
				GlobalResponseHeaders: map[string]string{"x-h": "2"}, GlobalResponseHeadersRemove: []string{"x-s"},
				GlobalResponseHeadersDisabled: true}}},
		VersionDefinition: VersionDefinition{Location: "url-param", Key: "version", StripPath: true},
		SessionLifetime:   60, DontSetQuotaOnCreate: true, DisableRateLimit: true, DisableQuota: true,
		GlobalRateLimit: GlobalRateLimit{Rate: 100, Per: 60, Disabled: true},
		Oauth2Meta: Oauth2Meta{AllowedAccessTypes: []string{"client_credentials"},
			AllowedAuthorizeTypes: []string{"code"}, AuthorizeLoginRedirect: "http://login.example.com/"},
		CacheOptions: CacheOptions{CacheTimeout: 30, EnableCache: true, CacheAllSafeRequests: true,
			CacheOnlyResponseCodes: []float64{200, 404}, EnableUpstreamCacheControl: true,
			CacheControlTTLHeader: "x-ttl", CacheByHeaders: []string{"accept"}},
		ResponseProcessors: []ResponseProcessor{{Name: "header_injector", Options: HeaderInjectorOptions{
			AddHeaders: map[string]string{"x-p": "1"}, RemoveHeaders: []string{"server"}}}},
		EnableBatchRequestSupport: true,
		EnableContextVars:         true,
	}
}

// assertAllSet fails for every zero field, empty collection or nil pointer
// reachable from v, except APILimit.SetBy (never serialized).
func assertAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		assertAllSet(t, v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.Name != "SetBy" {
				assertAllSet(t, v.Field(i), path+"."+f.Name)
			}
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				assertAllSet(t, v.Index(i), path+"[]")
			}
		}
		if v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Struct {
			for _, k := range v.MapKeys() {
				if k.String() == "api-b" { // deliberately sparse second entry
					continue
				}
				assertAllSet(t, v.MapIndex(k), path+"[]")
			}
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

// codec is one model type's encoder and decoder, for tests that treat them
// alike.
type codec struct {
	name   string
	decode func([]byte) (any, error)
	encode func(any) []byte
	full   any        // every field set
	zero   any        // the zero value
	files  []string   // realistic documents in testdata
	mirror func() any // Tyk's struct, for the layout check
}

var codecs = []codec{
	{"session", func(b []byte) (any, error) { return DecodeSession(b) },
		func(v any) []byte { return v.(*Session).AppendJSON(nil) }, fullSession(), &Session{},
		[]string{"session_classic.json", "session_compact.json"}, func() any { return new(tykSession) }},
	{"policy", func(b []byte) (any, error) { return DecodePolicy(b) },
		func(v any) []byte { return v.(*Policy).AppendJSON(nil) }, fullPolicy(), &Policy{},
		[]string{"policy.json"}, func() any { return new(tykPolicy) }},
	{"apidef", func(b []byte) (any, error) { return DecodeAPIDefinition(b) },
		func(v any) []byte { return v.(*APIDefinition).AppendJSON(nil) }, fullAPIDefinition(), &APIDefinition{},
		[]string{"apidef.json"}, func() any { return new(tykAPIDefinition) }},
}

func TestRoundTripFullValues(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			assertAllSet(t, reflect.ValueOf(c.full), c.name)
			got, err := c.decode(c.encode(c.full))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.full) {
				t.Errorf("decode(encode(x)) != x\n got: %s\nwant: %s", c.encode(got), c.encode(c.full))
			}
		})
	}
}

// TestClassicLayoutMatchesTyk decodes the encoder's output into mirrors of
// Tyk's structs with encoding/json and re-encodes it: identical bytes mean
// identical field names, order, null handling and number formatting.
func TestClassicLayoutMatchesTyk(t *testing.T) {
	for _, c := range codecs {
		inputs := []any{c.full, c.zero}
		for _, f := range c.files {
			v, err := c.decode(readTestdata(t, f))
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, v)
		}
		for i, v := range inputs {
			ours := c.encode(v)
			mirror := c.mirror()
			if err := json.Unmarshal(ours, mirror); err != nil {
				t.Fatalf("%s #%d: encoding/json rejects our output: %v\n%s", c.name, i, err, ours)
			}
			theirs, _ := json.Marshal(mirror)
			if !bytes.Equal(ours, theirs) {
				t.Errorf("%s #%d differs from Tyk's layout\nours:  %s\ntheirs: %s", c.name, i, ours, theirs)
			}
		}
	}
}

// Decoding and re-encoding real documents keeps the value, and a second pass
// changes no byte.
func TestEncodeStable(t *testing.T) {
	for _, c := range codecs {
		for _, f := range c.files {
			data := readTestdata(t, f)
			if _, err := c.decode(data); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checkRoundTrip(t, data, c.decode, c.encode)
		}
	}
}

// encoding/json users (the sidecar) get the same codec through the
// Marshaler and Unmarshaler interfaces, also inside their own structs.
func TestEncodingJSONInterop(t *testing.T) {
	type envelope struct {
		Session *Session       `json:"session"`
		Policy  *Policy        `json:"policy"`
		API     *APIDefinition `json:"api"`
	}
	in := envelope{fullSession(), fullPolicy(), fullAPIDefinition()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, in.Session.AppendJSON(nil)) {
		t.Error("json.Marshal did not use Session.MarshalJSON")
	}
	var out envelope
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Error("encoding/json round trip through the model's methods changed the values")
	}
	var s Session
	if err := json.Unmarshal([]byte(`{"rate":"x"}`), &s); err == nil {
		t.Error("Session.UnmarshalJSON accepted a wrong type")
	}
}
