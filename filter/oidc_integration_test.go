//go:build !wasip1

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/oidc"
)

// OpenID Connect in the real filter.wasm: ID tokens verified in the VM
// with their issuer's keys from the snapshot, the session created through
// the sidecar from the client's policy on first use, found like a key's
// afterwards, and Tyk's answers for what fails.
func TestOpenIDInTheVM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const issuer = "https://idp.example/realm"
	sc := newFakeSidecar(t)
	sc.putPolicy("oidc-gold", `{"id":"oidc-gold","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":-1,
		"access_rights":{"oid":{"api_id":"oid","versions":["Default"]}}}`)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	sc.putAPI(`{"api_id":"oid","org_id":"org1","active":true,"use_openid":true,"proxy":{"listen_path":"/oid/"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},
		"openid_options":{"providers":[{"issuer":"` + issuer + `","client_ids":{"` + b64("web") + `":"oidc-gold","` +
		b64("cli") + `":"missing-policy"}}]}}`)
	sc.putJWKS(oidc.KeySetID("oid", 0), string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ec.PublicKey}})))
	h := start(t, sc.srv.URL, 2, `,"identity_headers":true`)
	now := time.Now().Unix()
	token := func(kid string, claims map[string]any) string {
		c := map[string]any{"iss": issuer, "sub": "alice", "aud": "web", "exp": now + 600}
		for k, v := range claims {
			c[k] = v
		}
		return "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": kid}, c)
	}
	alice := token("k1", nil)
	o := do(t, h, request("/oid/x", alice))
	if o.status != 200 {
		t.Fatalf("first request: %d %s", o.status, o.body)
	}
	if v, _ := o.req.Get("x-turnpike-alias"); v != "web:alice" {
		t.Errorf("alias %q", v)
	}
	sc.mu.Lock()
	stored := sc.sessions[keys.Hash(jwt.SessionID("org1", "alice"))]
	sc.mu.Unlock()
	for _, want := range []string{`"apply_policies":["oidc-gold"]`, `"ClientID":"web"`, `"TykJWTSessionID":"org1`, `"alias":"web:alice"`} {
		if !strings.Contains(stored, want) {
			t.Fatalf("stored session lacks %s: %s", want, stored)
		}
	}
	// Warm: the other VM finds the session; then no sidecar call at all,
	// and the policy's rate limit (3 a minute) holds across tokens and VMs.
	do(t, h, request("/oid/x", alice))
	lookups, writes := sc.lookups.Load(), sc.jwtWrites.Load()
	requireStatus(t, h, request("/oid/x", alice), 1, 200, "third")
	requireStatus(t, h, request("/oid/x", token("k1", map[string]any{"exp": now + 60})), 1, 429, "another token of alice")
	if sc.lookups.Load() != lookups || sc.jwtWrites.Load() != writes {
		t.Error("warm OpenID Connect requests called the sidecar")
	}
	for _, tc := range []struct {
		name, auth string
		status     int
		msg        string
	}{
		{"missing", "", 401, "Key not authorised"},
		{"not Bearer", strings.TrimPrefix(alice, "Bearer "), 401, "Key not authorised"},
		{"other issuer", token("k1", map[string]any{"iss": "https://evil.example"}), 401, "Key not authorised"},
		{"other audience", token("k1", map[string]any{"aud": "nobody"}), 401, "Key not authorised"},
		{"expired", token("k1", map[string]any{"exp": now - 5}), 401, "Key not authorised"},
		{"unknown kid", token("k2", nil), 401, "Key not authorised"},
		{"forged", "Bearer " + jwttest.MustSign("HS256", []byte("x"), map[string]any{"kid": "k1"},
			map[string]any{"iss": issuer, "sub": "mallory", "aud": "web"}), 401, "Key not authorised"},
		{"client whose policy does not exist", token("k1", map[string]any{"sub": "bob", "aud": "cli"}), 403, "Key not authorized: no matching policy"},
	} {
		if o := do(t, h, request("/oid/x", tc.auth)); o.status != tc.status || o.body != errorBody(tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, o.status, o.body, tc.status, tc.msg)
		}
	}
	// The unknown kid reaches the sidecar with a poll (it refetches).
	within(t, h, 2*time.Second, "jwks_refresh", func() bool {
		v, _ := sc.jwksRefresh.Load().(string)
		return v == "oid"
	})
}

// OpenID Connect with a scope-to-policy mapping (scopes.oidc) in the real
// filter.wasm: as in Tyk, the client's policy is ignored and the session
// gets exactly the policies the token's scopes map to, updated when they
// change.
func TestOpenIDScopeMappingInTheVM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const issuer = "https://idp.example/realm"
	sc := newFakeSidecar(t)
	sc.putPolicy("client-pol", `{"id":"client-pol","org_id":"org1","active":true,"rate":1,"per":60,"quota_max":-1,
		"access_rights":{"oids":{"api_id":"oids","versions":["Default"]}}}`)
	sc.putPolicy("scope-read", `{"id":"scope-read","org_id":"org1","active":true,"rate":1000,"per":1,"quota_max":-1,
		"access_rights":{"oids":{"api_id":"oids","versions":["Default"]}}}`)
	sc.putPolicy("scope-write", `{"id":"scope-write","org_id":"org1","active":true,"rate":1000,"per":1,"quota_max":-1,
		"access_rights":{"oids":{"api_id":"oids","versions":["Default"]}}}`)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	sc.putAPI(`{"api_id":"oids","org_id":"org1","active":true,"use_openid":true,"proxy":{"listen_path":"/oids/"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},
		"scopes":{"oidc":{"scope_claim_name":"scp","scope_to_policy":{"read":"scope-read","write":"scope-write"}}},
		"openid_options":{"providers":[{"issuer":"` + issuer + `","client_ids":{"` + b64("web") + `":"client-pol"}}]}}`)
	sc.putJWKS(oidc.KeySetID("oids", 0), string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ec.PublicKey}})))
	h := start(t, sc.srv.URL, 1, "")
	now := time.Now().Unix()
	token := func(sub string, scp any) string {
		c := map[string]any{"iss": issuer, "sub": sub, "aud": "web", "exp": now + 600}
		if scp != nil {
			c["scp"] = scp
		}
		return "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": "k1"}, c)
	}
	stored := func(sub string) string {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.sessions[keys.Hash(jwt.SessionID("org1", sub))]
	}
	// The client's policy allows one request a minute; the scope's 1000 a
	// second: three requests pass.
	for i := range 3 {
		if o := do(t, h, request("/oids/x", token("alice", "read"))); o.status != 200 {
			t.Fatalf("request %d: %d %s", i, o.status, o.body)
		}
	}
	if s := stored("alice"); !strings.Contains(s, `"apply_policies":["scope-read"]`) || !strings.Contains(s, `"ClientID":"web"`) {
		t.Fatalf("stored session: %s", s)
	}
	// More scopes: the session is rewritten with both policies.
	writes := sc.jwtWrites.Load()
	if o := do(t, h, request("/oids/x", token("alice", []any{"write", "read", "unmapped"}))); o.status != 200 {
		t.Fatalf("two scopes: %d %s", o.status, o.body)
	}
	if sc.jwtWrites.Load() != writes+1 || !strings.Contains(stored("alice"), `"apply_policies":["scope-read","scope-write"]`) {
		t.Fatalf("after the scopes changed (%d writes): %s", sc.jwtWrites.Load()-writes, stored("alice"))
	}
	// A token whose scopes map to nothing: Tyk creates a session without
	// policies, so without access rights (its access check lets those
	// through) and without a rate (not limited).
	o := do(t, h, request("/oids/x", token("bob", "unmapped")))
	if s := stored("bob"); o.status != 200 || s == "" || strings.Contains(s, `"apply_policies":["`) || strings.Contains(s, "client-pol") {
		t.Fatalf("bob: %d %s, session %s", o.status, o.body, s)
	}
}

// OpenID Connect and an auth token together (multiple authentication),
// with each as the base identity: both must pass, the ID token exactly as
// alone; its session is created and counts only as the base.
func TestOpenIDChainInTheVM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const issuer = "https://idp.example/realm"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		base, alias string
		writes      int64
	}{
		{"oidc_user", "web:alice", 1},
		{"auth_token", "the-token", 0},
	} {
		t.Run(tc.base, func(t *testing.T) {
			sc := newFakeSidecar(t)
			sc.putPolicy("oidc-gold", `{"id":"oidc-gold","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":-1,
				"access_rights":{"om":{"api_id":"om","versions":["Default"]}}}`)
			sc.putAPI(`{"api_id":"om","org_id":"org1","active":true,"use_openid":true,"proxy":{"listen_path":"/om/"},
				"use_standard_auth":true,"auth":{"auth_header_name":"x-key"},"base_identity_provided_by":"` + tc.base + `",
				"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},
				"openid_options":{"providers":[{"issuer":"` + issuer + `","client_ids":{"` + b64("web") + `":"oidc-gold","` +
				b64("cli") + `":"missing-policy"}}]}}`)
			sc.putJWKS(oidc.KeySetID("om", 0), string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ec.PublicKey}})))
			sc.putKey("chain-token", `{"org_id":"org1","alias":"the-token","access_rights":{"om":{"api_id":"om","versions":["Default"]}}}`)
			h := start(t, sc.srv.URL, 2, `,"identity_headers":true`)
			now := time.Now().Unix()
			token := func(claims map[string]any) string {
				c := map[string]any{"iss": issuer, "sub": "alice", "aud": "web", "exp": now + 600}
				for k, v := range claims {
					c[k] = v
				}
				return "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": "k1"}, c)
			}
			alice := token(nil)
			checkTokenChain(t, h, sc, tokenChain{path: "/om/x", token: alice, alias: tc.alias, writes: tc.writes,
				tokenIsBase: tc.base == "oidc_user", denials: []chainDenial{
					{"no ID token", "", "chain-token", 401, "Key not authorised"},
					{"expired", token(map[string]any{"exp": now - 5}), "chain-token", 401, "Key not authorised"},
					{"other audience", token(map[string]any{"aud": "nobody"}), "chain-token", 401, "Key not authorised"},
					{"client whose policy does not exist", token(map[string]any{"sub": "bob", "aud": "cli"}), "chain-token", 403, "Key not authorized: no matching policy"},
					{"unknown key", alice, "no-such-token", 403, "Access to this API has been disallowed"},
				}})
		})
	}
}

// JWT and OpenID Connect in one chain, OpenID Connect the base: each
// member's session is looked up in turn (the JWT's and then the ID
// token's), only the base's is written, here replacing a stored session
// whose policy is no longer the client's.
func TestJWTAndOpenIDChainInTheVM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const issuer = "https://idp.example/realm"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	sc := newFakeSidecar(t)
	sc.putPolicy("oidc-gold", `{"id":"oidc-gold","org_id":"org1","active":true,"quota_max":-1,
		"access_rights":{"jo":{"api_id":"jo","versions":["Default"]}}}`)
	sc.putPolicy("old-pol", `{"id":"old-pol","org_id":"org1","active":true,"quota_max":-1,"access_rights":{}}`)
	sc.putAPI(`{"api_id":"jo","org_id":"org1","active":true,"use_openid":true,"proxy":{"listen_path":"/jo/"},
		"enable_jwt":true,"jwt_source":"` + base64.StdEncoding.EncodeToString(jwtSecret) + `","jwt_policy_field_name":"pol",
		"auth_configs":{"jwt":{"auth_header_name":"x-jwt"}},"base_identity_provided_by":"oidc_user",
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},
		"openid_options":{"providers":[{"issuer":"` + issuer + `","client_ids":{"` + b64("web") + `":"oidc-gold"}}]}}`)
	sc.putJWKS(oidc.KeySetID("jo", 0), string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ec.PublicKey}})))
	aliceID, carolID := jwt.SessionID("org1", "alice"), jwt.SessionID("org1", "carol")
	sc.putKey(aliceID, `{"org_id":"org1","apply_policies":["old-pol"],"alias":"web:alice"}`)
	h := start(t, sc.srv.URL, 1, `,"identity_headers":true`)
	now := time.Now().Unix()
	idToken := "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": "k1"},
		map[string]any{"iss": issuer, "sub": "alice", "aud": "web", "exp": now + 600})
	jwtToken := jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "carol", "pol": "oidc-gold", "exp": now + 600})

	o := do(t, h, append(request("/jo/x", idToken), [2]string{"x-jwt", jwtToken}))
	if o.status != 200 {
		t.Fatalf("%d %s", o.status, o.body)
	}
	if v, _ := o.req.Get("x-turnpike-alias"); v != "web:alice" {
		t.Errorf("alias %q", v)
	}
	if a, c := sc.lookupsOf(aliceID), sc.lookupsOf(carolID); a != 1 || c != 1 {
		t.Errorf("lookups: ID token's session %d, JWT's %d; want 1 each", a, c)
	}
	sc.mu.Lock()
	alice, carol := sc.sessions[keys.Hash(aliceID)], sc.sessions[keys.Hash(carolID)]
	sc.mu.Unlock()
	if w := sc.jwtWrites.Load(); w != 1 || !strings.Contains(alice, `"apply_policies":["oidc-gold"]`) || carol != "" {
		t.Errorf("%d writes; OpenID Connect session %s; JWT session %q", w, alice, carol)
	}
	// The JWT member still has to verify.
	bad := jwttest.MustSign("HS256", []byte("nope"), nil, map[string]any{"sub": "carol", "pol": "oidc-gold"})
	if o := do(t, h, append(request("/jo/x", idToken), [2]string{"x-jwt", bad})); o.status != 403 || o.body != errorBody("Key not authorized") {
		t.Errorf("bad JWT: %d %s", o.status, o.body)
	}
}
