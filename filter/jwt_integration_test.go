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
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// JWT in the real filter.wasm: tokens verified in the VM, sessions created
// through the sidecar on first use and found like keys afterwards.

var jwtSecret = []byte("wasm-jwt-secret-0123456789abcdef")

func jwtAPI(id, extra string) string {
	return `{"api_id":"` + id + `","org_id":"org1","active":true,"enable_jwt":true,"proxy":{"listen_path":"/` + id + `/"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},"jwt_policy_field_name":"pol"` + extra + `}`
}

const jwtPolicy = `{"id":"jwt-gold","org_id":"org1","active":true,"rate":3,"per":60,"quota_max":-1,
	"access_rights":{"hs":{"api_id":"hs","versions":["Default"]},"es":{"api_id":"es","versions":["Default"]}}}`

func jwtSidecar(t testing.TB, ec *ecdsa.PrivateKey) *fakeSidecar {
	sc := newFakeSidecar(t)
	sc.putPolicy("jwt-gold", jwtPolicy)
	sc.putAPI(jwtAPI("hs", `,"jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`"`))
	sc.putAPI(jwtAPI("es", `,"jwt_signing_method":"ecdsa","jwt_source":"https://idp.example/jwks"`))
	sc.putJWKS("es", string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ec.PublicKey}})))
	return sc
}

func TestJWTInTheVM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sc := jwtSidecar(t, ec)
	h := start(t, sc.srv.URL, 2, `,"identity_headers":true`)
	now := time.Now().Unix()
	hs := "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "alice", "pol": "jwt-gold", "exp": now + 600})
	es := "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": "k1"}, map[string]any{"sub": "bob", "pol": "jwt-gold"})

	o := do(t, h, request("/hs/x", hs))
	if o.status != 200 {
		t.Fatalf("HS256: %d %s", o.status, o.body)
	}
	if v, _ := o.req.Get("x-turnpike-alias"); v != "alice" {
		t.Errorf("alias %q", v)
	}
	if sc.jwtWrites.Load() != 1 {
		t.Fatalf("%d session writes for the first request", sc.jwtWrites.Load())
	}
	sc.mu.Lock()
	stored := sc.sessions[keys.Hash(jwt.SessionID("org1", "alice"))]
	sc.mu.Unlock()
	if !strings.Contains(stored, `"apply_policies":["jwt-gold"]`) || !strings.Contains(stored, `"TykJWTSessionID"`) {
		t.Fatalf("stored session %s", stored)
	}
	// The other VM finds the stored session; nobody writes again.
	do(t, h, request("/hs/x", hs))
	if o := do(t, h, request("/es/x", es)); o.status != 200 {
		t.Fatalf("ES256: %d %s", o.status, o.body)
	}
	lookups, writes := sc.lookups.Load(), sc.jwtWrites.Load()
	// The session's rate limit (3 per minute) holds across tokens and VMs:
	// 2 requests of alice so far.
	requireStatus(t, h, request("/hs/x", hs), 1, 200, "third")
	other := "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "alice", "pol": "jwt-gold", "exp": now + 60})
	requireStatus(t, h, request("/hs/x", other), 1, 429, "the same identity with another token")
	if sc.lookups.Load() != lookups || sc.jwtWrites.Load() != writes {
		t.Error("warm JWT requests called the sidecar")
	}

	for _, tc := range []struct {
		name, path, auth string
		status           int
		msg              string
	}{
		{"missing", "/hs/x", "", 400, "Authorization field missing"},
		{"bad signature", "/hs/x", "Bearer " + jwttest.MustSign("HS256", []byte("nope"), nil, map[string]any{"sub": "x"}), 403, "Key not authorized"},
		{"none", "/hs/x", "Bearer " + jwttest.MustSign("none", nil, nil, map[string]any{"sub": "x"}), 403, "Key not authorized: Unexpected signing method"},
		{"HS256 on the ECDSA API", "/es/x", hs, 403, "Key not authorized: Unexpected signing method"},
		{"expired", "/hs/x", "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "x", "exp": now - 5}), 401, "Key not authorized: token has expired"},
		{"unknown policy", "/hs/x", "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "y", "pol": "nope"}), 403, "key not authorized: no matching policy"},
		{"unknown kid", "/es/x", "Bearer " + jwttest.MustSign("ES256", ec, map[string]any{"kid": "k2"}, map[string]any{"sub": "x"}), 403, "Key not authorized"},
	} {
		if o := do(t, h, request(tc.path, tc.auth)); o.status != tc.status || o.body != errorBody(tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, o.status, o.body, tc.status, tc.msg)
		}
	}
	// The unknown kid reaches the sidecar with a poll.
	within(t, h, 2*time.Second, "jwks_refresh", func() bool {
		v, _ := sc.jwksRefresh.Load().(string)
		return v == "es"
	})
}

// scopes.jwt maps the token's scopes (here a nested claim, space-separated)
// to further policies: only the mapped policy grants the API, so a 200
// shows the mapping applied in the VM.
func TestJWTScopeToPolicyInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putPolicy("jwt-gold", jwtPolicy)
	sc.putPolicy("jwt-read", `{"id":"jwt-read","org_id":"org1","active":true,"rate":100,"per":60,"quota_max":-1,
		"access_rights":{"sc":{"api_id":"sc","versions":["Default"]}}}`)
	sc.putAPI(jwtAPI("sc", `,"jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`",
		"scopes":{"jwt":{"scope_claim_name":"perm.list","scope_to_policy":{"read":"jwt-read"}}}`))
	h := start(t, sc.srv.URL, 1, "")
	tok := func(claims map[string]any) string {
		return "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, claims)
	}

	if o := do(t, h, request("/sc/x", tok(map[string]any{"sub": "carol", "pol": "jwt-gold",
		"perm": map[string]any{"list": "other read"}}))); o.status != 200 {
		t.Fatalf("mapped scope: %d %s", o.status, o.body)
	}
	sc.mu.Lock()
	stored := sc.sessions[keys.Hash(jwt.SessionID("org1", "carol"))]
	sc.mu.Unlock()
	if !strings.Contains(stored, `"apply_policies":["jwt-gold","jwt-read"]`) {
		t.Fatalf("stored session %s", stored)
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		status int
		msg    string
	}{
		{"base policy without the scope", map[string]any{"sub": "erin", "pol": "jwt-gold"}, 403, "Access to this API has been disallowed"},
		{"no mapped scope", map[string]any{"sub": "dave", "perm": map[string]any{"list": []any{"other"}}}, 403, "key not authorized: no matching policy found in scope claim"},
		{"existing session, no scope or policy", map[string]any{"sub": "carol"}, 403, "key not authorized: no scope or policy in token"},
		{"scope alone (array)", map[string]any{"sub": "frank", "perm": map[string]any{"list": []any{"read"}}}, 200, ""},
	} {
		o := do(t, h, request("/sc/x", tok(tc.claims)))
		if o.status != tc.status || (tc.msg != "" && o.body != errorBody(tc.msg)) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, o.status, o.body, tc.status, tc.msg)
		}
	}
}

// Deleting a JWT session takes effect within a second, as for keys: the
// next request creates a fresh one (Tyk's behaviour), so an operator's
// reset of a session's quota or rate limit applies at once.
func TestJWTSessionDeletedWithinOneSecond(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sc := jwtSidecar(t, ec)
	h := start(t, sc.srv.URL, 2, "")
	tok := "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "carol", "pol": "jwt-gold"})
	requireStatus(t, h, request("/hs/x", tok), 2, 200, "before")
	writes := sc.jwtWrites.Load()
	sc.deleteHash(keys.Hash(jwt.SessionID("org1", "carol")))
	within(t, h, time.Second, "session recreated", func() bool {
		do(t, h, request("/hs/x", tok))
		return sc.jwtWrites.Load() > writes
	})
}

// BenchmarkWarmJWT is BenchmarkWarmPath with a JWT: the token verified
// once, the session cached; no sidecar call.
func BenchmarkWarmJWT(b *testing.B) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, alg := range []string{"HS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			sc := jwtSidecar(b, ec)
			sc.putPolicy("bench", `{"id":"bench","org_id":"org1","active":true,"rate":1000000000,"per":1,"quota_max":-1,
				"access_rights":{"hs":{"api_id":"hs","versions":["Default"]},"es":{"api_id":"es","versions":["Default"]}}}`)
			h := start(b, sc.srv.URL, 1, "")
			claims := map[string]any{"sub": "bench-user", "pol": "bench"}
			tok, path := "Bearer "+jwttest.MustSign("HS256", jwtSecret, nil, claims), "/hs/x"
			if alg == "ES256" {
				tok, path = "Bearer "+jwttest.MustSign("ES256", ec, map[string]any{"kid": "k1"}, claims), "/es/x"
			}
			hdrs := request(path, tok)
			if o := do(b, h, hdrs); o.status != 200 {
				b.Fatalf("%d %s", o.status, o.body)
			}
			benchWarmNoCalls(b, h, sc, hdrs)
		})
	}
}

// benchWarmNoCalls times b.N request-header callbacks of hdrs that
// continue, and fails if any of them called the sidecar.
func benchWarmNoCalls(b *testing.B, h *wasmhost.Host, sc *fakeSidecar, hdrs wasmhost.Headers) {
	b.Helper()
	calls := sc.lookups.Load() + sc.jwtWrites.Load()
	b.ResetTimer()
	for range b.N {
		s := h.NewStream()
		if r := s.RequestHeaders(hdrs, true); r.Action != wasmhost.ActionContinue {
			b.Fatalf("action %v", r.Action)
		}
		s.Close()
	}
	b.StopTimer()
	if sc.lookups.Load()+sc.jwtWrites.Load() != calls {
		b.Fatal("the warm path called the sidecar")
	}
}

// BenchmarkWarmJWTChain compares, in one run, a warm HS256 JWT alone with
// the JWT and an auth token together, each the base. Not the base, the
// JWT's session is not stored: every request finds it unknown in the cache
// and checks the token's policies again, in the VM.
func BenchmarkWarmJWTChain(b *testing.B) {
	for _, tc := range []struct{ name, path, base string }{
		{"alone", "/hs/x", ""},
		{"jwt_base", "/jm/x", "jwt_claim"},
		{"token_base", "/jm/x", "auth_token"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sc := jwtSidecar(b, benchEC)
			sc.putPolicy("bench", `{"id":"bench","org_id":"org1","active":true,"rate":1000000000,"per":1,"quota_max":-1,
				"access_rights":{"hs":{"api_id":"hs","versions":["Default"]},"jm":{"api_id":"jm","versions":["Default"]}}}`)
			sc.putAPI(jwtAPI("jm", `,"jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`",
				"use_standard_auth":true,"auth":{"auth_header_name":"x-key"},"base_identity_provided_by":"`+tc.base+`"`))
			sc.putKey("bench-token", `{"org_id":"org1","access_rights":{"jm":{"api_id":"jm","versions":["Default"]}}}`)
			h := start(b, sc.srv.URL, 1, "")
			tok := "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "bench-user", "pol": "bench"})
			hdrs := append(request(tc.path, tok), [2]string{"x-key", "bench-token"})
			if o := do(b, h, hdrs); o.status != 200 {
				b.Fatalf("%d %s", o.status, o.body)
			}
			benchWarmNoCalls(b, h, sc, hdrs)
		})
	}
}

var benchEC, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

// benchJWT adds to the decision benchmark's sidecar the JWT APIs (/hs/,
// /es/ with benchEC's key) and a policy without limits.
func benchJWT(b *testing.B, sc *fakeSidecar) {
	sc.putPolicy("bench", `{"id":"bench","org_id":"org1","active":true,"rate":1000000000,"per":1,"quota_max":-1,
		"access_rights":{"hs":{"api_id":"hs","versions":["Default"]},"es":{"api_id":"es","versions":["Default"]}}}`)
	sc.putAPI(jwtAPI("hs", `,"jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`"`))
	sc.putAPI(jwtAPI("es", `,"jwt_signing_method":"ecdsa","jwt_source":"https://idp.example/jwks"`))
	sc.putJWKS("es", string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &benchEC.PublicKey}})))
}

// jwtBenchToken is a bearer token of identity with the bench policy.
func jwtBenchToken(alg, identity string) string {
	claims := map[string]any{"sub": identity, "pol": "bench", "exp": time.Now().Add(time.Hour).Unix()}
	if alg == "ES256" {
		return "Bearer " + jwttest.MustSign(alg, benchEC, map[string]any{"kid": "k1"}, claims)
	}
	return "Bearer " + jwttest.MustSign(alg, jwtSecret, nil, claims)
}

// tokenChain is a request path through a chain of a token method (JWT or
// OpenID Connect, its token in Authorization) and an auth token (x-key:
// chain-token), and what the chain must do with token.
type tokenChain struct {
	path, token string
	alias       string // the alias the upstream sees: the base member's
	writes      int64  // session writes the first request makes
	// tokenIsBase: the token method provides the session, so its policy's
	// rate (3 a minute) binds.
	tokenIsBase bool
	denials     []chainDenial
}

type chainDenial struct {
	name, token, key string
	status           int
	msg              string
}

// checkTokenChain checks a chain built as tokenChain says: admitted with
// the base member's alias and session writes, warm requests on both VMs
// without a sidecar call, only the base's rate limit, and each denial.
func checkTokenChain(t *testing.T, h *wasmhost.Host, sc *fakeSidecar, c tokenChain) {
	t.Helper()
	both := func(token, key string) wasmhost.Headers {
		return append(request(c.path, token), [2]string{"x-key", key})
	}
	o := do(t, h, both(c.token, "chain-token"))
	if o.status != 200 {
		t.Fatalf("%d %s", o.status, o.body)
	}
	if v, _ := o.req.Get("x-turnpike-alias"); v != c.alias {
		t.Errorf("alias %q, want %q", v, c.alias)
	}
	if w := sc.jwtWrites.Load(); w != c.writes {
		t.Errorf("%d session writes, want %d", w, c.writes)
	}
	do(t, h, both(c.token, "chain-token")) // warm on both VMs from here
	lookups := sc.lookups.Load()
	fourth := 200
	if c.tokenIsBase {
		fourth = 429
	}
	requireStatus(t, h, both(c.token, "chain-token"), 1, 200, "third")
	requireStatus(t, h, both(c.token, "chain-token"), 1, fourth, "fourth")
	if sc.lookups.Load() != lookups || sc.jwtWrites.Load() != c.writes {
		t.Error("warm chain requests called the sidecar")
	}
	for _, d := range c.denials {
		if o := do(t, h, both(d.token, d.key)); o.status != d.status || o.body != errorBody(d.msg) {
			t.Errorf("%s: %d %s, want %d %q", d.name, o.status, o.body, d.status, d.msg)
		}
	}
	if w := sc.jwtWrites.Load(); w != c.writes {
		t.Errorf("%d session writes after the denials, want %d", w, c.writes)
	}
}

// JWT and an auth token together (Tyk's multiple authentication), with
// each as the base identity: both must pass; only the base's session
// counts (its rate limit, its alias), and a JWT that is not the base has
// its session neither created nor used.
func TestJWTChainInTheVM(t *testing.T) {
	for _, tc := range []struct {
		base, alias string
		writes      int64
	}{
		{"jwt_claim", "carol", 1},
		{"auth_token", "the-token", 0},
	} {
		t.Run(tc.base, func(t *testing.T) {
			sc := newFakeSidecar(t)
			sc.putPolicy("jwt-gold", strings.Replace(jwtPolicy, `"hs":`, `"jm":{"api_id":"jm","versions":["Default"]},"hs":`, 1))
			sc.putAPI(jwtAPI("jm", `,"jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`",
				"use_standard_auth":true,"auth":{"auth_header_name":"x-key"},"base_identity_provided_by":"`+tc.base+`"`))
			sc.putKey("chain-token", `{"org_id":"org1","alias":"the-token","access_rights":{"jm":{"api_id":"jm","versions":["Default"]}}}`)
			h := start(t, sc.srv.URL, 2, `,"identity_headers":true`)
			now := time.Now().Unix()
			tok := "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "carol", "pol": "jwt-gold", "exp": now + 600})
			checkTokenChain(t, h, sc, tokenChain{path: "/jm/x", token: tok, alias: tc.alias, writes: tc.writes,
				tokenIsBase: tc.base == "jwt_claim", denials: []chainDenial{
					{"no JWT", "", "chain-token", 400, "Authorization field missing"},
					{"bad signature", "Bearer " + jwttest.MustSign("HS256", []byte("nope"), nil, map[string]any{"sub": "x"}), "chain-token", 403, "Key not authorized"},
					{"expired", "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "x", "exp": now - 5}), "chain-token", 401, "Key not authorized: token has expired"},
					{"unknown policy", "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, map[string]any{"sub": "y", "pol": "nope"}), "chain-token", 403, "key not authorized: no matching policy"},
					{"unknown key", tok, "no-such-token", 403, "Access to this API has been disallowed"},
				}})
		})
	}
}
