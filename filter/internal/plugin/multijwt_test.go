package plugin

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

// JWT as a member of a multiple-authentication chain (Tyk's rules, multi.go
// and jwtsession.go): the token verifies with its policies in either role,
// but only as the base is its dynamic session created and used.

// jwtChainSnapshot has the API jm (centralised HMAC JWT, policy in "pol",
// and an auth token in x-key; base as given) and the policy multi for it.
func jwtChainSnapshot(base string) string {
	api := `{"api_id":"jm","name":"JM","org_id":"org1","active":true,"enable_jwt":true,"use_standard_auth":true,
		"base_identity_provided_by":"` + base + `","auth":{"auth_header_name":"x-key"},
		"jwt_signing_method":"hmac","jwt_source":"` + base64.StdEncoding.EncodeToString(jwtSecret) + `","jwt_policy_field_name":"pol",
		"proxy":{"listen_path":"/jm/"},"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	pol := `"multi":{"id":"multi","org_id":"org1","active":true,"rate":100,"per":60,"quota_max":-1,
		"access_rights":{"jm":{"api_id":"jm","versions":["Default"]}}}`
	return `{"policies":{` + pol + `},"apis":[` + api + `],"orgs":{}}`
}

const jmToken = `{"org_id":"org1","alias":"the-token","access_rights":{"jm":{"api_id":"jm","versions":["Default"]}}}`

func TestJWTChainMemberNotBase(t *testing.T) {
	fx := newFixture(t, `,"identity_headers":true`, jwtChainSnapshot("auth_token"))
	exp := testStart/1e9 + 3600
	tok := hs(map[string]any{"sub": "alice", "pol": "multi", "exp": exp})

	s, _, _ := fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	if s.Reply != nil {
		t.Fatalf("reply %+v", s.Reply)
	}
	// JWT first (Tyk's order): its session is looked up as when alone ...
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("alice")), 404, nil, `{}`)
	// ... but not created: the token's session is not the base.
	if w := fx.f.Pending("/turnpike/v1/jwt-sessions/"); w != nil {
		t.Fatalf("non-base JWT session written: %s", w.Path())
	}
	fx.answer("multi-token", jmToken)
	wantReply(t, s, 200, "", "")
	if h := s.RequestHeaders; h["x-turnpike-alias"] != "the-token" || h["x-turnpike-key-hash"] != keys.Hash("multi-token") {
		t.Errorf("base identity not the auth token: %v", h)
	}
	// Warm: both lookups cached (the JWT's as unknown), no call.
	s, _, _ = fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	wantReply(t, s, 200, "", "")
	if len(fx.f.Calls) != 0 {
		t.Fatalf("calls on the warm path: %s", fx.f.Calls[0].Path())
	}

	// Past negative_cache_ttl_ms (2 s) the JWT's "no session" is still
	// cached (a non-base member's session is never written: keepAbsent),
	// and its policies are not checked again under the same snapshot.
	fx.f.Clock += 5e9
	s, _, _ = fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	wantReply(t, s, 200, "", "")
	if len(fx.f.Calls) != 0 {
		t.Fatalf("call after the negative TTL: %s", fx.f.Calls[0].Path())
	}
	// The sync feed evicts it like any changed session: looked up again.
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"2-0","keys":["` + sessionHash("alice") + `"]}`)
	s, _, _ = fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("alice")), 404, nil, `{}`)
	wantReply(t, s, 200, "", "")
	// A new snapshot without the token's policy: refused at once.
	fx.f.Clock += 300e6
	fx.r.OnTick()
	fx.sync(`{"version":"v2","cursor":"3-0","keys":[],"snapshot":` +
		strings.Replace(jwtChainSnapshot("auth_token"), `"multi":{`, `"other":{`, 1) + `}`)
	s, _, _ = fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	if c := fx.f.Pending("/turnpike/v1/sessions/" + sessionHash("alice")); c != nil {
		fx.f.Answer(c, 404, nil, `{}`)
	}
	wantReply(t, s, 403, "key not authorized: no matching policy", "")
	fx.f.Clock += 300e6
	fx.r.OnTick()
	fx.sync(`{"version":"v3","cursor":"4-0","keys":[],"snapshot":` + jwtChainSnapshot("auth_token") + `}`)

	// The token must pass as when alone, whatever the other member says.
	for _, tc := range []struct {
		name string
		jwt  string
		code uint32
		msg  string
	}{
		{"no policy", hs(map[string]any{"sub": "bob", "pol": "nope", "exp": exp}), 403, "key not authorized: no matching policy"},
		{"expired", hs(map[string]any{"sub": "alice", "pol": "multi", "exp": testStart/1e9 - 3600}), 401, "Key not authorized: token has expired"},
		{"bad signature", tok[:len(tok)-4] + "AAAA", 403, "Key not authorized"},
		{"missing", "", 400, "Authorization field missing"},
	} {
		s, _, _ := fx.sendAuth("/jm/x", tc.jwt, "x-key", "multi-token")
		if c := fx.f.Pending("/turnpike/v1/sessions/" + sessionHash("bob")); c != nil {
			fx.f.Answer(c, 404, nil, `{}`)
		}
		if status(s) != tc.code || !strings.Contains(s.Reply.Body, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %q", tc.name, status(s), s.Reply, tc.code, tc.msg)
		}
	}
	if w := fx.f.Pending("/turnpike/v1/jwt-sessions/"); w != nil {
		t.Fatalf("non-base JWT session written: %s", w.Path())
	}
	wantUnknownAuthTokenRefused(t, fx, tok)
}

// wantUnknownAuthTokenRefused checks that alice's good JWT does not excuse
// an unknown auth token in the /jm/ chain.
func wantUnknownAuthTokenRefused(t *testing.T, fx *fixture, tok string) {
	t.Helper()
	s, _, _ := fx.sendAuth("/jm/x", tok, "x-key", "multi-unknown")
	if c := fx.f.Pending("/turnpike/v1/sessions/" + sessionHash("alice")); c != nil {
		fx.f.Answer(c, 404, nil, `{}`) // the new snapshots emptied the cache
	}
	fx.answer("multi-unknown", "404")
	wantReply(t, s, 403, "Access to this API has been disallowed", "")
}

func TestJWTChainMemberBase(t *testing.T) {
	fx := newFixture(t, `,"identity_headers":true`, jwtChainSnapshot("jwt_claim"))
	tok := hs(map[string]any{"sub": "alice", "pol": "multi", "exp": testStart/1e9 + 3600})

	s, _, _ := fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("alice")), 404, nil, `{}`)
	w := fx.f.Pending("/turnpike/v1/jwt-sessions/" + sessionHash("alice"))
	if w == nil {
		t.Fatalf("base JWT session not created: %+v", fx.f.Calls)
	}
	fx.f.Answer(w, 200, map[string]string{"x-turnpike-cursor": "1-0"}, w.Body)
	// The auth token still has to name a session, which only authenticates.
	fx.answer("multi-token", `{"org_id":"org1","alias":"the-token","access_rights":{"other":{"api_id":"other"}}}`)
	wantReply(t, s, 200, "", "")
	if h := s.RequestHeaders; h["x-turnpike-alias"] != "alice" || h["x-turnpike-key-hash"] != sessionHash("alice") {
		t.Errorf("base identity not the JWT's: %v", h)
	}
	s, _, _ = fx.sendAuth("/jm/x", tok, "x-key", "multi-token")
	wantReply(t, s, 200, "", "")
	if len(fx.f.Calls) != 0 {
		t.Fatalf("calls on the warm path: %s", fx.f.Calls[0].Path())
	}
	wantUnknownAuthTokenRefused(t, fx, tok)
}

// A one-to-one JWT (no jwt_source) names an existing key and, in Tyk,
// puts that key's session on the request whatever
// base_identity_provided_by says: here it names no enabled method, and the
// JWT's key still provides the session instead of Tyk's 400. Its secret
// is verified as when alone.
func TestOneToOneJWTChainMember(t *testing.T) {
	api := `{"api_id":"oc","name":"OC","org_id":"org1","active":true,"enable_jwt":true,"jwt_signing_method":"hmac",
		"use_standard_auth":true,"auth":{"auth_header_name":"x-key"},"base_identity_provided_by":"hmac_key",
		"proxy":{"listen_path":"/oc/"},"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	fx := newFixture(t, `,"identity_headers":true`, `{"policies":{},"apis":[`+api+`],"orgs":{}}`)
	frank := `{"org_id":"org1","alias":"frank","access_rights":{"oc":{"api_id":"oc","versions":["Default"]}},"jwt_data":{"secret":"per-key-secret"}}`
	token := `{"org_id":"org1","alias":"the-token","access_rights":{"oc":{"api_id":"oc","versions":["Default"]}}}`
	sign := func(secret string) string {
		return "Bearer " + jwttest.MustSign("HS256", []byte(secret), map[string]any{"kid": "frank-key"}, map[string]any{"sub": "frank"})
	}
	s, _, _ := fx.sendAuth("/oc/x", sign("per-key-secret"), "x-key", "oc-token")
	fx.answer("frank-key", frank)
	fx.answer("oc-token", token)
	wantReply(t, s, 200, "", "")
	if h := s.RequestHeaders; h["x-turnpike-alias"] != "frank" {
		t.Errorf("base identity not the one-to-one JWT's key: %v", h)
	}
	s, _, _ = fx.sendAuth("/oc/x", sign("not-the-secret"), "x-key", "oc-token")
	wantReply(t, s, 403, "Key not authorized", "")
}
