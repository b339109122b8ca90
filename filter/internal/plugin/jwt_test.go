package plugin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

var (
	jwtSecret = []byte("jwt-test-secret-0123456789")
	jwtEC, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

// jwtSnapshot has an HMAC API (/hs/), an ECDSA API with a JWKS URL (/es/,
// its keys in the snapshot), a one-to-one API (/o2o/) and policies gold and
// silver.
func jwtSnapshot() string {
	pol := func(id string, rate int) string {
		return `"` + id + `":{"id":"` + id + `","org_id":"org1","active":true,"rate":` + strconv.Itoa(rate) + `,"per":60,"quota_max":-1,
			"access_rights":{"hs":{"api_id":"hs","versions":["Default"]},"es":{"api_id":"es","versions":["Default"]}}}`
	}
	api := func(id, extra string) string {
		return `{"api_id":"` + id + `","org_id":"org1","active":true,"enable_jwt":true,"proxy":{"listen_path":"/` + id + `/"},
			"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},"jwt_policy_field_name":"pol"` + extra + `}`
	}
	ks := string(jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &jwtEC.PublicKey}}))
	return `{"policies":{` + pol("gold", 100) + `,` + pol("silver", 10) + `,` + pol("fast", 1e9) + `},"apis":[` +
		api("hs", `,"jwt_signing_method":"hmac","jwt_source":"`+base64.StdEncoding.EncodeToString(jwtSecret)+`"`) + `,` +
		api("es", `,"jwt_signing_method":"ecdsa","jwt_source":"https://idp.example/jwks"`) + `,` +
		api("o2o", `,"jwt_signing_method":"hmac"`) +
		`],"orgs":{},"jwks":{"es":` + ks + `}}`
}

func hs(claims map[string]any) string {
	return "Bearer " + jwttest.MustSign("HS256", jwtSecret, nil, claims)
}

// sessionHash is the key hash of the session of identity in org1.
func sessionHash(identity string) string { return keys.Hash(jwt.SessionID("org1", identity)) }

func TestJWTFirstRequestCreatesTheSession(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	exp := testStart/1e9 + 3600
	tok := hs(map[string]any{"sub": "alice", "pol": "gold", "exp": exp})
	s, _, _ := fx.send("/hs/x", tok)
	// Looked up like a key, under the hash of the derived session id.
	c := fx.f.Pending("/turnpike/v1/sessions/" + sessionHash("alice"))
	if c == nil {
		t.Fatalf("no lookup; calls %d, reply %+v", len(fx.f.Calls), s.Reply)
	}
	fx.f.Answer(c, 404, nil, `{"error":"key not found"}`)
	w := fx.f.Pending("/turnpike/v1/jwt-sessions/" + sessionHash("alice"))
	if w == nil || strings.Contains(w.Path(), "replace") {
		t.Fatalf("no create call: %+v", fx.f.Calls)
	}
	created, err := model.DecodeSession([]byte(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	if created.Alias != "alice" || created.OrgID != "org1" || strings.Join(created.ApplyPolicies, ",") != "gold" ||
		created.Rate != 100 || created.Expires != exp ||
		string(created.MetaData["TykJWTSessionID"]) != `"`+jwt.SessionID("org1", "alice")+`"` {
		t.Fatalf("created session %s", w.Body)
	}
	fx.f.Answer(w, 200, map[string]string{"x-turnpike-cursor": "1-0"}, w.Body)
	if status(s) != 200 {
		t.Fatalf("status %d %+v", status(s), s.Reply)
	}
	// The same token again, and another token of alice: no call.
	if st := fx.do("/hs/x", tok, ""); status(st) != 200 {
		t.Fatalf("warm: %d", status(st))
	}
	if st := fx.do("/hs/y", hs(map[string]any{"sub": "alice", "pol": "gold", "exp": exp - 10}), ""); status(st) != 200 {
		t.Fatalf("second token: %d", status(st))
	}
	if len(fx.f.Calls) != 0 {
		t.Fatalf("calls on the warm path: %v", fx.f.Calls[0].Path())
	}
}

func TestJWTPolicyChangeReplacesTheSession(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	stored := `{"org_id":"org1","apply_policies":["gold"],"alias":"bob","expires":0}`
	tok := hs(map[string]any{"sub": "bob", "pol": "silver"})
	s, _, _ := fx.send("/hs/x", tok)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("bob")), 200, map[string]string{"x-turnpike-cursor": "1-0"}, stored)
	w := fx.f.Pending("/turnpike/v1/jwt-sessions/" + sessionHash("bob") + "?replace=1")
	if w == nil {
		t.Fatalf("no replace call: %+v", fx.f.Calls)
	}
	if !strings.Contains(w.Body, `"apply_policies":["silver"]`) || !strings.Contains(w.Body, `"alias":"bob"`) {
		t.Fatalf("replacement %s", w.Body)
	}
	fx.f.Answer(w, 200, map[string]string{"x-turnpike-cursor": "1-0"}, w.Body)
	if status(s) != 200 {
		t.Fatalf("status %d", status(s))
	}
}

func TestJWTOperatorEditWins(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	tok := hs(map[string]any{"sub": "carol", "pol": "gold"})
	s := fx.do("/hs/x", tok, "")
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 200, map[string]string{"x-turnpike-cursor": "1-0"},
		`{"org_id":"org1","apply_policies":["gold"],"alias":"carol"}`)
	if status(s) != 200 {
		t.Fatalf("status %d", status(s))
	}
	// The operator expires the session: the sync feed evicts it, the next
	// request looks it up again and gets the edit.
	fx.f.Clock += 300e6
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"2-0","keys":["` + sessionHash("carol") + `"]}`)
	s, _, _ = fx.send("/hs/x", tok)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 200, map[string]string{"x-turnpike-cursor": "2-0"},
		`{"org_id":"org1","apply_policies":["gold"],"alias":"carol","expires":1}`)
	if status(s) != 401 || !strings.Contains(s.Reply.Body, "Key has expired, please renew") {
		t.Fatalf("after the edit: %d %+v", status(s), s.Reply)
	}
	// Deleted: the next request creates it again, as in Tyk.
	fx.f.Clock += 300e6
	fx.r.OnTick()
	fx.sync(`{"version":"v1","cursor":"3-0","keys":["` + sessionHash("carol") + `"]}`)
	fx.send("/hs/x", tok)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 404, nil, `{}`)
	if fx.f.Pending("/turnpike/v1/jwt-sessions/"+sessionHash("carol")) == nil {
		t.Fatal("a deleted JWT session is not created again")
	}
}

func TestJWTDenials(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	now := testStart / 1e9
	for _, tc := range []struct {
		name, path, token string
		status            uint32
		msg               string
	}{
		{"missing", "/hs/x", "", 400, "Authorization field missing"},
		{"garbage", "/hs/x", "Bearer not.a.jwt", 403, "Key not authorized"},
		{"bad signature", "/hs/x", "Bearer " + jwttest.MustSign("HS256", []byte("wrong"), nil, map[string]any{"sub": "a", "pol": "gold"}), 403, "Key not authorized"},
		{"none", "/hs/x", "Bearer " + jwttest.MustSign("none", nil, nil, map[string]any{"sub": "a", "pol": "gold"}), 403, "Key not authorized: Unexpected signing method"},
		{"HMAC on an ECDSA API", "/es/x", hs(map[string]any{"sub": "a", "pol": "gold"}), 403, "Key not authorized: Unexpected signing method"},
		{"expired", "/hs/x", hs(map[string]any{"sub": "a", "pol": "gold", "exp": now - 1}), 401, "Key not authorized: token has expired"},
		{"not yet valid", "/hs/x", hs(map[string]any{"sub": "a", "pol": "gold", "nbf": now + 60}), 401, "Key not authorized: token is not valid yet"},
		{"issued in the future", "/hs/x", hs(map[string]any{"sub": "a", "pol": "gold", "iat": now + 60}), 401, "Key not authorized: token used before issued"},
		{"no identity", "/hs/x", hs(map[string]any{"pol": "gold"}), 403, "no suitable claims for user ID were found"},
	} {
		s, _, _ := fx.send(tc.path, tc.token)
		if s.Reply == nil || s.Reply.Status != tc.status || !strings.Contains(s.Reply.Body, `"`+tc.msg+`"`) {
			t.Errorf("%s: got %+v, want %d %q", tc.name, s.Reply, tc.status, tc.msg)
		}
	}
	if len(fx.f.Calls) != 0 {
		t.Errorf("a denied token made a call: %s", fx.f.Calls[0].Path())
	}
}

// A token naming a key the VM lacks (a new JWT API, a rotation at the IdP)
// waits for one fresh poll, which asks the sidecar to refetch the JWKS, and
// is decided on what that poll brought: admitted when the snapshot now has
// the key, refused with Tyk's message when it still does not.
func TestJWTUnknownKidWaitsForAFreshPoll(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	k9, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := "Bearer " + jwttest.MustSign("ES256", k9, map[string]any{"kid": "k9"}, map[string]any{"sub": "ivy", "pol": "gold"})

	s, _, act := fx.send("/es/x", tok)
	c := fx.f.Pending("/turnpike/v1/sync")
	if act != proxywasm.ActionPause || s.Reply != nil || c == nil ||
		!strings.Contains(c.Path(), "fresh=1") || !strings.Contains(c.Path(), "jwks_refresh=es") {
		t.Fatalf("no fresh poll asking for the JWKS: %v %+v %+v", act, s.Reply, c)
	}
	// The sidecar has the rotated key set now: the request is decided on it.
	k1 := jwt.KeySet{{Kid: "k1", Key: &jwtEC.PublicKey}}
	rotated := strings.Replace(jwtSnapshot(), string(jwt.AppendKeySet(nil, k1)),
		string(jwt.AppendKeySet(nil, append(k1, jwt.Key{Kid: "k9", Key: &k9.PublicKey}))), 1)
	fx.f.Answer(c, 200, nil, `{"version":"v2","cursor":"1-0","keys":[],"snapshot":`+rotated+`}`)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("ivy")), 200, nil,
		`{"org_id":"org1","apply_policies":["gold"],"alias":"ivy"}`)
	if !s.Resumed || s.Reply != nil {
		t.Fatalf("rotated key not used: %+v", s.Reply)
	}

	// A kid the fresh poll does not bring either: refused, after one wait.
	fx.f.Clock += int64(time.Second)
	forged := "Bearer " + jwttest.MustSign("ES256", k9, map[string]any{"kid": "k10"}, map[string]any{"sub": "ivy", "pol": "gold"})
	s, _, _ = fx.send("/es/x", forged)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 200, nil, `{"version":"v2","cursor":"1-0","keys":[]}`)
	if s.Reply == nil || s.Reply.Status != 403 || !strings.Contains(s.Reply.Body, `"Key not authorized"`) {
		t.Fatalf("unknown kid after the poll: %+v", s.Reply)
	}
	// Within refresh_min_interval_ms, the next one waits for the tick's
	// poll rather than sending its own.
	s, _, _ = fx.send("/es/x", forged)
	if s.Reply != nil || fx.f.Pending("/turnpike/v1/sync") != nil {
		t.Fatalf("a second fresh poll within the interval: %+v", s.Reply)
	}
	fx.f.Clock += int64(time.Second)
	fx.r.OnTick()
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sync"), 200, nil, `{"version":"v2","cursor":"1-0","keys":[]}`)
	if status(s) != 403 {
		t.Fatalf("after the tick's poll: %d", status(s))
	}
}

func TestJWTPolicyDenials(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	s, _, _ := fx.send("/hs/x", hs(map[string]any{"sub": "dave", "pol": "platinum"}))
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"), 404, nil, `{}`)
	if s.Reply == nil || s.Reply.Status != 403 || !strings.Contains(s.Reply.Body, "key not authorized: no matching policy") {
		t.Fatalf("unknown policy: %+v", s.Reply)
	}
	if len(fx.f.Calls) != 0 {
		t.Fatal("a refused session was written")
	}
}

func TestJWTECDSAFromTheSnapshot(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	tok := "Bearer " + jwttest.MustSign("ES256", jwtEC, map[string]any{"kid": "k1"}, map[string]any{"sub": "erin", "pol": "silver"})
	s, _, _ := fx.send("/es/x", tok)
	fx.f.Answer(fx.f.Pending("/turnpike/v1/sessions/"+sessionHash("erin")), 200, map[string]string{"x-turnpike-cursor": "1-0"},
		`{"org_id":"org1","apply_policies":["silver"],"alias":"erin"}`)
	if status(s) != 200 {
		t.Fatalf("status %d %+v", status(s), s.Reply)
	}
}

func TestJWTOneToOne(t *testing.T) {
	fx := newFixture(t, "", jwtSnapshot())
	session := `{"org_id":"org1","access_rights":{"o2o":{"api_id":"o2o","versions":["Default"]}},"jwt_data":{"secret":"per-key-secret"}}`
	good := "Bearer " + jwttest.MustSign("HS256", []byte("per-key-secret"), map[string]any{"kid": "frank-key"}, map[string]any{"sub": "frank"})
	s, _, _ := fx.send("/o2o/x", good)
	fx.lookup("frank-key", 200, session)
	if status(s) != 200 {
		t.Fatalf("status %d %+v", status(s), s.Reply)
	}
	bad := "Bearer " + jwttest.MustSign("HS256", []byte("not-the-secret"), map[string]any{"kid": "frank-key"}, map[string]any{"sub": "frank"})
	if s := fx.do("/o2o/x", bad, ""); s.Reply == nil || s.Reply.Status != 403 || !strings.Contains(s.Reply.Body, "Key not authorized") {
		t.Fatalf("wrong secret: %+v", s.Reply)
	}
	s, _, _ = fx.send("/o2o/x", "Bearer "+jwttest.MustSign("HS256", []byte("x"), map[string]any{"kid": "nobody"}, map[string]any{}))
	fx.lookup("nobody", 404, `{}`)
	if s.Reply == nil || s.Reply.Status != 403 || !strings.Contains(s.Reply.Body, `"Key not authorized"`) {
		t.Fatalf("unknown key: %+v", s.Reply)
	}
}

// benchWarm measures one warm request natively (the wasm benchmarks are in
// filter/): what a JWT adds to a key's warm path.
func benchWarm(b *testing.B, snapshot, path, auth, session string) {
	fx := newFixture(b, "", snapshot)
	s, _, _ := fx.send(path, auth)
	if c := fx.f.Pending("/turnpike/v1/sessions/"); c != nil {
		fx.f.Answer(c, 200, map[string]string{"x-turnpike-cursor": "1-0"}, session)
	}
	if status(s) != 200 {
		b.Fatalf("status %d %+v", status(s), s.Reply)
	}
	hdrs := map[string]string{":method": "GET", ":path": path, ":authority": "example.com", "authorization": auth}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := uint32(1000 + i)
		fx.f.Stream(id, hdrs)
		h := fx.r.NewHttpContext(id).(*httpContext)
		h.OnHttpRequestHeaders(4, true)
		h.OnHttpStreamDone()
	}
}

func BenchmarkWarmNative(b *testing.B) {
	b.Run("key", func(b *testing.B) {
		benchWarm(b, testSnapshot, "/api1/x", "some-key", testSession(`"rate":1e9,"per":1`))
	})
	b.Run("jwt", func(b *testing.B) {
		benchWarm(b, jwtSnapshot(), "/hs/x", hs(map[string]any{"sub": "bench", "pol": "fast"}), `{"org_id":"org1","apply_policies":["fast"]}`)
	})
}
