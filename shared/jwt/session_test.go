package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

func pol(id, org string, rate float64) *model.Policy {
	return &model.Policy{ID: id, OrgID: org, Rate: rate, Per: 60, QuotaMax: -1, Active: true,
		AccessRights: map[string]model.AccessDefinition{"api1": {APIID: "api1", Versions: []string{"Default"}}}}
}

var testPolicies = policy.Map{
	"gold": pol("gold", "org1", 100), "silver": pol("silver", "org1", 10), "bronze": pol("bronze", "org1", 1),
	"read": pol("read", "org1", 5), "write": pol("write", "org1", 5), "foreign": pol("foreign", "org2", 1),
}

// The cases of processCentralisedJWT (Tyk 5.8 §9.1): which policies the
// session gets, whether it is written, and the errors.
func TestChoose(t *testing.T) {
	scopes := map[string]string{"read:all": "read", "write:all": "write"}
	for _, tc := range []struct {
		name     string
		cfg      Config
		tp       TokenPolicies
		exists   bool
		stored   []string
		want     string // policies, comma-separated
		update   bool
		applyErr error
		err      error
	}{
		{name: "new: policy claim", cfg: Config{PolicyFieldName: "pol"}, tp: TokenPolicies{Base: "gold"},
			want: "gold", update: true, applyErr: ErrCouldNotApplyNewSession},
		{name: "new: default policies", cfg: Config{DefaultPolicies: []string{"silver", "bronze"}},
			want: "silver,bronze", update: true, applyErr: ErrCouldNotApplyNewSession},
		{name: "new: claim wins over defaults", cfg: Config{PolicyFieldName: "pol", DefaultPolicies: []string{"silver"}},
			tp: TokenPolicies{Base: "gold"}, want: "gold", update: true, applyErr: ErrCouldNotApplyNewSession},
		{name: "new: unknown policy", tp: TokenPolicies{Base: "nope"}, err: ErrNoMatchingPolicy},
		{name: "new: policy of another org", tp: TokenPolicies{Base: "foreign"}, err: ErrNoMatchingPolicy},
		{name: "new: no policy at all", err: ErrNoMatchingPolicyFound},
		{name: "existing: same policy", tp: TokenPolicies{Base: "gold"}, exists: true, stored: []string{"gold"},
			want: "gold", applyErr: ErrCouldNotApplyNewSession},
		{name: "existing: token names another policy", tp: TokenPolicies{Base: "silver"}, exists: true,
			stored: []string{"gold"}, want: "silver", update: true, applyErr: ErrCouldNotApplyNewPolicy},
		{name: "existing: extra stored policies kept", tp: TokenPolicies{Base: "gold"}, exists: true,
			stored: []string{"gold", "bronze"}, want: "gold,bronze", applyErr: ErrCouldNotApplyNewSession},
		{name: "existing: unknown policy", tp: TokenPolicies{Base: "nope"}, exists: true, stored: []string{"gold"},
			err: ErrNoMatchingPolicy},
		{name: "existing: switch to another org's policy", tp: TokenPolicies{Base: "foreign"}, exists: true,
			stored: []string{"gold"}, err: ErrNoMatchingPolicy},
		{name: "existing: session without policies", tp: TokenPolicies{Base: "gold"}, exists: true,
			err: ErrNoMatchingPolicyFound},
		{name: "existing: default list changed", cfg: Config{DefaultPolicies: []string{"silver", "bronze"}},
			exists: true, stored: []string{"silver"}, want: "silver,bronze", update: true, applyErr: ErrCouldNotApplyNewPolicy},
		{name: "existing: defaults unchanged", cfg: Config{DefaultPolicies: []string{"silver", "bronze"}},
			exists: true, stored: []string{"silver", "bronze"}, want: "silver,bronze", applyErr: ErrCouldNotApplyNewSession},
		{name: "existing: no policy claim and no defaults", exists: true, stored: []string{"gold"},
			err: ErrNoMatchingPolicyFound},
		{name: "scopes: base plus mapped", cfg: Config{ScopeToPolicy: scopes},
			tp:   TokenPolicies{Base: "gold", Scopes: []string{"write:all", "read:all", "other"}},
			want: "gold,read,write", update: true, applyErr: ErrCouldNotApplySeveral},
		{name: "scopes only", cfg: Config{ScopeToPolicy: scopes}, tp: TokenPolicies{Scopes: []string{"read:all"}},
			want: "read", update: true, applyErr: ErrCouldNotApplySeveral},
		{name: "scopes replace defaults", cfg: Config{ScopeToPolicy: scopes, DefaultPolicies: []string{"bronze"}},
			tp: TokenPolicies{Scopes: []string{"read:all"}}, want: "read", update: true, applyErr: ErrCouldNotApplySeveral},
		{name: "scopes: none matches", cfg: Config{ScopeToPolicy: scopes}, tp: TokenPolicies{Scopes: []string{"x"}},
			err: ErrNoPolicyInScope},
		{name: "scopes: existing, unchanged", cfg: Config{ScopeToPolicy: scopes},
			tp: TokenPolicies{Scopes: []string{"read:all"}}, exists: true, stored: []string{"read"},
			want: "read", applyErr: ErrCouldNotApplySeveral},
		{name: "scopes: existing, changed", cfg: Config{ScopeToPolicy: scopes},
			tp: TokenPolicies{Scopes: []string{"write:all"}}, exists: true, stored: []string{"read"},
			want: "write", update: true, applyErr: ErrCouldNotApplySeveral},
		{name: "scopes: existing, token without scope or policy", cfg: Config{ScopeToPolicy: scopes},
			exists: true, stored: []string{"read"}, err: ErrNoScopeOrPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.OrgID = "org1"
			ch, err := tc.cfg.Choose(tc.tp, tc.exists, tc.stored, testPolicies)
			if err != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := strings.Join(ch.Policies, ","); got != tc.want || ch.Update != tc.update || ch.ApplyErr != tc.applyErr {
				t.Fatalf("got %q update=%v applyErr=%v, want %q %v %v", got, ch.Update, ch.ApplyErr, tc.want, tc.update, tc.applyErr)
			}
		})
	}
}

func TestNewSession(t *testing.T) {
	cfg := Config{OrgID: "org1", PolicyFieldName: "pol"}
	gold := *testPolicies["gold"]
	gold.KeyExpiresIn = 3600
	gold.Tags = []string{"t1"}
	pols := policy.Map{"gold": &gold, "bronze": testPolicies["bronze"]}
	ch, err := cfg.Choose(TokenPolicies{Base: "gold"}, false, nil, pols)
	if err != nil {
		t.Fatal(err)
	}
	const now = 1_700_000_000
	d := Dynamic{SessionID: SessionID("org1", "u1"), Identity: "u1", ClientID: "c1", Exp: now + 60}
	s, err := cfg.NewSession(ch, d, pols, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.OrgID != "org1" || s.Rate != 100 || s.Per != 60 || s.Allowance != 100 || s.Alias != "u1" ||
		s.OauthClientID != "c1" || s.Expires != now+3600 || strings.Join(s.ApplyPolicies, ",") != "gold" {
		t.Errorf("session %+v", s)
	}
	if _, ok := s.AccessRights["api1"]; !ok {
		t.Errorf("access rights %v", s.AccessRights)
	}
	if got := string(s.MetaData["TykJWTSessionID"]); got != `"org1`+SessionID("", "u1")+`"` {
		t.Errorf("meta_data %s", got)
	}
	// The token's exp wins when later than the policy's expiry.
	d.Exp = now + 7200
	if s, _ := cfg.NewSession(ch, d, pols, now); s.Expires != now+7200 {
		t.Errorf("expires %d", s.Expires)
	}
	// Updating an existing session keeps its own fields.
	stored := s.Clone()
	stored.Alias = "edited"
	ch.Policies = []string{"bronze"}
	u, err := cfg.Update(stored, ch, d, pols)
	if err != nil || u.Alias != "edited" || u.Rate != 1 || strings.Join(u.ApplyPolicies, ",") != "bronze" {
		t.Errorf("update: %+v %v", u, err)
	}
	if stored.Rate != 100 {
		t.Error("Update modified the stored session")
	}
	// A policy that cannot be applied gives Choice.ApplyErr.
	pols["foreign"] = testPolicies["foreign"]
	ch.Policies, ch.ApplyErr = []string{"gold", "foreign"}, ErrCouldNotApplySeveral
	if _, err := cfg.Update(stored, ch, d, pols); err != ErrCouldNotApplySeveral {
		t.Errorf("apply error %v", err)
	}
}

func TestKeySetRoundTrip(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ks := KeySet{{Kid: "r1", Key: &rk.PublicKey}, {Kid: "e1", Key: &ek.PublicKey}, {Kid: "h1", Key: []byte("s3cret")}}
	doc := AppendKeySet(nil, ks)
	got, err := ParseKeySet(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if len(got) != 3 {
		t.Fatalf("got %d keys", len(got))
	}
	if k, ok := got.Find("r1", true); !ok || !k.(*rsa.PublicKey).Equal(&rk.PublicKey) {
		t.Error("RSA key")
	}
	if k, ok := got.Find("e1", true); !ok || !k.(*ecdsa.PublicKey).Equal(&ek.PublicKey) {
		t.Error("EC key")
	}
	if k, ok := got.Find("h1", true); !ok || string(k.([]byte)) != "s3cret" {
		t.Error("oct key")
	}
	if _, ok := got.Find("zz", true); ok {
		t.Error("unknown kid found")
	}
	if _, ok := got.Find("", false); ok {
		t.Error("a token without kid matched a set of three")
	}
	if k, ok := got[:1].Find("", false); !ok || k == nil {
		t.Error("a token without kid must match a set of one")
	}
	static := KeySet{{Key: &rk.PublicKey}} // a PEM jwt_source
	if _, ok := static.Find("any-kid", true); !ok {
		t.Error("a static key must serve a token with a kid")
	}
}

func TestParseKeySetErrors(t *testing.T) {
	for _, tc := range []struct{ doc, err string }{
		{`[]`, "not an object"},
		{`{}`, `no "keys"`},
		{`{"keys":[{"kty":"RSA","n":"AQAB"}]}`, `missing "e"`},
		{`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, "too small"},
		{`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`, "wrong size"},
		{`{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`, "not on the curve"},
	} {
		_, err := ParseKeySet([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.err)
		}
	}
	// Unknown types, curves and encryption keys are skipped.
	ks, err := ParseKeySet([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"},{"kty":"EC","crv":"P-192"},{"kty":"RSA","use":"enc"}]}`))
	if err != nil || len(ks) != 0 {
		t.Errorf("got %v %v", ks, err)
	}
}

// Which mapping an API applies: Tyk's GetScopeToPolicyMapping and
// GetScopeClaimName.
func TestScopeMapping(t *testing.T) {
	old := map[string]string{"a": "old"}
	newJWT := map[string]string{"a": "jwt"}
	newOIDC := map[string]string{"a": "oidc"}
	for _, tc := range []struct {
		name      string
		api       model.APIDefinition
		want      string // the policy "a" maps to; "" for no mapping
		wantClaim string
	}{
		{"none", model.APIDefinition{}, "", ""},
		{"older fields", model.APIDefinition{JWTScopeToPolicyMapping: old, JWTScopeClaimName: "scp"}, "old", "scp"},
		{"empty scopes object: older fields",
			model.APIDefinition{JWTScopeToPolicyMapping: old, Scopes: &model.Scopes{JWT: model.ScopeClaim{ScopeToPolicy: map[string]string{}}}}, "old", ""},
		{"scopes.jwt wins", model.APIDefinition{JWTScopeToPolicyMapping: old,
			Scopes: &model.Scopes{JWT: model.ScopeClaim{ScopeToPolicy: newJWT, ScopeClaimName: "perms.list"}}}, "jwt", "perms.list"},
		{"scopes.oidc set hides the older fields on a JWT API", model.APIDefinition{JWTScopeToPolicyMapping: old,
			JWTScopeClaimName: "scp", Scopes: &model.Scopes{OIDC: model.ScopeClaim{ScopeToPolicy: newOIDC}}}, "", ""},
		{"scopes.jwt claim name alone hides the older mapping", model.APIDefinition{JWTScopeToPolicyMapping: old,
			Scopes: &model.Scopes{JWT: model.ScopeClaim{ScopeClaimName: "scp"}}}, "", "scp"},
		{"OpenID Connect reads scopes.oidc", model.APIDefinition{UseOpenID: true,
			Scopes: &model.Scopes{JWT: model.ScopeClaim{ScopeToPolicy: newJWT}, OIDC: model.ScopeClaim{ScopeToPolicy: newOIDC, ScopeClaimName: "roles"}}}, "oidc", "roles"},
		{"OpenID Connect without scopes reads the older fields", model.APIDefinition{UseOpenID: true, JWTScopeToPolicyMapping: old}, "old", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, claim := ScopeMapping(&tc.api)
			if m["a"] != tc.want || claim != tc.wantClaim {
				t.Errorf("ScopeMapping = %v, %q; want a→%q, %q", m, claim, tc.want, tc.wantClaim)
			}
		})
	}
}
