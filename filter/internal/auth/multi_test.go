package auth

import (
	"testing"

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
