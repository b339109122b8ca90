package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// DELETE /tyk/cache/{apiID} reaches the filters through the sync
// snapshot: the API's cache generation goes up, on every replica.
func TestCacheInvalidation(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		a := start(t, url)
		expect(t, "invalidate", a.tyk("DELETE", "/tyk/cache/api1", ""), 200, `{"status":"ok","message":"cache invalidated"}`)
		expect(t, "invalidate again", a.tyk("DELETE", "/tyk/cache/api1", ""), 200, `"cache invalidated"`)
		r := a.filter("GET", "/turnpike/v1/sync?cursor=&version=", "")
		resp, err := wire.DecodeSyncResponse(r.body)
		if err != nil || resp.Snapshot == nil {
			t.Fatalf("sync: %v %s", err, r.body)
		}
		if g := resp.Snapshot.CacheGenerations["api1"]; g != 2 {
			t.Errorf("api1 cache generation %d, want 2", g)
		}
		if url == "" {
			return // the embedded store is not shared between sidecars
		}
		b := start(t, url) // another replica on the same Redis
		resp, err = wire.DecodeSyncResponse(b.filter("GET", "/turnpike/v1/sync?cursor=&version=", "").body)
		if err != nil || resp.Snapshot.CacheGenerations["api1"] != 2 {
			t.Errorf("second replica: %v %+v", err, resp.Snapshot)
		}
	})
}

func TestSetKeyPolicies(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		expect(t, "gold", s.tyk("POST", "/tyk/policies", goldPolicy), 200, `"added"`)
		expect(t, "silver", s.tyk("POST", "/tyk/policies", strings.Replace(strings.Replace(goldPolicy, `"gold"`, `"silver"`, 1),
			`"rate":100`, `"rate":7`, 1)), 200, `"added"`)
		m := s.tyk("POST", "/tyk/keys", `{"apply_policies":["gold"]}`).json(t)
		key, hash := m["key"].(string), m["key_hash"].(string)

		expect(t, "set by hash", s.tyk("POST", "/tyk/keys/policy/"+hash, `{"apply_policies":["silver"]}`),
			200, `{"key":"`+hash+`","status":"ok","action":"updated"}`)
		expect(t, "applied", s.tyk("GET", "/tyk/keys/"+key, ""), 200, `"rate":7`)
		expect(t, "policy member appended", s.tyk("POST", "/tyk/keys/policy/"+hash, `{"policy":"gold","apply_policies":[]}`),
			200, `"updated"`)
		expect(t, "applied again", s.tyk("GET", "/tyk/keys/"+key, ""), 200, `"apply_policies":["gold"]`)
		expect(t, "unknown key", s.tyk("POST", "/tyk/keys/policy/"+keys.Hash("nope-key"), `{"apply_policies":["gold"]}`),
			404, `"Key not found"`)
		expect(t, "unknown policy", s.tyk("POST", "/tyk/keys/policy/"+hash, `{"apply_policies":["nope"]}`), 400, "Policy not found")
		expect(t, "malformed", s.tyk("POST", "/tyk/keys/policy/"+hash, `{"apply_policies":"gold"}`), 400, "Couldn't decode instruction")
	})
}

func TestAPIVersions(t *testing.T) {
	s := start(t, "")
	base := `{"api_id":"base","name":"Base","proxy":{"listen_path":"/base/"},"use_keyless":true,
		"definition":{"name":"v1","default":"v2","versions":{"v2":"child","v0":"gone"}}}`
	child := `{"api_id":"child","name":"Child","expiration":"2030-01-02 15:04","proxy":{"listen_path":"/child/"},"use_keyless":true}`
	expect(t, "base", s.tyk("POST", "/tyk/apis", base), 200, `"added"`)
	expect(t, "child", s.tyk("POST", "/tyk/apis", child), 200, `"added"`)
	expect(t, "versions", s.tyk("GET", "/tyk/apis/base/versions", ""), 200,
		`{"apis":[{"id":"base","name":"Base","versionName":"v1","internal":false,"expirationDate":"","isDefaultVersion":false},`+
			`{"id":"child","name":"Child","versionName":"v2","internal":false,"expirationDate":"2030-01-02 15:04","isDefaultVersion":true}],"status":"success"}`)
	expect(t, "search", s.tyk("GET", "/tyk/apis/base/versions?searchText=V2", ""), 200, `{"apis":[{"id":"child"`)
	expect(t, "internal only", s.tyk("GET", "/tyk/apis/base/versions?accessType=internal", ""), 200, `{"apis":[],"status":"success"}`)
	expect(t, "unknown", s.tyk("GET", "/tyk/apis/nope/versions", ""), 404, "API not found")
}

func TestNotImplementedRoutes(t *testing.T) {
	s := start(t, "")
	for _, r := range []struct{ method, path, why string }{
		{"GET", "/tyk/apis/oas", "OAS API definitions"},
		{"POST", "/tyk/apis/oas", "OAS API definitions"},
		{"GET", "/tyk/apis/oas/abc", "OAS API definitions"},
		{"PUT", "/tyk/apis/oas/abc", "OAS API definitions"},
		{"GET", "/tyk/apis/oas/abc/export", "OAS API definitions"},
		{"POST", "/tyk/apis/oas/import", "OAS API definitions"},
		{"GET", "/tyk/debug", "/tyk/debug"},
		{"POST", "/tyk/debug", "/tyk/debug"},
		{"GET", "/tyk/mcps", "MCP"},
		{"DELETE", "/tyk/mcps/abc", "MCP"},
	} {
		expect(t, r.method+" "+r.path, s.tyk(r.method, r.path, ""), 501, r.why)
	}
	expect(t, "classic API routes still work", s.tyk("GET", "/tyk/apis/abc", ""), 404, "API not found")
}

func testCert(t *testing.T, cn string) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func TestCertificateStore(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		ca, key := testCert(t, "ca.example.com")
		other, _ := testCert(t, "other.example.com")
		added := s.tyk("POST", "/tyk/certs?org_id=org1", ca)
		expect(t, "add", added, 200, `"message":"Certificate added","status":"ok"`)
		id := added.json(t)["id"].(string)
		if !strings.HasPrefix(id, "org1") || len(id) != len("org1")+64 {
			t.Fatalf("id %q: want org id + SHA-256 fingerprint", id)
		}
		expect(t, "again", s.tyk("POST", "/tyk/certs?org_id=org1", ca), 403, "already exists")
		expect(t, "private key refused", s.tyk("POST", "/tyk/certs", other+key), 400, "private key")
		expect(t, "not PEM", s.tyk("POST", "/tyk/certs", "hello"), 400, "Malformed request body")
		otherID := s.tyk("POST", "/tyk/certs", other).json(t)["id"].(string)

		expect(t, "list org", s.tyk("GET", "/tyk/certs?org_id=org1", ""), 200, `{"certs":["`+id+`"]}`)
		expect(t, "list detailed", s.tyk("GET", "/tyk/certs?org_id=org1&mode=detailed", ""), 200,
			`"subject_cn":"ca.example.com","dns_names":["ca.example.com"],"has_private":false,"is_ca":true`)
		expect(t, "get one", s.tyk("GET", "/tyk/certs/"+id, ""), 200, `{"id":"`+id+`","fingerprint":"`+id[4:]+`"`)
		two := s.tyk("GET", "/tyk/certs/"+id+","+otherID, "")
		expect(t, "get two", two, 200, `[{"id":"`+id+`"`)
		expect(t, "unknown", s.tyk("GET", "/tyk/certs/nope", ""), 404, "Certificate with given SHA256 fingerprint not found.")
		expect(t, "delete", s.tyk("DELETE", "/tyk/certs/"+id, ""), 200, `{"status":"ok","message":"removed"}`)
		expect(t, "gone", s.tyk("GET", "/tyk/certs/"+id, ""), 404, "not found")
	})
}
