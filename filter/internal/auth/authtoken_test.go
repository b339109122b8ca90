package auth

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// headers is a request's header map, as Request and Rewriter.
type headers map[string]string

func (h headers) Property(...string) ([]byte, bool) { return nil, false }

func (h headers) RequestHeader(n string) string { return h[n] }
func (h headers) SetRequestHeader(n, v string)  { h[n] = v }
func (h headers) RemoveRequestHeader(n string)  { delete(h, n) }

func TestAuthTokenIdentify(t *testing.T) {
	generated, err := keys.Generate(strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	forged := generated[:len(generated)-1] + string(rune('A'+(generated[len(generated)-1]+1)%26))
	api := &model.APIDefinition{}
	for _, tc := range []struct {
		name, auth string
		key        string
		deny       *Denial
	}{
		{"key", "my-key", "my-key", nil},
		{"bearer", "Bearer my-key", "my-key", nil},
		{"generated", generated, generated, nil},
		{"missing", "", "", DenyMissing},
		{"only bearer", "Bearer ", "", DenyMissing},
		{"too short", "ab", "", DenyUnknown},
		{"too long", strings.Repeat("k", keys.MaxCustomLen+1), "", DenyUnknown},
		{"forged checksum", forged, "", DenyUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, d := For(api).Identify(headers{"authorization": tc.auth}, "/x")
			if d != tc.deny || id.Key != tc.key {
				t.Fatalf("got %+v %+v, want key %q denial %+v", id, d, tc.key, tc.deny)
			}
			if d == nil && (id.Cred.From != Header || id.Cred.Key != "") {
				t.Errorf("credential %+v: want the location without the key", id.Cred)
			}
		})
	}
}

func TestStrip(t *testing.T) {
	for _, tc := range []struct {
		cred       Credential
		in         headers
		wantHeader headers
	}{
		{Credential{From: Header, Name: "x-key"}, headers{"x-key": "k", "a": "1"}, headers{"a": "1"}},
		{Credential{From: Param, Name: "k"}, headers{}, headers{":path": "/p?a=1"}},
		{Credential{From: Cookie, Name: "c"}, headers{"cookie": "a=1; c=k"}, headers{"cookie": "a=1"}},
		{Credential{From: Cookie, Name: "c"}, headers{"cookie": "c=k"}, headers{}},
		{Credential{}, headers{"a": "1"}, headers{"a": "1"}},
	} {
		tc.cred.Strip(tc.in, "/p?a=1&k=secret")
		if len(tc.in) != len(tc.wantHeader) {
			t.Errorf("%+v: headers %v, want %v", tc.cred, tc.in, tc.wantHeader)
			continue
		}
		for k, v := range tc.wantHeader {
			if tc.in[k] != v {
				t.Errorf("%+v: %s = %q, want %q", tc.cred, k, tc.in[k], v)
			}
		}
	}
}

func TestForRefusesMethodsTurnpikeDoesNotEnforce(t *testing.T) {
	for _, tc := range []struct {
		api   model.APIDefinition
		field string // "" = auth token
	}{
		{model.APIDefinition{}, ""},
		{model.APIDefinition{UseStandardAuth: true}, ""},
		{model.APIDefinition{UseBasicAuth: true}, ""},
		{model.APIDefinition{EnableSignatureChecking: true}, ""},
		{model.APIDefinition{EnableJWT: true, UseStandardAuth: true}, ""}, // a chain (multi_test.go)
		{model.APIDefinition{UseOauth2: true, UseBasicAuth: true}, ""},    // a chain
		// OpenID Connect is enforced alone (openid_test.go) and in a chain.
		{model.APIDefinition{UseOpenID: true}, ""},
		{model.APIDefinition{UseOpenID: true, UseStandardAuth: true}, ""},
		// Its scope-to-policy mapping too (openid_test.go).
		{model.APIDefinition{UseOpenID: true, JWTScopeToPolicyMapping: map[string]string{"s": "p"}}, ""},
		{model.APIDefinition{UseOpenID: true, Scopes: &model.Scopes{OIDC: model.ScopeClaim{ScopeToPolicy: map[string]string{"s": "p"}}}}, ""},
		{model.APIDefinition{UseMutualTLSAuth: true}, ""},
		{model.APIDefinition{UseGoPluginAuth: true}, "use_go_plugin_auth"},
		{model.APIDefinition{EnableCoProcessAuth: true}, "enable_coprocess_auth"},
		{model.APIDefinition{CustomMiddlewareBundle: "b.zip"}, "custom_middleware_bundle"},
		{model.APIDefinition{CustomMiddlewareBundle: "b.zip", CustomMiddlewareBundleDisabled: true}, ""},
		{model.APIDefinition{BaseIdentityProvidedBy: "auth_token"}, ""},
		{model.APIDefinition{UseBasicAuth: true, UseGoPluginAuth: true}, "use_go_plugin_auth"},
	} {
		m := For(&tc.api)
		r, refused := m.(Refused)
		if tc.field == "" {
			if refused {
				t.Errorf("%+v refused: %s", tc.api, r.Reason())
			}
			continue
		}
		if !refused || r.Field != tc.field {
			t.Errorf("%s: got %#v", tc.field, m)
			continue
		}
		// Even a valid key is refused: never a plain-key decision.
		if _, d := m.Identify(headers{"authorization": "a-real-key"}, "/"); d != DenyRefused || d.Status != 403 {
			t.Errorf("%s: denial %+v", tc.field, d)
		}
	}
}
