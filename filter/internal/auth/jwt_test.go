package auth

import (
	"encoding/base64"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/model"
)

func TestForJWT(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("s3cret"))
	for _, tc := range []struct {
		name  string
		api   model.APIDefinition
		field string // "" = a JWT method
	}{
		{"hmac", model.APIDefinition{EnableJWT: true, JWTSource: secret}, ""},
		{"one-to-one hmac", model.APIDefinition{EnableJWT: true}, ""},
		{"rsa", model.APIDefinition{EnableJWT: true, JWTSigningMethod: "rsa", JWTSource: "https://idp/jwks"}, ""},
		{"unknown method", model.APIDefinition{EnableJWT: true, JWTSigningMethod: "RS256", JWTSource: secret}, "jwt_signing_method"},
		{"bad source", model.APIDefinition{EnableJWT: true, JWTSource: "%%%"}, "jwt_source"},
		{"one-to-one rsa", model.APIDefinition{EnableJWT: true, JWTSigningMethod: "rsa"}, "jwt_signing_method"},
		{"hmac JWKS", model.APIDefinition{EnableJWT: true, JWTSource: "https://idp/jwks"}, "jwt_source"},
		{"client base field", model.APIDefinition{EnableJWT: true, JWTSource: secret, JWTClientIDBaseField: "azp"}, "jwt_client_base_field"},
	} {
		m := For(&tc.api)
		r, refused := m.(Refused)
		switch {
		case tc.field == "" && refused:
			t.Errorf("%s: refused: %s", tc.name, r.Reason())
		case tc.field == "":
			if _, ok := m.(*JWT); !ok {
				t.Errorf("%s: %T", tc.name, m)
			}
		case !refused || r.Field != tc.field:
			t.Errorf("%s: got %#v, want refused %s", tc.name, m, tc.field)
		}
	}
}

func TestJWTTokenLocation(t *testing.T) {
	api := &model.APIDefinition{APIID: "a", OrgID: "o", EnableJWT: true,
		JWTSource:   base64.StdEncoding.EncodeToString([]byte("s3cret")),
		AuthConfigs: map[string]model.AuthConfig{"jwt": {UseCookie: true, CookieName: "jwt"}}}
	m := For(api).(*JWT)
	tok := jwttest.MustSign("HS256", []byte("s3cret"), nil, map[string]any{"sub": "u"})
	id, d := m.Identify(headers{"cookie": "jwt=" + tok}, "/")
	if d != nil || id.Cred.From != Cookie || id.JWT == nil || id.JWT.Session.Dynamic.Identity != "u" {
		t.Fatalf("cookie: %+v %+v", id, d)
	}
	if _, d := m.Identify(headers{}, "/"); d != DenyJWTMissing || d.Status != 400 {
		t.Fatalf("missing: %+v", d)
	}
}

func TestJWTCacheFollowsTheConfiguration(t *testing.T) {
	api := &model.APIDefinition{APIID: "a", OrgID: "o", EnableJWT: true,
		JWTSource: base64.StdEncoding.EncodeToString([]byte("old-secret"))}
	tok := "Bearer " + jwttest.MustSign("HS256", []byte("old-secret"), nil, map[string]any{"sub": "u"})
	if _, d := For(api).Identify(headers{"authorization": tok}, "/"); d != nil {
		t.Fatal(d)
	}
	// The secret is rotated: the token verified (and cached) under the old
	// one is refused under the new one.
	api.JWTSource = base64.StdEncoding.EncodeToString([]byte("new-secret"))
	if _, d := For(api).Identify(headers{"authorization": tok}, "/"); d != DenyJWTInvalid {
		t.Fatalf("after rotation: %+v", d)
	}
}

func TestJWTCacheFollowsThePolicySettings(t *testing.T) {
	api := &model.APIDefinition{APIID: "a", OrgID: "o", EnableJWT: true, JWTDefaultPolicies: []string{"p1"},
		JWTSource: base64.StdEncoding.EncodeToString([]byte("s3cret"))}
	tok := "Bearer " + jwttest.MustSign("HS256", []byte("s3cret"), nil, map[string]any{"sub": "u"})
	id, _ := For(api).Identify(headers{"authorization": tok}, "/")
	api.JWTDefaultPolicies = []string{"p2"}
	id2, _ := For(api).Identify(headers{"authorization": tok}, "/")
	if got := id2.JWT.Session.Config.(*jwt.Config).DefaultPolicies; len(got) != 1 || got[0] != "p2" || id.JWT == id2.JWT {
		t.Fatalf("a changed default policy list still sees %v", got)
	}
}
