package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
	"github.com/turnpike-dev/turnpike/shared/oidc"
)

// OpenID Connect end to end: an identity provider's discovery document
// and JWKS, two sidecar replicas on Redis, the gateway's VMs. The session
// is created from the client's policy on first use, found by the Gateway
// API under Tyk's id, and a key rotation at the IdP is followed without a
// restart.
func TestOpenIDConnect(t *testing.T) {
	e := newEnv(t, options{})
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var published atomic.Value
	published.Store(jwt.KeySet{{Kid: "k1", Key: &k1.PublicKey}})
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_, _ = w.Write([]byte(`{"issuer":"` + idp.URL + `","jwks_uri":"` + idp.URL + `/certs"}`))
		case "/certs":
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = w.Write(jwt.AppendKeySet(nil, published.Load().(jwt.KeySet)))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(idp.Close)

	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"oidc-pol","org_id":"org1","active":true,"rate":1000,"per":1,
		"quota_max":4,"quota_renewal_rate":3600,`+rights("oid")+`}`)
	// Another client's tokens get a policy without quota: e.within's
	// probes (four per try) must not exhaust it.
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"oidc-free","org_id":"org1","active":true,"quota_max":-1,`+rights("oid")+`}`)
	b64 := base64.StdEncoding.EncodeToString
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("oid", `,"use_openid":true,
		"openid_options":{"providers":[{"issuer":"`+idp.URL+`","client_ids":{"`+b64([]byte("web-app"))+`":"oidc-pol","`+
		b64([]byte("cli-app"))+`":"oidc-free"}}]}`))
	e.within(5*time.Second, "/oid/", "", 401, "Key not authorised")

	sign := func(key *ecdsa.PrivateKey, kid, sub, client string) string {
		return "Bearer " + jwttest.MustSign("ES256", key, map[string]any{"kid": kid},
			map[string]any{"iss": idp.URL, "sub": sub, "aud": []string{client}, "exp": time.Now().Add(time.Hour).Unix()})
	}
	fay := sign(k1, "k1", "fay", "web-app")
	e.eventually(5*time.Second, "first ID token admitted", func() error { return e.get("/oid/x", fay).is(200, "") })

	id := (&oidc.Config{OrgID: "org1"}).Dynamic("web-app", "fay").SessionID
	s := e.getKey(id)
	if s["alias"] != "web-app:fay" || s["org_id"] != "org1" {
		t.Fatalf("GET /tyk/keys/%s: %v", id, s)
	}
	// The policy's quota (4) holds across VMs and tokens of the user.
	for range 3 {
		e.expect("/oid/x", sign(k1, "k1", "fay", "web-app"), 200, "")
	}
	e.expect("/oid/x", fay, 403, "Quota exceeded")

	// Rotation: a token with the new kid is refused until the sidecar
	// refetched the issuer's keys, which the filter asks for. As for JWT
	// (jwt_test.go), a VM and the sidecar refetch one URL at most every
	// 10 s and the first requests may already have asked, so the bound is
	// 10 s plus a sync round.
	published.Store(jwt.KeySet{{Kid: "k2", Key: &k2.PublicKey}})
	took := e.within(15*time.Second, "/oid/x", sign(k2, "k2", "gus", "cli-app"), 200, "")
	t.Logf("rotation followed by every VM in %v", took)

	e.expect("/oid/x", sign(k1, "k2", "mallory", "cli-app"), 401, "Key not authorised")
	e.expect("/oid/x", "Bearer "+jwttest.MustSign("ES256", k2, map[string]any{"kid": "k2"},
		map[string]any{"iss": idp.URL, "sub": "hal", "aud": "unknown-app"}), 401, "Key not authorised")
}
