package app

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

const basicAPI = `{"api_id":"b","name":"B","org_id":"org1","use_basic_auth":true,"proxy":{"listen_path":"/b/"},
	"version_data":{"not_versioned":true}}`

// Basic-auth users: stored under org id + user name with a bcrypt hash,
// reachable as in Tyk, the password never in clear in storage, to the
// filter or on GET.
func TestBasicAuthKeys(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	expect(t, "api", s.tyk("POST", "/tyk/apis", basicAPI), 200, "added")
	user := `{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},"basic_auth_data":{"password":"s3cret"}}`
	r := s.tyk("POST", "/tyk/keys/alice", user)
	expect(t, "create", r, 200, `"key":"org1alice"`)
	if m := r.json(t); m["key_hash"] != keys.Hash("org1alice") {
		t.Errorf("key_hash %v", m["key_hash"])
	}

	// The filter gets the bcrypt hash, never the password.
	got := s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org1alice"), "")
	expect(t, "filter lookup", got, 200, `"hash_type":"bcrypt"`)
	sess, err := model.DecodeSession(got.body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got.body), "s3cret") || basicauth.Verify(sess.BasicAuthData.HashType, sess.BasicAuthData.Password, "s3cret") != nil {
		t.Fatalf("stored password: %+v", sess.BasicAuthData)
	}

	for _, path := range []string{"/tyk/keys/org1alice", "/tyk/keys/alice?username=true&org_id=org1",
		"/tyk/keys/alice?org_id=org1", "/tyk/keys/alice?api_id=b"} {
		r := s.tyk("GET", path, "")
		expect(t, "get "+path, r, 200, `"basic_auth_data":{"password":"","hash_type":"bcrypt"}`)
	}
	expect(t, "user name alone", s.tyk("GET", "/tyk/keys/alice", ""), 404, "Key not found")

	// An update without a password keeps it; one with a new one re-hashes.
	expect(t, "update keeps", s.tyk("PUT", "/tyk/keys/alice?username=true&org_id=org1",
		`{"org_id":"org1","alias":"a2","access_rights":{"b":{"api_id":"b"}}}`), 200, "modified")
	got = s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org1alice"), "")
	if kept, _ := model.DecodeSession(got.body); kept.Alias != "a2" || kept.BasicAuthData.Password != sess.BasicAuthData.Password {
		t.Fatalf("update lost the password: %s", got.body)
	}
	expect(t, "new password", s.tyk("PUT", "/tyk/keys/org1alice",
		`{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},"basic_auth_data":{"password":"n3w"}}`), 200, "modified")
	got = s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org1alice"), "")
	if changed, _ := model.DecodeSession(got.body); basicauth.Verify("bcrypt", changed.BasicAuthData.Password, "n3w") != nil {
		t.Fatalf("new password not stored: %s", got.body)
	}

	expect(t, "plain refused", s.tyk("POST", "/tyk/keys/bob",
		`{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},"basic_auth_data":{"password":"pw","hash_type":"plain"}}`),
		400, `hash_type \"plain\" is refused`)
	expect(t, "preview blanks", s.tyk("POST", "/tyk/keys/preview", user), 200, `"password":""`)
	expect(t, "delete by user name", s.tyk("DELETE", "/tyk/keys/alice?username=true&org_id=org1", ""), 200, "deleted")
	expect(t, "gone", s.tyk("GET", "/tyk/keys/org1alice", ""), 404, "")
}

func TestPlainPasswordsWhenAllowed(t *testing.T) {
	s := start(t, "", func(c *config.Config) { c.AllowPlainPasswords = true })
	expect(t, "plain", s.tyk("POST", "/tyk/keys/carol",
		`{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},"basic_auth_data":{"password":"pw","hash_type":"plain"}}`), 200, "org1carol")
	expect(t, "filter", s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org1carol"), ""), 200,
		`"basic_auth_data":{"password":"pw","hash_type":""}`)
	expect(t, "get blanks", s.tyk("GET", "/tyk/keys/org1carol", ""), 200, `"password":""`)
}

// HMAC keys get a secret as Tyk makes them, kept across updates.
func TestHMACKeys(t *testing.T) {
	s := start(t, "")
	r := s.tyk("POST", "/tyk/keys/create", `{"org_id":"org1","hmac_enabled":true,"access_rights":{"h":{"api_id":"h"}}}`)
	expect(t, "create", r, 200, "added")
	key := r.json(t)["key"].(string)
	m := s.tyk("GET", "/tyk/keys/"+key, "").json(t)
	secret, _ := m["hmac_string"].(string)
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(raw) != 32 {
		t.Fatalf("hmac_string %q: want base64 of 32 hex digits", secret)
	}
	expect(t, "update", s.tyk("PUT", "/tyk/keys/"+key, `{"org_id":"org1","hmac_enabled":true,"alias":"x","access_rights":{"h":{"api_id":"h"}}}`), 200, "modified")
	if m := s.tyk("GET", "/tyk/keys/"+key, "").json(t); m["hmac_string"] != secret {
		t.Errorf("secret changed on update: %v", m["hmac_string"])
	}
	expect(t, "own secret kept", s.tyk("POST", "/tyk/keys/my-hmac-key",
		`{"org_id":"org1","hmac_enabled":true,"hmac_string":"mine","access_rights":{"h":{"api_id":"h"}}}`), 200, "added")
	expect(t, "get", s.tyk("GET", "/tyk/keys/my-hmac-key", ""), 200, `"hmac_string":"mine"`)
}

func TestAuthSettingsValidated(t *testing.T) {
	s := start(t, "")
	expect(t, "bad base identity", s.tyk("POST", "/tyk/apis",
		`{"api_id":"x","use_basic_auth":true,"use_standard_auth":true,"base_identity_provided_by":"basic"}`), 400, `base_identity_provided_by`)
	expect(t, "bad algorithm", s.tyk("POST", "/tyk/apis",
		`{"api_id":"x","enable_signature_checking":true,"hmac_allowed_algorithms":["rsa-sha256"]}`), 400, `hmac_allowed_algorithms`)
	expect(t, "body extraction", s.tyk("POST", "/tyk/apis",
		`{"api_id":"x","use_basic_auth":true,"basic_auth":{"extract_from_body":true}}`), 400, `basic_auth.extract_from_body`)
	expect(t, "chain", s.tyk("POST", "/tyk/apis",
		`{"api_id":"x","use_basic_auth":true,"enable_signature_checking":true,"base_identity_provided_by":"hmac_key"}`), 200, "added")
}

// Certificate-bound keys are stored under the org id and the certificate's
// SHA-256, once.
func TestCertificateKeys(t *testing.T) {
	s := start(t, "")
	digest := strings.Repeat("c3", 32)
	body := `{"org_id":"org1","certificate":"org1` + digest + `","access_rights":{"c":{"api_id":"c"}}}`
	expect(t, "create", s.tyk("POST", "/tyk/keys/create", body), 200, `"key":"org1`+digest+`"`)
	expect(t, "filter", s.filter("GET", "/turnpike/v1/sessions/"+keys.Hash("org1"+digest), ""), 200, digest)
	expect(t, "twice", s.tyk("POST", "/tyk/keys/create", body), 500, "Key with given certificate already found")
	expect(t, "not an id", s.tyk("POST", "/tyk/keys", `{"org_id":"org1","certificate":"pem?","access_rights":{"c":{"api_id":"c"}}}`),
		400, `must be a certificate id`)
	expect(t, "mTLS API", s.tyk("POST", "/tyk/apis", `{"api_id":"c","use_mutual_tls_auth":true,"client_certificates":["org1`+digest+`"]}`), 200, "added")
	expect(t, "bad id", s.tyk("POST", "/tyk/apis", `{"api_id":"d","use_mutual_tls_auth":true,"client_certificates":["nope"]}`), 400, "client_certificates")
}
