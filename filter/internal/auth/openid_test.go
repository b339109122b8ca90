package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/oidc"
)

func TestOpenID(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	api := &model.APIDefinition{APIID: "oid", OrgID: "org1", UseOpenID: true,
		OpenIDOptions: &model.OpenIDOptions{Providers: []model.OIDProvider{
			{Issuer: "https://idp-a", ClientIDs: map[string]string{b64("web"): "pol-web"}},
			{Issuer: "https://idp-r", ClientIDs: map[string]string{b64("web"): "pol-r"}},
			{Issuer: "https://idp-empty", ClientIDs: map[string]string{b64("web"): "pol-e"}},
		}}}
	m := For(api).(*OpenID)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var missed []string
	m.SetEnv(map[string]jwt.KeySet{
		oidc.KeySetID("oid", 0): {{Kid: "e1", Key: &ek.PublicKey}},
		oidc.KeySetID("oid", 1): {{Kid: "r1", Key: &rk.PublicKey}},
	}, func() int64 { return at.UnixNano() }, func(id string) { missed = append(missed, id) })
	if got := m.MissingKeys(); len(got) != 1 || got[0] != "https://idp-empty" {
		t.Errorf("missing keys %v", got)
	}
	claims := func(iss string, extra ...any) map[string]any {
		c := map[string]any{"iss": iss, "sub": "alice", "aud": "web", "exp": at.Unix() + 60}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}
	es := func(kid any, c map[string]any) string {
		h := map[string]any{}
		if kid != nil {
			h["kid"] = kid
		}
		return "Bearer " + jwttest.MustSign("ES256", ek, h, c)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	wantID := jwt.SessionID("org1", "alice") // org + md5(sub), as JWT's
	for _, tc := range []struct {
		name   string
		header string
		deny   *Denial
		policy string
	}{
		{"ES256 with kid", es("e1", claims("https://idp-a")), nil, "pol-web"},
		{"no kid: the issuer's first key", es(nil, claims("https://idp-a", "n", 1)), nil, "pol-web"},
		{"RS256, second provider", "Bearer " + jwttest.MustSign("RS256", rk, map[string]any{"kid": "r1"}, claims("https://idp-r")), nil, "pol-r"},
		{"missing", "", denyOIDCMissing, ""},
		{"not Bearer", es("e1", claims("https://idp-a"))[len("Bearer "):], DenyOIDC, ""},
		{"lower-case bearer", "bearer " + es("e1", claims("https://idp-a"))[len("Bearer "):], DenyOIDC, ""},
		{"garbage", "Bearer abc", DenyOIDC, ""},
		{"unknown kid", es("e9", claims("https://idp-a")), DenyOIDCNoKey, ""},
		{"other key", "Bearer " + jwttest.MustSign("ES256", other, map[string]any{"kid": "e1"}, claims("https://idp-a")), DenyOIDC, ""},
		{"HS256 with the public key as secret", "Bearer " + jwttest.MustSign("HS256", pub, map[string]any{"kid": "e1"}, claims("https://idp-a")), DenyOIDC, ""},
		{"none", "Bearer " + jwttest.MustSign("none", nil, map[string]any{"kid": "e1"}, claims("https://idp-a")), DenyOIDC, ""},
		{"expired", es("e1", claims("https://idp-a", "exp", at.Unix()-1)), DenyOIDC, ""},
		{"not yet valid", es("e1", claims("https://idp-a", "nbf", at.Unix()+10)), DenyOIDC, ""},
		{"unknown issuer", es("e1", claims("https://idp-x")), DenyOIDC, ""},
		{"issuer of another key", es("e1", claims("https://idp-r")), DenyOIDCNoKey, ""},
		{"issuer without keys yet", es("e1", claims("https://idp-empty")), DenyOIDCNoKey, ""},
		{"unknown client", es("e1", claims("https://idp-a", "aud", "cli")), DenyOIDC, ""},
	} {
		h := headers{}
		if tc.header != "" {
			h["authorization"] = tc.header
		}
		id, d := m.Identify(h, "/oid/x")
		if d != tc.deny {
			t.Errorf("%s: denial %+v, want %+v", tc.name, d, tc.deny)
			continue
		}
		if d != nil {
			if d.Status != 401 || d.Message != "Key not authorised" {
				t.Errorf("%s: %+v", tc.name, d)
			}
			continue
		}
		s := id.JWT.Session
		if id.Key != wantID || s.Policies.Base != tc.policy || s.Dynamic.Identity != "web:alice" || id.Cred.Name != "authorization" {
			t.Errorf("%s: identity %+v, session %+v", tc.name, id, s)
		}
		// Seen again: the remembered token, no verification.
		if id2, _ := m.Identify(h, "/oid/x"); id2.JWT != id.JWT {
			t.Errorf("%s: not remembered", tc.name)
		}
	}
	// An unknown kid, a kid of another issuer's, a kid for an issuer
	// without keys: each may be a rotation (the plugin bounds the refetches).
	if len(missed) != 3 || missed[0] != "oid" {
		t.Errorf("unknown kids reported %v, want [oid oid oid]", missed)
	}

	// segregate_by_client: the client is part of the session id.
	api.OpenIDOptions.SegregateByClient = true
	sm := For(api).(*OpenID)
	sm.SetEnv(map[string]jwt.KeySet{oidc.KeySetID("oid", 0): {{Kid: "e1", Key: &ek.PublicKey}}},
		func() int64 { return at.UnixNano() }, nil)
	id, d := sm.Identify(headers{"authorization": es("e1", claims("https://idp-a"))}, "/")
	if d != nil || id.Key != (&oidc.Config{OrgID: "org1", SegregateByClient: true}).Dynamic("web", "alice").SessionID || id.Key == wantID {
		t.Errorf("segregated: %q %+v", id.Key, d)
	}

	// An undecodable client id: every request refused, never a key check.
	api.OpenIDOptions.Providers[0].ClientIDs = map[string]string{"%%": "p"}
	if r, ok := For(api).(Refused); !ok || r.Field != "openid_options" {
		t.Errorf("bad client id: %#v", For(api))
	}
}
