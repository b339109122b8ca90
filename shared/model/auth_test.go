package model

import (
	"errors"
	"reflect"
	"testing"
)

func TestAuthMethods(t *testing.T) {
	tests := []struct {
		name string
		api  APIDefinition
		want []string
	}{
		{"nothing set: auth token", APIDefinition{}, nil},
		{"standard auth", APIDefinition{UseStandardAuth: true}, []string{"use_standard_auth"}},
		{"keyless wins over every switch", APIDefinition{UseKeylessAccess: true, EnableJWT: true, UseStandardAuth: true},
			[]string{"use_keyless"}},
		{"chain order, not field order", APIDefinition{UseStandardAuth: true, EnableJWT: true, UseMutualTLSAuth: true,
			UseBasicAuth: true}, []string{"use_mutual_tls_auth", "use_basic_auth", "enable_jwt", "use_standard_auth"}},
		{"every switch", APIDefinition{UseStandardAuth: true, UseBasicAuth: true, EnableSignatureChecking: true,
			EnableJWT: true, UseOauth2: true, UseOpenID: true, UseMutualTLSAuth: true, UseGoPluginAuth: true,
			EnableCoProcessAuth: true, CustomPluginAuthEnabled: true, CustomMiddlewareBundle: "b.zip"},
			[]string{"use_mutual_tls_auth", "use_oauth2", "use_basic_auth", "enable_signature_checking", "enable_jwt",
				"use_openid", "enable_coprocess_auth", "use_go_plugin_auth", "custom_plugin_auth_enabled",
				"use_standard_auth", "custom_middleware_bundle"}},
		{"disabled bundle", APIDefinition{CustomMiddlewareBundle: "b.zip", CustomMiddlewareBundleDisabled: true}, nil},
		{"base identity is not a method", APIDefinition{BaseIdentityProvidedBy: "jwt_claim", EnableJWT: true},
			[]string{"enable_jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.api.AuthMethods(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AuthMethods() = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every auth switch is read, and written back where Tyk has it.
func TestDecodeAuthSwitches(t *testing.T) {
	in := `{"use_standard_auth":true,"use_basic_auth":true,"enable_signature_checking":true,"enable_jwt":true,` +
		`"use_oauth2":true,"use_openid":true,"use_mutual_tls_auth":true,"use_go_plugin_auth":true,` +
		`"enable_coprocess_auth":true,"custom_plugin_auth_enabled":true,"base_identity_provided_by":"auth_token",` +
		`"custom_middleware_bundle":"bundle.zip","custom_middleware_bundle_disabled":true}`
	a, err := DecodeAPIDefinition([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &APIDefinition{UseStandardAuth: true, UseBasicAuth: true, EnableSignatureChecking: true, EnableJWT: true,
		UseOauth2: true, UseOpenID: true, UseMutualTLSAuth: true, UseGoPluginAuth: true, EnableCoProcessAuth: true,
		CustomPluginAuthEnabled: true, BaseIdentityProvidedBy: "auth_token", CustomMiddlewareBundle: "bundle.zip",
		CustomMiddlewareBundleDisabled: true}
	equal(t, a, want)
	_, err = DecodeAPIDefinition([]byte(`{"enable_jwt":"yes"}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "enable_jwt" {
		t.Errorf("enable_jwt as a string: error %v", err)
	}
}

func TestDecodeAuthConfigs(t *testing.T) {
	tests := []struct {
		name, in string
		auth     AuthConfig
		configs  map[string]AuthConfig
		out      string // auth_configs as written back
	}{
		{"every method kept", `{"auth_configs":{"authToken":{"auth_header_name":"A"},"jwt":{"auth_header_name":"J"},` +
			`"basic":{"use_param":true},"hmac":{}}}`,
			AuthConfig{AuthHeaderName: "A"},
			map[string]AuthConfig{"jwt": {AuthHeaderName: "J"}, "basic": {UseParam: true}, "hmac": {}},
			`{"authToken":{"auth_header_name":"A",` + zeroAuthRest + `},"basic":{"auth_header_name":"","use_param":true,` +
				`"param_name":"","use_cookie":false,"cookie_name":"","disable_header":false,"use_certificate":false},` +
				`"hmac":{"auth_header_name":"",` + zeroAuthRest + `},"jwt":{"auth_header_name":"J",` + zeroAuthRest + `}}`},
		{"authToken only: no other configs", `{"auth_configs":{"authToken":{"auth_header_name":"A"}}}`,
			AuthConfig{AuthHeaderName: "A"}, nil, `{"authToken":{"auth_header_name":"A",` + zeroAuthRest + `}}`},
		{"empty", `{"auth_configs":{}}`, AuthConfig{}, nil, `{"authToken":{"auth_header_name":"",` + zeroAuthRest + `}}`},
		{"null entry is a zero entry", `{"auth_configs":{"oauth":null}}`, AuthConfig{},
			map[string]AuthConfig{"oauth": {}},
			`{"authToken":{"auth_header_name":"",` + zeroAuthRest + `},"oauth":{"auth_header_name":"",` + zeroAuthRest + `}}`},
		{"legacy auth is the authToken entry", `{"auth":{"auth_header_name":"L"},"auth_configs":{"oidc":{}}}`,
			AuthConfig{AuthHeaderName: "L"}, map[string]AuthConfig{"oidc": {}},
			`{"authToken":{"auth_header_name":"L",` + zeroAuthRest + `},"oidc":{"auth_header_name":"",` + zeroAuthRest + `}}`},
		{"last duplicate wins", `{"auth_configs":{"jwt":{"auth_header_name":"A"}},"auth_configs":{"jwt":{}}}`,
			AuthConfig{}, map[string]AuthConfig{"jwt": {}},
			`{"authToken":{"auth_header_name":"",` + zeroAuthRest + `},"jwt":{"auth_header_name":"",` + zeroAuthRest + `}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeAPIDefinition([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if a.Auth != tt.auth || !reflect.DeepEqual(a.AuthConfigs, tt.configs) {
				t.Errorf("Auth = %+v, AuthConfigs = %+v; want %+v, %+v", a.Auth, a.AuthConfigs, tt.auth, tt.configs)
			}
			back, err := DecodeAPIDefinition(a.AppendJSON(nil))
			if err != nil || !reflect.DeepEqual(back, a) {
				t.Errorf("round trip: %+v, %v", back, err)
			}
			o := beginObject(nil, classic)
			o = apiDefinitionAuthConfigs(o, a)
			if got := string(o.end()); got != `{"auth_configs":`+tt.out+`}` {
				t.Errorf("written as\n%s\nwant\n{\"auth_configs\":%s}", got, tt.out)
			}
		})
	}
	_, err := DecodeAPIDefinition([]byte(`{"auth_configs":{"jwt":{"use_param":"x"}}}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "auth_configs.jwt.use_param" {
		t.Errorf("wrong type in a jwt config: error %v", err)
	}
	// Auth is the authToken entry: one in AuthConfigs is not written.
	a := &APIDefinition{Auth: AuthConfig{AuthHeaderName: "A"}, AuthConfigs: map[string]AuthConfig{"authToken": {AuthHeaderName: "B"}}}
	if back, _ := DecodeAPIDefinition(a.AppendJSON(nil)); back.Auth.AuthHeaderName != "A" || back.AuthConfigs != nil {
		t.Errorf("authToken in AuthConfigs: decoded back as %+v", back)
	}
}

const zeroAuthRest = `"use_param":false,"param_name":"","use_cookie":false,"cookie_name":"","disable_header":false,"use_certificate":false`
