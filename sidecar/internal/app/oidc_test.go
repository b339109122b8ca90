package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// An OpenID Connect API's keys: the sidecar reads each issuer's discovery
// document, fetches its jwks_uri, serves the keys in the snapshot under
// "<api_id>#oidc<provider index>", refetches on a filter's unknown-kid
// report and on DELETE /tyk/cache/jwks/{api_id}.
func TestOIDCKeysInTheSnapshot(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var current atomic.Value
	current.Store(jwt.KeySet{{Kid: "k1", Key: &k1.PublicKey}})
	var discoveries atomic.Int32
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realm/.well-known/openid-configuration":
			discoveries.Add(1)
			_, _ = w.Write([]byte(`{"issuer":"` + idp.URL + `/realm","jwks_uri":"` + idp.URL + `/realm/certs"}`))
		case "/realm/certs":
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = w.Write(jwt.AppendKeySet(nil, current.Load().(jwt.KeySet)))
		default:
			w.WriteHeader(404)
		}
	}))
	defer idp.Close()
	s := start(t, testenv.StartRedis(t, testenv.RedisOptions{}).URL())
	expect(t, "api", s.tyk("POST", "/tyk/apis", `{"api_id":"o","org_id":"org1","use_openid":true,"proxy":{"listen_path":"/o/"},
		"openid_options":{"providers":[{"issuer":"`+idp.URL+`/realm","client_ids":{"d2Vi":"p1"}}]}}`), 200, "")
	expect(t, "stored as sent", s.tyk("GET", "/tyk/apis/o", ""), 200, `"client_ids":{"d2Vi":"p1"}`)
	expect(t, "refused with a bad client id", s.tyk("POST", "/tyk/apis", `{"api_id":"o2","org_id":"org1","use_openid":true,
		"proxy":{"listen_path":"/o2/"},"openid_options":{"providers":[{"issuer":"x","client_ids":{"web":"p1"}}]}}`), 400, "not a base64")
	waitSnapshot := func(what, kid string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			snap := string(s.sync("", "").Snapshot)
			if strings.Contains(snap, `"o#oidc0":`) && strings.Contains(snap, `"kid":"`+kid+`"`) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: kid %s never reached the snapshot", what, kid)
	}
	waitSnapshot("first fetch", "k1")
	current.Store(jwt.KeySet{{Kid: "k2", Key: &k1.PublicKey}})
	expect(t, "report", s.filter("GET", "/turnpike/v1/sync?cursor=&jwks_refresh=o", ""), 200, "")
	waitSnapshot("after the report", "k2")
	current.Store(jwt.KeySet{{Kid: "k3", Key: &k1.PublicKey}})
	before := discoveries.Load()
	expect(t, "flush", s.tyk("DELETE", "/tyk/cache/jwks/o", ""), 200, "cache invalidated")
	waitSnapshot("after the flush", "k3")
	if discoveries.Load() == before {
		t.Error("a flush must read the discovery document again")
	}
}
