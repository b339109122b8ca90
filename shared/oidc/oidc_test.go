package oidc

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func md5s(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

var testProviders = &model.OpenIDOptions{Providers: []model.OIDProvider{
	{Issuer: "https://idp-a", ClientIDs: map[string]string{b64("web"): "pol-web", b64("cli"): "pol-cli"}},
	{Issuer: "https://accounts.google.com", ClientIDs: map[string]string{b64("g"): "pol-g"}},
	{Issuer: "https://idp-a", ClientIDs: map[string]string{b64("second"): "pol-2"}},
}}

func TestProviders(t *testing.T) {
	ps, err := Providers(testProviders)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || !slices.Equal(ps[0].ClientIDs, []string{"cli", "web"}) || ps[0].Policies["web"] != "pol-web" {
		t.Errorf("providers %+v", ps)
	}
	if _, err := Providers(&model.OpenIDOptions{Providers: []model.OIDProvider{{Issuer: "x",
		ClientIDs: map[string]string{"not base64!": "p"}}}}); err == nil {
		t.Error("a client id that is not base64 must be refused")
	}
	if ps, err := Providers(nil); ps != nil || err != nil {
		t.Errorf("nil options: %v %v", ps, err)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		raw, tok string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "", false},
		{"abc", "", false},
		{"Bearer  abc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	} {
		if tok, ok := BearerToken(tc.raw); tok != tc.tok || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.raw, tok, ok, tc.tok, tc.ok)
		}
	}
}

func token(t *testing.T, claims map[string]any) *jwt.Token {
	t.Helper()
	tok, err := jwt.Parse(jwttest.MustSign("HS256", []byte("k"), nil, claims))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A token's claims, its provider (whose keys verify it) and its policy.
func TestMatch(t *testing.T) {
	ps, _ := Providers(testProviders)
	for _, tc := range []struct {
		name     string
		claims   map[string]any
		provider int // -1: not accepted
		client   string
		policy   string // "": no policy (401)
	}{
		{"string aud", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": "web"}, 0, "web", "pol-web"},
		{"array aud, first client wins", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": []any{"other", "cli", "web"}}, 0, "cli", "pol-cli"},
		{"client of a second provider of the issuer", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": "second"}, -1, "", ""},
		{"unknown issuer", map[string]any{"iss": "https://idp-b", "sub": "u1", "aud": "web"}, -1, "", ""},
		{"unknown audience", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": "nobody"}, -1, "", ""},
		{"no sub", map[string]any{"iss": "https://idp-a", "aud": "web"}, -1, "", ""},
		{"empty sub", map[string]any{"iss": "https://idp-a", "sub": "", "aud": "web"}, -1, "", ""},
		{"sub not a string", map[string]any{"iss": "https://idp-a", "sub": 7, "aud": "web"}, -1, "", ""},
		{"no aud", map[string]any{"iss": "https://idp-a", "sub": "u1"}, -1, "", ""},
		{"aud not strings", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": []any{"web", 3}}, -1, "", ""},
		{"empty aud", map[string]any{"iss": "https://idp-a", "sub": "u1", "aud": []any{"", "web"}}, -1, "", ""},
		// Google's issuer without scheme verifies with the https provider's
		// keys, but Tyk looks its policy up by the issuer as sent: none.
		{"google without scheme", map[string]any{"iss": "accounts.google.com", "sub": "u1", "aud": "g"}, 1, "", ""},
		{"google with scheme", map[string]any{"iss": "https://accounts.google.com", "sub": "u1", "aud": "g"}, 1, "g", "pol-g"},
	} {
		c, err := ReadClaims(token(t, tc.claims))
		var i int
		if err == nil {
			i, err = ProviderOf(ps, c)
		}
		if (err == nil) != (tc.provider >= 0) || err == nil && i != tc.provider {
			t.Errorf("%s: provider %d, %v; want %d", tc.name, i, err, tc.provider)
			continue
		}
		if err != nil {
			continue
		}
		client, pol, err := Policy(ps, c)
		if client != tc.client || pol != tc.policy || (err == nil) != (tc.policy != "") {
			t.Errorf("%s: policy %q %q %v, want %q %q", tc.name, client, pol, err, tc.client, tc.policy)
		}
	}
}

func TestFindKey(t *testing.T) {
	ks := jwt.KeySet{{Kid: "a", Key: "key-a"}, {Kid: "b", Key: "key-b"}}
	for _, tc := range []struct {
		kid    string
		kidSet bool
		want   any
	}{
		{"", false, "key-a"},
		{"b", true, "key-b"},
		{"c", true, nil},
	} {
		if got, ok := FindKey(ks, tc.kid, tc.kidSet); got != tc.want || ok != (tc.want != nil) {
			t.Errorf("kid %q: %v %v", tc.kid, got, ok)
		}
	}
	if _, ok := FindKey(nil, "", false); ok {
		t.Error("an empty set has no key")
	}
}

func TestDynamicAndURLs(t *testing.T) {
	c := &Config{OrgID: "org1"}
	if d := c.Dynamic("web", "alice"); d.SessionID != "org1"+md5s("alice") || d.Identity != "web:alice" || d.MetaClientID != "web" {
		t.Errorf("dynamic %+v", d)
	}
	c.SegregateByClient = true
	if d := c.Dynamic("web", "alice"); d.SessionID != "org1"+md5s("web")+md5s("alice") {
		t.Errorf("segregated %+v", d)
	}
	for issuer, want := range map[string]string{
		"https://idp/":        "https://idp/.well-known/openid-configuration",
		"https://idp/realm":   "https://idp/realm/.well-known/openid-configuration",
		"accounts.google.com": "https://accounts.google.com/.well-known/openid-configuration",
	} {
		if got := DiscoveryURL(issuer); got != want {
			t.Errorf("%s: %s", issuer, got)
		}
	}
	if KeySetID("api", 2) != "api#oidc2" {
		t.Error(KeySetID("api", 2))
	}
}

func TestSessions(t *testing.T) {
	pols := policy.Map{
		"p1": {ID: "p1", OrgID: "org1", Rate: 10, Per: 1, QuotaMax: -1, KeyExpiresIn: 60, Active: true,
			AccessRights: map[string]model.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}},
		"p2": {ID: "p2", OrgID: "org1", Rate: 20, Per: 1, QuotaMax: -1, Active: true,
			AccessRights: map[string]model.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}},
		"other": {ID: "other", OrgID: "org2", Rate: 1, Per: 1, Active: true},
	}
	c := &Config{OrgID: "org1"}
	for _, tc := range []struct {
		name   string
		base   string
		exists bool
		stored []string
		err    error
		update bool
	}{
		{"new", "p1", false, nil, nil, true},
		{"new, unknown policy", "nope", false, nil, ErrNoMatchingPolicy, false},
		{"new, policy of another org", "other", false, nil, ErrNoMatchingPolicy, false},
		{"stored with the policy", "p1", true, []string{"p1"}, nil, false},
		{"stored with another policy", "p2", true, []string{"p1"}, nil, true},
		{"stored with more policies", "p1", true, []string{"p1", "p2"}, nil, true},
		{"stored, policy gone", "nope", true, []string{"p1"}, ErrCouldNotApply, false},
	} {
		ch, err := c.Choose(jwt.TokenPolicies{Base: tc.base}, tc.exists, tc.stored, pols)
		if err != tc.err || err == nil && (ch.Update != tc.update || !slices.Equal(ch.Policies, []string{tc.base})) {
			t.Errorf("%s: %+v %v", tc.name, ch, err)
		}
	}
	ch, _ := c.Choose(jwt.TokenPolicies{Base: "p1"}, false, nil, pols)
	s, err := c.NewSession(ch, c.Dynamic("web", "alice"), pols, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if s.Alias != "web:alice" || string(s.MetaData["ClientID"]) != `"web"` ||
		string(s.MetaData["TykJWTSessionID"]) != `"org1`+md5s("alice")+`"` || s.Rate != 10 ||
		s.Expires != 1060 || !slices.Equal(s.ApplyPolicies, []string{"p1"}) || s.OauthClientID != "" {
		t.Errorf("new session %+v", s)
	}
	s.OauthClientID = "set-by-operator"
	ch, _ = c.Choose(jwt.TokenPolicies{Base: "p2"}, true, []string{"p1"}, pols)
	u, err := c.Update(s, ch, c.Dynamic("web", "alice"), pols)
	if err != nil || u.Rate != 20 || !slices.Equal(u.ApplyPolicies, []string{"p2"}) || u.OauthClientID != "set-by-operator" {
		t.Errorf("updated %+v %v", u, err)
	}
}

// With a scope-to-policy mapping, Tyk ignores the clients' policies: the
// session gets exactly the policies the token's scopes map to.
func TestScopeMapping(t *testing.T) {
	ps, _ := Providers(&model.OpenIDOptions{Providers: []model.OIDProvider{
		{Issuer: "https://idp-a", ClientIDs: map[string]string{b64("web"): "pol-web", b64("bare"): ""}},
		{Issuer: "https://accounts.google.com", ClientIDs: map[string]string{b64("g"): "pol-g"}},
	}})
	scoped := &Config{OrgID: "org1", ScopeToPolicy: map[string]string{"read": "p1", "write": "p2", "admin": "other"},
		ScopeClaimName: "perms.list"}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		client string
		scopes []string
		ok     bool
	}{
		{"client policy ignored", map[string]any{"iss": "https://idp-a", "sub": "u", "aud": "web", "perms": map[string]any{"list": "read write"}},
			"web", []string{"read", "write"}, true},
		{"client without a policy", map[string]any{"iss": "https://idp-a", "sub": "u", "aud": []any{"x", "bare"}, "perms": map[string]any{"list": []any{"read"}}},
			"bare", []string{"read"}, true},
		{"no scope claim", map[string]any{"iss": "https://idp-a", "sub": "u", "aud": "web"}, "web", nil, true},
		{"issuer not as sent", map[string]any{"iss": "accounts.google.com", "sub": "u", "aud": "g"}, "", nil, false},
	} {
		tok := token(t, tc.claims)
		c, err := ReadClaims(tok)
		if err != nil {
			t.Fatal(err)
		}
		client, tp, err := scoped.Policies(ps, c, tok)
		if (err == nil) != tc.ok || err == nil && (client != tc.client || tp.Base != "" || !slices.Equal(tp.Scopes, tc.scopes)) {
			t.Errorf("%s: %q %+v %v", tc.name, client, tp, err)
		}
	}
	// Without a mapping the client's policy decides, and a client without
	// one is refused.
	plain := &Config{OrgID: "org1"}
	tok := token(t, map[string]any{"iss": "https://idp-a", "sub": "u", "aud": "bare", "scope": "read"})
	c, _ := ReadClaims(tok)
	if _, _, err := plain.Policies(ps, c, tok); err == nil {
		t.Error("a client without a policy accepted without a scope mapping")
	}

	pols := policy.Map{
		"p1": {ID: "p1", OrgID: "org1", Rate: 10, Per: 1, QuotaMax: -1, Active: true,
			AccessRights: map[string]model.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}},
		"p2": {ID: "p2", OrgID: "org1", Rate: 20, Per: 1, QuotaMax: -1, Active: true,
			AccessRights: map[string]model.AccessDefinition{"api2": {APIID: "api2", Versions: []string{"Default"}}}},
		"other": {ID: "other", OrgID: "org2", Rate: 1, Per: 1, Active: true},
	}
	for _, tc := range []struct {
		name     string
		scopes   []string
		exists   bool
		stored   []string
		policies []string
		update   bool
	}{
		{"new", []string{"read", "write", "unmapped"}, false, nil, []string{"p1", "p2"}, true},
		{"new, no mapped scope", []string{"unmapped"}, false, nil, nil, true},
		{"stored, same policies", []string{"write", "read"}, true, []string{"p2", "p1"}, []string{"p1", "p2"}, false},
		{"stored, scopes changed", []string{"read"}, true, []string{"p1", "p2"}, []string{"p1"}, true},
		{"stored, no scope left", nil, true, []string{"p1"}, nil, true},
	} {
		ch, err := scoped.Choose(jwt.TokenPolicies{Base: "pol-web", Scopes: tc.scopes}, tc.exists, tc.stored, pols)
		if err != nil || ch.Base != "" || !slices.Equal(ch.Policies, tc.policies) || ch.Update != tc.update || ch.ApplyErr != ErrCouldNotApply {
			t.Errorf("%s: %+v %v", tc.name, ch, err)
		}
	}
	// A new session starts empty: the mapped policies give it everything.
	ch, _ := scoped.Choose(jwt.TokenPolicies{Scopes: []string{"read", "write"}}, false, nil, pols)
	s, err := scoped.NewSession(ch, scoped.Dynamic("web", "u"), pols, 1000)
	if err != nil || !slices.Equal(s.ApplyPolicies, []string{"p1", "p2"}) || len(s.AccessRights) != 2 ||
		s.Alias != "web:u" || string(s.MetaData["ClientID"]) != `"web"` {
		t.Errorf("new session %+v %v", s, err)
	}
	ch, _ = scoped.Choose(jwt.TokenPolicies{}, false, nil, pols)
	if s, err := scoped.NewSession(ch, scoped.Dynamic("web", "u"), pols, 1000); err != nil || len(s.ApplyPolicies) != 0 ||
		len(s.AccessRights) != 0 || s.Rate != 0 {
		t.Errorf("new session without policies %+v %v", s, err)
	}
	// A mapped policy of another org cannot be applied: Tyk's 403.
	ch, _ = scoped.Choose(jwt.TokenPolicies{Scopes: []string{"admin"}}, false, nil, pols)
	if _, err := scoped.NewSession(ch, scoped.Dynamic("web", "u"), pols, 1000); err != ErrCouldNotApply {
		t.Errorf("policy of another org: %v", err)
	}
}
