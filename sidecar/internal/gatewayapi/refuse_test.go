package gatewayapi

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestRefusal(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // refused fields, in table order; none = accepted
	}{
		{"auth token API", `{"api_id":"a","use_standard_auth":true,"auth_configs":{"authToken":{"auth_header_name":"X-Key"}}}`, nil},
		{"keyless API", `{"use_keyless":true}`, nil},
		{"Tyk export with everything off", `{"use_basic_auth":false,"enable_jwt":false,"use_oauth2":false,"base_identity_provided_by":"",
			"custom_middleware_bundle":"","custom_middleware":{"pre":[],"post":[],"post_key_auth":[],"auth_check":{"name":"","path":""},"driver":""},
			"enable_ip_whitelisting":false,"allowed_ips":[],"internal":false,
			"version_data":{"versions":{"Default":{"use_extended_paths":true,"extended_paths":{"white_list":[],"black_list":[],"ignored":[]},"paths":{"ignored":[]}}}}}`, nil},
		{"basic auth", `{"use_basic_auth":true,"basic_auth":{"disable_caching":true,"cache_ttl":30}}`, nil},
		{"basic auth from the body", `{"use_basic_auth":true,"basic_auth":{"extract_from_body":true,"body_user_regexp":"u=(\\w+)","body_password_regexp":"p=(\\w+)"}}`, nil},
		{"basic auth from the body without regexps", `{"use_basic_auth":true,"basic_auth":{"extract_from_body":true}}`, []string{"basic_auth.extract_from_body"}},
		{"basic auth from the body, bad regexp", `{"use_basic_auth":true,"basic_auth":{"extract_from_body":true,"body_user_regexp":"(","body_password_regexp":"(x)"}}`, []string{"basic_auth.extract_from_body"}},
		{"basic auth from the body with HMAC", `{"use_basic_auth":true,"enable_signature_checking":true,"basic_auth":{"extract_from_body":true,"body_user_regexp":"(x)","body_password_regexp":"(x)"}}`, nil},
		{"extract_from_body without basic auth", `{"basic_auth":{"extract_from_body":true}}`, nil},
		{"HMAC", `{"enable_signature_checking":true,"hmac_allowed_algorithms":["hmac-sha256"]}`, nil},
		{"JWT is enforced (issue 12)", `{"enable_jwt":true}`, nil},
		{"JWT with another method (multiple authentication)", `{"enable_jwt":true,"use_standard_auth":true,"base_identity_provided_by":"jwt_claim"}`, nil},
		{"OAuth 2.0", `{"use_oauth2":true,"oauth_meta":{"allowed_access_types":["client_credentials","authorization_code","refresh_token"],"allowed_authorize_types":["code"]}}`, nil},
		{"OAuth 2.0 grants not implemented", `{"use_oauth2":true,"oauth_meta":{"allowed_access_types":["password","client_credentials",1],"allowed_authorize_types":["token"]}}`,
			[]string{"oauth_meta.allowed_access_types", "oauth_meta.allowed_access_types", "oauth_meta.allowed_authorize_types"}},
		{"OAuth 2.0 grants on a keyless API", `{"use_keyless":true,"use_oauth2":true,"oauth_meta":{"allowed_access_types":["password"]}}`, nil},
		{"OpenID", `{"use_openid":true,"openid_options":{"providers":[{"issuer":"https://idp","client_ids":{"d2Vi":"p1"}}],"segregate_by_client":true}}`, nil},
		{"OpenID with another method (multiple authentication)", `{"use_openid":true,"use_standard_auth":true,"base_identity_provided_by":"oidc_user"}`, nil},
		{"OpenID and JWT", `{"use_openid":true,"enable_jwt":true}`, nil},
		{"OpenID scope mapping", `{"use_openid":true,"scopes":{"oidc":{"scope_to_policy":{"read":"p"}}},"jwt_scope_to_policy_mapping":{"r":"p"}}`, nil},
		{"OpenID client id not base64", `{"use_openid":true,"openid_options":{"providers":[{"issuer":"https://idp","client_ids":{"web":"p1","d2Vi":"p2"}}]}}`,
			[]string{"openid_options.providers[0].client_ids"}},
		{"mutual TLS", `{"use_mutual_tls_auth":true,"client_certificates":["org1` + strings.Repeat("ab", 32) + `"]}`, nil},
		{"chained auth", `{"use_basic_auth":true,"use_standard_auth":true,"base_identity_provided_by":"auth_token"}`, nil},
		{"Go plugin", `{"use_go_plugin_auth":true}`, []string{"use_go_plugin_auth"}},
		{"coprocess", `{"enable_coprocess_auth":true}`, []string{"enable_coprocess_auth"}},
		{"keyless wins over auth methods, as in Tyk", `{"use_keyless":true,"use_basic_auth":true,"enable_jwt":true,"use_go_plugin_auth":true}`, nil},
		{"bundle", `{"custom_middleware_bundle":"bundle.zip"}`, []string{"custom_middleware_bundle"}},
		{"bundle on a keyless API", `{"use_keyless":true,"custom_middleware_bundle":"bundle.zip"}`, []string{"custom_middleware_bundle"}},
		{"disabled bundle", `{"custom_middleware_bundle":"bundle.zip","custom_middleware_bundle_disabled":true}`, nil},
		{"custom middleware", `{"custom_middleware":{"pre":[{"name":"checkIP","path":"m.js"}],"auth_check":{"name":"auth"}}}`,
			[]string{"custom_middleware.pre", "custom_middleware.auth_check.name"}},
		{"IP lists", `{"enable_ip_whitelisting":true,"enable_ip_blacklisting":true}`, []string{"enable_ip_whitelisting", "enable_ip_blacklisting"}},
		{"internal", `{"internal":true}`, []string{"internal"}},
		{"endpoint lists in any version", `{"version_data":{"versions":{"v1":{},"v2":{"extended_paths":{"black_list":[{"path":"/admin"}]},"paths":{"ignored":["/health"]}}}}}`,
			[]string{"version_data.versions.*.extended_paths.black_list", "version_data.versions.*.paths.ignored"}},
		{"several methods", `{"use_basic_auth":true,"enable_signature_checking":true}`, nil},
		{"JWT among several methods", `{"use_basic_auth":true,"enable_jwt":true}`, nil},
		// Issue 16: the cache, header injection, header transforms and
		// batch requests are applied; body transforms are not.
		{"cache, header injector, header transforms", `{"cache_options":{"enable_cache":true,"cache_timeout":30,"cache_by_headers":["accept"]},
			"response_processors":[{"name":"header_injector","options":{"add_headers":{"x-a":"1"},"remove_headers":["server"]}}],
			"version_data":{"versions":{"Default":{"use_extended_paths":true,"global_headers":{"x-g":"1"},"global_headers_remove":["x-r"],
			"extended_paths":{"cache":["/a"],"advance_cache_config":[{"method":"GET","path":"/b","timeout":5},{"method":"POST","path":"/c","disabled":true}],
			"transform_headers":[{"path":"/a","method":"GET","add_headers":{"x-t":"1"}}]}}}}}`, nil},
		{"batch requests", `{"enable_batch_request_support":true}`, nil},
		{"body transforms", `{"response_processors":[{"name":"response_body_transform","options":{}}],
			"version_data":{"versions":{"v1":{"extended_paths":{
			"transform":[{"path":"/a","method":"POST","template_data":{"input_type":"json","template_mode":"blob","enable_session":true,
				"template_source":"` + b64(`{"id":"{{._tyk_meta.uid}}","items":{{jsonMarshal .array}}}`) + `"}}],
			"transform_response":[{"path":"/a","method":"GET","template_data":{"template_mode":"blob","template_source":"` + b64(`{{range .array}}{{.}}{{end}}`) + `"}}],
			"transform_jq":[]}}}}}`, nil},
		{"body transforms Turnpike cannot run", `{"enable_context_vars":true,"version_data":{"versions":{"v1":{"extended_paths":{
			"transform":[{"path":"/a","template_data":{"input_type":"json","template_mode":"file","template_source":"t.tmpl"}},
				{"path":"/b","template_data":{"input_type":"xml","template_mode":"blob","template_source":"` + b64(`{{.a}}`) + `"}},
				{"path":"/c","template_data":{"template_mode":"blob","template_source":"` + b64(`{{.a | upper}}`) + `"}},
				{"path":"/d","template_data":{"input_type":"json","template_mode":"blob","template_source":"` + b64(`$tyk_meta.x {{.a}}`) + `"}},
				{"path":"/e","disabled":true,"template_data":{"template_mode":"file"}}],
			"transform_response":[{"path":"/a","template_data":{"template_mode":"blob","template_source":"not base64!"}},
				{"path":"/b","template_data":{"template_mode":"","template_source":""}},
				{"path":"/c","template_data":{"template_mode":"blob","template_source":"` + b64(`{{if}}`) + `"}}],
			"transform_jq":[{"path":"/j"}]}}}}}`,
			[]string{"version_data.versions.*.extended_paths.transform_jq",
				"version_data.versions.v1.extended_paths.transform[0].template_data.template_mode",
				"version_data.versions.v1.extended_paths.transform[1].template_data.input_type",
				"version_data.versions.v1.extended_paths.transform[2].template_data.input_type",
				"version_data.versions.v1.extended_paths.transform[2].template_data.template_source",
				"version_data.versions.v1.extended_paths.transform[3].template_data.template_source",
				"version_data.versions.v1.extended_paths.transform_response[0].template_data.template_source",
				"version_data.versions.v1.extended_paths.transform_response[1].template_data.template_mode",
				"version_data.versions.v1.extended_paths.transform_response[2].template_data.template_source",
				"enable_context_vars",
			}},
		{"unknown response processor", `{"response_processors":[{"name":"custom"}]}`, []string{"response_processors[0].name"}},
		{"Tyk variables in header values", `{"response_processors":[{"name":"header_injector","options":{"add_headers":{"x-id":"$tyk_context.token"}}}],
			"version_data":{"versions":{"v1":{"global_headers":{"x-m":"$tyk_meta.uid"},"extended_paths":{"transform_headers":[{"add_headers":{"x-s":"$secret_env.x"}}]}}}}}`,
			[]string{"response_processors[0].options.add_headers.x-id", "version_data.versions.v1.global_headers.x-m",
				"version_data.versions.v1.extended_paths.transform_headers[0].add_headers.x-s"}},
		{"other extended path middleware", `{"version_data":{"versions":{"v1":{"global_size_limit":10,"extended_paths":{"mock_response":[{"path":"/m"}],
			"url_rewrites":[{"path":"/a"}],"size_limits":[{"path":"/s"}],"rate_limit":[{"path":"/r"}],"virtual":[{"path":"/v"}]}}}}}`,
			[]string{"version_data.versions.*.extended_paths.mock_response", "version_data.versions.*.extended_paths.virtual",
				"version_data.versions.*.extended_paths.url_rewrites", "version_data.versions.*.extended_paths.size_limits",
				"version_data.versions.*.global_size_limit", "version_data.versions.*.extended_paths.rate_limit"}},
		{"size limit disabled", `{"version_data":{"versions":{"v1":{"global_size_limit":10,"global_size_limit_disabled":true,"extended_paths":{"track_endpoints":[{"path":"/t"}]}}}}}`, nil},
		{"cache on a keyless API", `{"use_keyless":true,"cache_options":{"enable_cache":true}}`, []string{"cache_options.enable_cache"}},
		{"cache of unsafe methods or by body", `{"version_data":{"versions":{"v1":{"extended_paths":{"advance_cache_config":[{"method":"POST","path":"/a","cache_key_regex":"id"}]}}}}}`,
			[]string{"version_data.versions.v1.extended_paths.advance_cache_config[0].method", "version_data.versions.v1.extended_paths.advance_cache_config[0].cache_key_regex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := refusal(fastjson.MustParse(tt.doc))
			if len(tt.want) == 0 {
				if msg != "" {
					t.Fatalf("refused: %s", msg)
				}
				return
			}
			if !strings.HasPrefix(msg, "API definition refused: ") || strings.Count(msg, `": `) != len(tt.want) {
				t.Fatalf("message %q; want %d refused fields", msg, len(tt.want))
			}
			for _, f := range tt.want {
				if !strings.Contains(msg, `"`+f+`": `) {
					t.Errorf("message %q does not name %q", msg, f)
				}
			}
		})
	}
}

// Every row has a message saying whether the method may come later.
func TestRefusedFieldMessages(t *testing.T) {
	for _, r := range refusedFields {
		if !strings.Contains(r.message, "not supported yet") && !strings.Contains(r.message, "never will") {
			t.Errorf("%s: message %q says neither 'not supported yet' nor 'never will'", r.field, r.message)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The refusal of a template names what the filter cannot run.
func TestBodyTemplateRefusalMessages(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{{.a | upper}}`, `the template cannot run in the filter: the function "upper" (sprig's functions) is not supported`},
		{`{{xmlMarshal .}}`, `the Tyk function "xmlMarshal" is not supported`},
		{`{{if}}`, `the template does not parse: template: transform:1: missing value for if`},
	} {
		doc := `{"version_data":{"versions":{"v1":{"extended_paths":{"transform_response":[{"path":"/a",` +
			`"template_data":{"template_mode":"blob","template_source":"` + b64(c.src) + `"}}]}}}}}`
		if msg := refusal(fastjson.MustParse(doc)); !strings.Contains(msg, c.want) {
			t.Errorf("%s: %q does not say %q", c.src, msg, c.want)
		}
	}
}
