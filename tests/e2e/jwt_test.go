package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
)

// JWT end to end: an identity provider's JWKS endpoint, two sidecar
// replicas on Redis, the gateway's four VMs. Sessions are created on first
// use and found like keys; a key rotation at the IdP is followed without a
// restart; deleting a session resets it within a second.
func TestJWTWithJWKS(t *testing.T) {
	e := newEnv(t, options{})
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var published atomic.Value
	published.Store(jwt.KeySet{{Kid: "k1", Key: &k1.PublicKey}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(jwt.AppendKeySet(nil, published.Load().(jwt.KeySet)))
	}))
	t.Cleanup(idp.Close)

	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"jwt-pol","org_id":"org1","active":true,"rate":1000,"per":1,
		"quota_max":6,"quota_renewal_rate":3600,`+rights("jwt")+`}`)
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"jwt-free","org_id":"org1","active":true,"quota_max":-1,`+rights("jwt")+`}`)
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("jwt", `,"enable_jwt":true,"jwt_signing_method":"rsa",
		"jwt_source":"`+idp.URL+`/jwks","jwt_identity_base_field":"email","jwt_policy_field_name":"pol"`))
	e.within(5*time.Second, "/jwt/", "", 400, "Authorization field missing")

	sign := func(key *rsa.PrivateKey, kid, alg, email string) string {
		pol := "jwt-pol"
		if email != "dana@example.com" {
			pol = "jwt-free"
		}
		return "Bearer " + jwttest.MustSign(alg, key, map[string]any{"kid": kid},
			map[string]any{"sub": "ignored", "email": email, "pol": pol, "exp": time.Now().Add(time.Hour).Unix()})
	}
	dana := sign(k1, "k1", "RS256", "dana@example.com")
	e.eventually(5*time.Second, "first JWT admitted", func() error { return e.get("/jwt/x", dana).is(200, "") })

	// The session is stored under Tyk's id for the identity and found by
	// the Gateway API like any key.
	id := jwt.SessionID("org1", "dana@example.com")
	s := e.getKey(id)
	if s["alias"] != "dana@example.com" || s["org_id"] != "org1" {
		t.Fatalf("GET /tyk/keys/%s: %v", id, s)
	}

	// The session's quota (6) holds across VMs and tokens of the identity.
	other := sign(k1, "k1", "PS256", "dana@example.com")
	for range 5 {
		e.expect("/jwt/x", other, 200, "")
	}
	e.expect("/jwt/x", dana, 403, "Quota exceeded")

	// Deleting the session (and its quota) reaches every VM within a
	// second: the next requests create a fresh one.
	e.mustAPI(http.MethodDelete, "/tyk/keys/"+id, "")
	if took := e.within(propagation, "/jwt/x", dana, 200, ""); took > propagation {
		t.Fatalf("session reset took %v", took)
	}

	// Rotation: the IdP now signs with k2. A token with the new kid is
	// refused until the sidecar refetched, which the filter asks for. A
	// VM and the sidecar each ask or refetch one URL at most every 10 s,
	// and the first requests above may already have asked (before the
	// first fetch), so the bound is 10 s plus a sync round.
	published.Store(jwt.KeySet{{Kid: "k2", Key: &k2.PublicKey}})
	erin := sign(k2, "k2", "RS256", "erin@example.com")
	took := e.within(15*time.Second, "/jwt/x", erin, 200, "")
	t.Logf("rotation followed by every VM in %v", took)

	// What is refused.
	e.expect("/jwt/x", "Bearer "+jwttest.MustSign("HS256", []byte("secret"), nil, map[string]any{"sub": "x"}),
		403, "Key not authorized: Unexpected signing method")
	e.expect("/jwt/x", sign(k1, "k2", "RS256", "mallory@example.com"), 403, "Key not authorized")
	expired := "Bearer " + jwttest.MustSign("RS256", k2, map[string]any{"kid": "k2"},
		map[string]any{"email": "x@example.com", "pol": "jwt-pol", "exp": time.Now().Add(-time.Minute).Unix()})
	e.expect("/jwt/x", expired, 401, "Key not authorized: token has expired")

	// DELETE /tyk/cache/jwks/{apiID}: Tyk's route, answered as Tyk does.
	if r := e.api(http.MethodDelete, "/tyk/cache/jwks/jwt", ""); r.status != 200 {
		t.Fatalf("flush: %v", r)
	}
}

// scopes.jwt through the Gateway API: the token's scopes map to the policy
// that grants the API (the base policy does not), and a token of the same
// identity whose scopes map to nothing is refused with Tyk's message.
func TestJWTScopeToPolicy(t *testing.T) {
	e := newEnv(t, options{})
	secret := []byte("e2e-scope-secret-0123456789abcdef")
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"scope-base","org_id":"org1","active":true,"quota_max":-1,`+rights("other")+`}`)
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"scope-read","org_id":"org1","active":true,"quota_max":-1,`+rights("jwts")+`}`)
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("jwts", `,"enable_jwt":true,"jwt_signing_method":"hmac",
		"jwt_source":"`+base64.StdEncoding.EncodeToString(secret)+`","jwt_policy_field_name":"pol",
		"scopes":{"jwt":{"scope_claim_name":"scp","scope_to_policy":{"api:read":"scope-read"}}}`))
	sign := func(claims map[string]any) string { return "Bearer " + jwttest.MustSign("HS256", secret, nil, claims) }

	e.within(5*time.Second, "/jwts/", "", 400, "Authorization field missing") // the API reached the gateway
	reader := sign(map[string]any{"sub": "gina", "pol": "scope-base", "scp": "openid api:read"})
	e.expect("/jwts/x", reader, 200, "")
	s := e.getKey(jwt.SessionID("org1", "gina"))
	if pols, _ := s["apply_policies"].([]any); len(pols) != 2 || pols[0] != "scope-base" || pols[1] != "scope-read" {
		t.Fatalf("apply_policies %v", s["apply_policies"])
	}
	e.expect("/jwts/x", sign(map[string]any{"sub": "gina", "scp": []string{"openid"}}), 403,
		"key not authorized: no matching policy found in scope claim")
	e.expect("/jwts/x", sign(map[string]any{"sub": "hank", "pol": "scope-base"}), 403, "Access to this API has been disallowed")
}

// JWT and an auth token on one API (Tyk's multiple authentication), through
// the Gateway API, the sidecar on Redis and the gateway: both must pass,
// and the JWT's session is stored only where base_identity_provided_by
// names the JWT.
func TestJWTChainEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	secret := []byte("e2e-chain-secret-0123456789abcdef")
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"chain-pol","org_id":"org1","active":true,"quota_max":-1,`+
		rights("jwtk", "jwtb")+`}`)
	for id, base := range map[string]string{"jwtk": "auth_token", "jwtb": "jwt_claim"} {
		e.mustAPI(http.MethodPost, "/tyk/apis", apiDef(id, `,"enable_jwt":true,"jwt_source":"`+
			base64.StdEncoding.EncodeToString(secret)+`","jwt_policy_field_name":"pol","use_standard_auth":true,
			"auth":{"auth_header_name":"x-key"},"base_identity_provided_by":"`+base+`"`))
		// Routed by every VM: the JWT member (Tyk's order) answers first.
		e.within(5*time.Second, "/"+id+"/x", "", 400, "Authorization field missing")
	}
	key := e.createKey(unlimited(rights("jwtk", "jwtb"), `,"alias":"the-token"`))
	sign := func(sub string, secret []byte) string {
		return "Bearer " + jwttest.MustSign("HS256", secret, nil,
			map[string]any{"sub": sub, "pol": "chain-pol", "exp": time.Now().Add(time.Hour).Unix()})
	}
	both := func(path, jwtAuth, key string) func() error {
		return func() error {
			for range 4 { // every VM
				r, err := e.try(http.MethodGet, path, http.Header{"X-Key": {key}}, jwtAuth)
				if err != nil {
					return err
				}
				if err := r.is(200, ""); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// The auth token is the base: the JWT verifies, its session is not stored.
	e.eventually(5*time.Second, "JWT and token, token the base", both("/jwtk/x", sign("erin", secret), key))
	if r := e.api(http.MethodGet, "/tyk/keys/"+jwt.SessionID("org1", "erin"), ""); r.status != 404 {
		t.Errorf("non-base JWT session stored: %s", r)
	}
	for _, c := range []struct {
		name, jwt, key string
		status         int
		msg            string
	}{
		{"bad JWT", sign("erin", []byte("not-the-secret")), key, 403, "Key not authorized"},
		{"no JWT", "", key, 400, "Authorization field missing"},
		{"unknown key", sign("erin", secret), "no-such-key", 403, "Access to this API has been disallowed"},
	} {
		r, err := e.try(http.MethodGet, "/jwtk/x", http.Header{"X-Key": {c.key}}, c.jwt)
		if err != nil || r.is(c.status, c.msg) != nil {
			t.Errorf("%s: %v %v, want %d %q", c.name, r, err, c.status, c.msg)
		}
	}
	// The JWT is the base: its session is created, as when alone.
	e.eventually(5*time.Second, "JWT and token, JWT the base", both("/jwtb/x", sign("finn", secret), key))
	if s := e.getKey(jwt.SessionID("org1", "finn")); s["alias"] != "finn" {
		t.Errorf("base JWT session: %v", s)
	}
}
