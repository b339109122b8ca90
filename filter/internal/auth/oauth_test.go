package auth

import (
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

func TestForOAuth(t *testing.T) {
	for _, api := range []model.APIDefinition{
		{UseOauth2: true},
		{UseOauth2: true, UseStandardAuth: true},
	} {
		if _, ok := For(&api).(OAuth); !ok {
			t.Errorf("%+v: got %#v, want OAuth", api, For(&api))
		}
	}
	api := model.APIDefinition{UseOauth2: true, AuthConfigs: map[string]model.AuthConfig{"oauth": {AuthHeaderName: "X-Token"}}}
	if m := For(&api).(OAuth); m.Config.AuthHeaderName != "X-Token" {
		t.Errorf("auth_configs.oauth not read: %+v", m)
	}
}

// Tyk's Oauth2KeyExists: "<scheme> <token>", scheme bearer in any case.
func TestOAuthIdentify(t *testing.T) {
	m := For(&model.APIDefinition{UseOauth2: true})
	for _, tc := range []struct {
		auth, key string
		deny      *Denial
	}{
		{"Bearer tok123", "tok123", nil},
		{"bearer tok123", "tok123", nil},
		{"BEARER tok123 extra", "tok123", nil},
		{"", "", DenyOAuthMissing},
		{"tok123", "", DenyOAuthMissing},
		{"Basic dXNlcjpwdw==", "", DenyOAuthMalformed},
		{"Bearer ", "", DenyOAuthUnknown},
		{"Bearer ab", "", DenyOAuthUnknown},
		{"Bearer tp_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", DenyOAuthUnknown}, // generated form, bad checksum
	} {
		id, d := m.Identify(headers{"authorization": tc.auth}, "/api/x")
		if d != tc.deny || id.Key != tc.key {
			t.Errorf("%q: got %q %+v, want %q %+v", tc.auth, id.Key, d, tc.key, tc.deny)
		}
		if d == nil && (id.Cred.From != Header || id.Cred.Name != "authorization" || id.Cred.Key != "") {
			t.Errorf("%q: credential %+v", tc.auth, id.Cred)
		}
	}
	if d := m.(Unknowner).Unknown(); d.Status != 403 || d.Message != "Key not authorised" {
		t.Errorf("Unknown() = %+v", d)
	}
	if DenyOAuthMissing.Status != 400 || DenyOAuthMalformed.Message != "Bearer token malformed" {
		t.Errorf("denials %+v %+v", DenyOAuthMissing, DenyOAuthMalformed)
	}
}
