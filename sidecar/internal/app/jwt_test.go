package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// The Gateway API validates the JWT fields and names the field it refuses.
func TestJWTAPIValidation(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	api := func(extra string) string {
		return `{"api_id":"j","name":"J","org_id":"org1","enable_jwt":true,"proxy":{"listen_path":"/j/"}` + extra + `}`
	}
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"hmac secret", api(`,"jwt_signing_method":"hmac","jwt_source":"c2VjcmV0"`), 200, ""},
		{"ecdsa PEM", api(`,"jwt_signing_method":"ecdsa","jwt_source":"` + pemOf(t, &ec.PublicKey) + `"`), 200, ""},
		{"JWKS URL", api(`,"jwt_signing_method":"rsa","jwt_source":"https://idp.example/jwks"`), 200, ""},
		{"one-to-one", api(``), 200, ""},
		{"unknown method", api(`,"jwt_signing_method":"RS256","jwt_source":"c2VjcmV0"`), 400, `\"jwt_signing_method\": unknown signing method`},
		{"bad base64", api(`,"jwt_source":"not base64!"`), 400, `\"jwt_source\": jwt_source is neither`},
		{"unparsable PEM", api(`,"jwt_signing_method":"rsa","jwt_source":"c2VjcmV0"`), 400, `\"jwt_source\": unparsable PEM`},
		{"EC key on an RSA API", api(`,"jwt_signing_method":"rsa","jwt_source":"` + pemOf(t, &ec.PublicKey) + `"`), 400, "an ECDSA key"},
		{"HMAC with a URL", api(`,"jwt_source":"https://idp.example/jwks"`), 400, "needs jwt_signing_method rsa or ecdsa"},
		{"negative skew", api(`,"jwt_source":"c2VjcmV0","jwt_expires_at_validation_skew":-1`), 400, `\"jwt_expires_at_validation_skew\"`},
		{"with auth tokens (multiple authentication)", api(`,"jwt_source":"c2VjcmV0","use_standard_auth":true,"base_identity_provided_by":"jwt_claim"`), 200, ""},
	} {
		expect(t, tc.name, s.tyk("POST", "/tyk/apis", tc.body), tc.code, tc.want)
	}
	// Stored and returned as sent.
	expect(t, "get", s.tyk("GET", "/tyk/apis/j", ""), 200, `"enable_jwt":true`)
}

// A JWT session is created once (the first write wins), replaced on
// demand, and then found like any key, by the Filter API and GET /tyk/keys.
func TestJWTSessionEndpoint(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
		id := jwt.SessionID("org1", "alice")
		hash := keys.Hash(id)
		path := wire.JWTSessionPath(hash, false)
		first := `{"org_id":"org1","apply_policies":["gold"],"alias":"alice","meta_data":{"TykJWTSessionID":"` + id + `"}}`
		r := s.filter("POST", path, first)
		expect(t, "create", r, 200, `"alias":"alice"`)
		if r.header.Get("X-Turnpike-Cursor") == "" {
			t.Error("no cursor on the answer")
		}
		// A second create (another VM) gets the stored session back.
		expect(t, "create again", s.filter("POST", path, `{"org_id":"org1","alias":"other"}`), 200, `"alias":"alice"`)
		expect(t, "replace", s.filter("POST", wire.JWTSessionPath(hash, true), `{"org_id":"org1","apply_policies":["gold"],"alias":"alice2"}`), 200, `"alias":"alice2"`)
		expect(t, "lookup", s.filter("GET", wire.SessionPath(hash), ""), 200, `"alias":"alice2"`)
		expect(t, "Gateway API", s.tyk("GET", "/tyk/keys/"+id, ""), 200, `"alias":"alice2"`)
		expect(t, "bad body", s.filter("POST", path, `{"rate":"x"}`), 400, "malformed session")
		expect(t, "bad hash", s.filter("POST", wire.PathJWTSessions+"abc", `{}`), 400, "64 lower-case hex")
		// The write is in the change feed, so other VMs drop what they cached.
		if got := s.sync("", ""); got.Cursor == "" {
			t.Fatalf("sync %+v", got)
		}
	})
}

// The sidecar fetches a JWKS URL, serves its keys in the snapshot, follows
// a rotation when a filter reports an unknown kid, and flushes on
// DELETE /tyk/cache/jwks.
func TestJWKSInTheSnapshot(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var current atomic.Value
	current.Store(jwt.KeySet{{Kid: "k1", Key: &k1.PublicKey}})
	var fetches atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(jwt.AppendKeySet(nil, current.Load().(jwt.KeySet)))
	}))
	defer idp.Close()
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	expect(t, "api", s.tyk("POST", "/tyk/apis", `{"api_id":"j","org_id":"org1","enable_jwt":true,"proxy":{"listen_path":"/j/"},
		"jwt_signing_method":"ecdsa","jwt_source":"`+idp.URL+`/jwks"}`), 200, "")
	waitSnapshot := func(what, kid string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			snap := string(s.sync("", "").Snapshot)
			if strings.Contains(snap, `"jwks":{"j":`) && strings.Contains(snap, `"kid":"`+kid+`"`) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: kid %s never reached the snapshot", what, kid)
	}
	waitSnapshot("first fetch", "k1")
	// Rotation: the IdP publishes k2; a filter reports the unknown kid.
	current.Store(jwt.KeySet{{Kid: "k2", Key: &k2.PublicKey}})
	before := fetches.Load()
	expect(t, "report", s.filter("GET", "/turnpike/v1/sync?cursor=&jwks_refresh=j", ""), 200, "")
	waitSnapshot("after the report", "k2")
	// Reported again at once: rate-limited, no fetch.
	expect(t, "report again", s.filter("GET", "/turnpike/v1/sync?cursor=&jwks_refresh=j", ""), 200, "")
	time.Sleep(100 * time.Millisecond)
	if n := fetches.Load() - before; n != 1 {
		t.Errorf("%d fetches after two reports, want 1", n)
	}
	current.Store(jwt.KeySet{{Kid: "k3", Key: &k1.PublicKey}})
	expect(t, "flush one", s.tyk("DELETE", "/tyk/cache/jwks/j", ""), 200, `"message":"cache invalidated"`)
	waitSnapshot("after the flush", "k3")
	expect(t, "flush all", s.tyk("DELETE", "/tyk/cache/jwks", ""), 200, "cache invalidated")
}

// A PEM jwt_source reaches the filters as a key set of one key.
func TestJWTPEMInTheSnapshot(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expect(t, "api", s.tyk("POST", "/tyk/apis", `{"api_id":"pem","org_id":"org1","enable_jwt":true,
		"proxy":{"listen_path":"/pem/"},"jwt_signing_method":"ecdsa","jwt_source":"`+pemOf(t, &ec.PublicKey)+`"}`), 200, "")
	r, err := wire.DecodeSyncResponse(s.filter("GET", "/turnpike/v1/sync?cursor=", "").body)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := r.Snapshot.JWKS["pem"].Find("whatever", true)
	if !ok || !k.(*ecdsa.PublicKey).Equal(&ec.PublicKey) {
		t.Fatalf("snapshot key sets %+v", r.Snapshot.JWKS)
	}
}
