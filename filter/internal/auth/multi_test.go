package auth

import (
	"net/http"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
)

func TestForChains(t *testing.T) {
	for _, tc := range []struct {
		name  string
		api   model.APIDefinition
		names []string // nil: not a chain
		base  int
	}{
		{"basic alone", model.APIDefinition{UseBasicAuth: true}, nil, 0},
		{"basic alone, named base", model.APIDefinition{UseBasicAuth: true, BaseIdentityProvidedBy: "basic_auth_user"}, nil, 0},
		{"basic alone, other base", model.APIDefinition{UseBasicAuth: true, BaseIdentityProvidedBy: "auth_token"},
			[]string{"use_basic_auth"}, -1},
		{"unset base: the last", model.APIDefinition{UseBasicAuth: true, EnableSignatureChecking: true, UseStandardAuth: true},
			[]string{"use_basic_auth", "enable_signature_checking", "use_standard_auth"}, 2},
		{"named base", model.APIDefinition{UseBasicAuth: true, UseStandardAuth: true, BaseIdentityProvidedBy: "basic_auth_user"},
			[]string{"use_basic_auth", "use_standard_auth"}, 0},
		{"hmac base", model.APIDefinition{UseBasicAuth: true, EnableSignatureChecking: true, BaseIdentityProvidedBy: "hmac_key"},
			[]string{"use_basic_auth", "enable_signature_checking"}, 1},
		{"unknown base", model.APIDefinition{UseBasicAuth: true, UseStandardAuth: true, BaseIdentityProvidedBy: "jwt_claim"},
			[]string{"use_basic_auth", "use_standard_auth"}, -1},
		// JWT and OpenID Connect are members like the others (after HMAC,
		// before the auth token) ...
		{"jwt, unset base", model.APIDefinition{EnableJWT: true, JWTSource: "c2VjcmV0", UseStandardAuth: true},
			[]string{"enable_jwt", "use_standard_auth"}, 1},
		{"jwt base", model.APIDefinition{EnableJWT: true, JWTSource: "c2VjcmV0", UseStandardAuth: true, BaseIdentityProvidedBy: "jwt_claim"},
			[]string{"enable_jwt", "use_standard_auth"}, 0},
		{"oidc base", model.APIDefinition{UseOpenID: true, UseBasicAuth: true, BaseIdentityProvidedBy: "oidc_user"},
			[]string{"use_basic_auth", "use_openid"}, 1},
		{"jwt and oidc", model.APIDefinition{EnableJWT: true, JWTSource: "c2VjcmV0", UseOpenID: true, BaseIdentityProvidedBy: "jwt_claim"},
			[]string{"enable_jwt", "use_openid"}, 0},
		// ... but a one-to-one JWT (no jwt_source) sets the session whatever
		// the base says: it is the base unless a later member is.
		{"one-to-one jwt, earlier base", model.APIDefinition{UseBasicAuth: true, EnableJWT: true, BaseIdentityProvidedBy: "basic_auth_user"},
			[]string{"use_basic_auth", "enable_jwt"}, 1},
		{"one-to-one jwt, later base", model.APIDefinition{EnableJWT: true, UseStandardAuth: true, BaseIdentityProvidedBy: "auth_token"},
			[]string{"enable_jwt", "use_standard_auth"}, 1},
		{"one-to-one jwt, no base enabled", model.APIDefinition{EnableJWT: true, UseStandardAuth: true, BaseIdentityProvidedBy: "hmac_key"},
			[]string{"enable_jwt", "use_standard_auth"}, 0},
	} {
		m := For(&tc.api)
		c, ok := m.(*Chain)
		if tc.names == nil {
			if ok {
				t.Errorf("%s: chain %+v", tc.name, c)
			}
			continue
		}
		if !ok || len(c.Names) != len(tc.names) || c.Base != tc.base {
			t.Errorf("%s: %#v", tc.name, m)
			continue
		}
		for i, n := range tc.names {
			if c.Names[i] != n {
				t.Errorf("%s: member %d is %s, want %s", tc.name, i, c.Names[i], n)
			}
		}
	}
}

func TestChainIdentify(t *testing.T) {
	api := &model.APIDefinition{OrgID: "o", UseBasicAuth: true, UseStandardAuth: true,
		AuthConfigs: map[string]model.AuthConfig{"basic": {AuthHeaderName: "X-Basic"}}}
	c := For(api).(*Chain)
	// The first failing member answers, in Tyk's order.
	if _, failed, d := c.IdentifyAll(headers{"authorization": "tok-1"}, "/"); d == nil || failed != 0 || d.Status != 401 {
		t.Errorf("missing basic: %d %+v", failed, d)
	}
	if _, failed, d := c.IdentifyAll(headers{"x-basic": basicHeader("alice", "pw")}, "/"); d != DenyMissing || failed != 1 {
		t.Errorf("missing token: %d %+v", failed, d)
	}
	req := headers{"x-basic": basicHeader("alice", "pw"), "authorization": "tok-1"}
	ids, _, d := c.IdentifyAll(req, "/")
	if d != nil || len(ids) != 2 || ids[0].Key != "oalice" || ids[1].Key != "tok-1" {
		t.Fatalf("%+v %+v", ids, d)
	}
	if id, d := c.Identify(req, "/"); d != nil || id.Key != "tok-1" {
		t.Errorf("base identity %+v %+v", id, d)
	}
	c.Base = -1
	if _, d := c.Identify(req, "/"); d != DenySessionMissing || d.Status != 400 {
		t.Errorf("no base: %+v", d)
	}
}

// Basic auth reading credentials from the body is a member like another
// (Tyk's middleware does not look at the other methods): without a header
// it answers DenyNeedsBody, and identifies from the body once it is read;
// the other members are identified from the headers either way.
func TestChainIdentifyWithBody(t *testing.T) {
	api := &model.APIDefinition{OrgID: "o", UseBasicAuth: true, EnableSignatureChecking: true,
		BaseIdentityProvidedBy: "basic_auth_user",
		BasicAuth:              model.BasicAuthMeta{ExtractFromBody: true, BodyUserRegexp: `user=(\w+)`, BodyPasswordRegexp: `pass=(\w*)`}}
	c, ok := For(api).(*Chain)
	if !ok || c.Names[c.Base] != "use_basic_auth" {
		t.Fatalf("%#v", For(api))
	}
	signed := headers{"authorization": `Signature keyId="hmac-key",algorithm="hmac-sha256",signature="c2ln"`,
		"date": time.Now().UTC().Format(http.TimeFormat)}
	if _, failed, d := c.IdentifyAll(signed, "/"); d != DenyNeedsBody || failed != 0 {
		t.Fatalf("no basic header: %d %+v", failed, d)
	}
	ids, _, d := c.IdentifyAllWithBody(signed, "/", []byte("user=alice&pass=pw"))
	if d != nil || ids[0].Key != "oalice" || string(ids[0].BodyPassword) != "pw" || ids[1].Key != "hmac-key" {
		t.Fatalf("with the body: %+v %+v", ids, d)
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		req    headers
		failed int
		msg    string
	}{
		{"no user in the body", []byte("pass=pw"), signed, 0, "Body do not contain username"},
		{"no body", nil, signed, 0, "Body do not contain username"},
		{"body, no signature", []byte("user=alice&pass=pw"), headers{}, 1, ""},
	} {
		_, failed, d := c.IdentifyAllWithBody(tc.req, "/", tc.body)
		if d == nil || failed != tc.failed || tc.msg != "" && d.Message != tc.msg {
			t.Errorf("%s: %d %+v", tc.name, failed, d)
		}
	}
}
