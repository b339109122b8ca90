package plugin

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/hmacsig"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

// The pipeline with basic auth, HMAC signing and several methods at once.

func withAPI(api string) string {
	return strings.Replace(testSnapshot, `"apis":[`, `"apis":[`+api+`,`, 1)
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// sendAuth sends a request; one let through at once counts as resumed.
func (fx *fixture) sendAuth(path, key string, more ...string) (*hosttest.Stream, *httpContext, proxywasm.Action) {
	s, h, act := fx.send(path, key, more...)
	if act == proxywasm.ActionContinue {
		s.Resumed = true
	}
	return s, h, act
}

// answer answers the pending lookup of the session stored under id.
func (fx *fixture) answer(id, session string) {
	fx.t.Helper()
	c := fx.f.Pending("/turnpike/v1/sessions/" + keys.Hash(id))
	if c == nil {
		fx.t.Fatalf("no lookup pending for %q", id)
	}
	status := 200
	if session == "404" {
		status, session = 404, `{"error":"key not found"}`
	}
	fx.f.Answer(c, status, map[string]string{"x-turnpike-cursor": "1-0"}, session)
}

func wantReply(t *testing.T, s *hosttest.Stream, code uint32, msg, challenge string) {
	t.Helper()
	if status(s) != code || code != 200 && !strings.Contains(s.Reply.Body, msg) {
		t.Fatalf("status %d %+v, want %d %q", status(s), s.Reply, code, msg)
	}
	if code != 200 && s.Reply.Headers["www-authenticate"] != challenge {
		t.Fatalf("challenge %q, want %q", s.Reply.Headers["www-authenticate"], challenge)
	}
}

const basicAPIDef = `{"api_id":"b","name":"Basic API","org_id":"org1","active":true,"use_basic_auth":true,
	"proxy":{"listen_path":"/b/"},"version_data":{"not_versioned":true}}`

func basicSession(t *testing.T, pw string) string {
	hash, err := basicauth.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return `{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},` +
		`"basic_auth_data":{"password":"` + hash + `","hash_type":"bcrypt"}}`
}

func TestBasicAuthPipeline(t *testing.T) {
	fx := newFixture(t, "", withAPI(basicAPIDef))
	const realm = `Basic realm="Basic API"`
	alice := basicSession(t, "s3cret")

	s, _, _ := fx.sendAuth("/b/x", basicAuth("pipe-alice", "s3cret"))
	fx.answer("org1pipe-alice", alice)
	wantReply(t, s, 200, "", "")

	// Cached session and remembered password: no call at all.
	calls := len(fx.f.Calls)
	s, _, _ = fx.sendAuth("/b/x", basicAuth("pipe-alice", "s3cret"))
	wantReply(t, s, 200, "", "")
	if len(fx.f.Calls) != calls {
		t.Fatal("a warm basic-auth request called the sidecar")
	}

	s, _, _ = fx.sendAuth("/b/x", basicAuth("pipe-alice", "wrong"))
	wantReply(t, s, 401, "User not authorised", realm)
	s, _, _ = fx.sendAuth("/b/x", "")
	wantReply(t, s, 401, "Authorization field missing", realm)
	s, _, _ = fx.sendAuth("/b/x", "Basic !!!")
	wantReply(t, s, 400, basicauth.MsgBadEncoding, "")
	s, _, _ = fx.sendAuth("/b/x", basicAuth("pipe-nobody", "x"))
	fx.answer("org1pipe-nobody", "404")
	wantReply(t, s, 401, "User not authorised", realm)
	// Negative cache: the same answer without a lookup.
	s, _, _ = fx.sendAuth("/b/x", basicAuth("pipe-nobody", "x"))
	wantReply(t, s, 401, "User not authorised", realm)
	// An expired key: the method's challenge, not Bearer.
	s, _, _ = fx.sendAuth("/b/x", basicAuth("pipe-old", "s3cret"))
	fx.answer("org1pipe-old", strings.Replace(alice, `"org_id"`, `"expires":1000,"org_id"`, 1))
	wantReply(t, s, 401, "Key has expired", realm)

	fx.r.OnTick()
	if fx.f.Counters["turnpike.decision.unauthorized"] != 3 {
		t.Errorf("counters %v", fx.f.Counters)
	}
}

const hmacAPIDef = `{"api_id":"h","name":"HMAC API","org_id":"org1","active":true,"enable_signature_checking":true,
	"hmac_allowed_clock_skew":1000,"proxy":{"listen_path":"/h/"},"version_data":{"not_versioned":true}}`

func TestHMACPipeline(t *testing.T) {
	fx := newFixture(t, "", withAPI(hmacAPIDef))
	date := time.Unix(0, testStart).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	const secret = "hmac-secret"
	session := `{"org_id":"org1","hmac_enabled":true,"hmac_string":"` + secret + `","access_rights":{"h":{"api_id":"h"}}}`
	signed := "(request-target): get /h/x\ndate: " + date
	auth := func(key, sig string) string {
		return `Signature keyId="` + key + `",algorithm="hmac-sha256",headers="(request-target) date",signature="` + sig + `"`
	}
	good := hmacsig.Sign(signed, secret, "hmac-sha256")

	s, _, _ := fx.sendAuth("/h/x", auth("hmac-key-1", good), "date", date)
	fx.answer("hmac-key-1", session)
	wantReply(t, s, 200, "", "")
	s, _, _ = fx.sendAuth("/h/x", auth("hmac-key-1", good), "date", date) // warm
	wantReply(t, s, 200, "", "")
	for _, tc := range []struct {
		name string
		auth string
		more []string
	}{
		{"wrong signature", auth("hmac-key-1", hmacsig.Sign(signed, "other", "hmac-sha256")), []string{"date", date}},
		{"missing", "", []string{"date", date}},
		{"malformed", `Signature keyId="hmac-key-1",bogus="1"`, []string{"date", date}},
		{"stale date", auth("hmac-key-1", good), []string{"date", "Mon, 02 Jan 2006 15:04:05 GMT"}},
	} {
		s, _, _ := fx.sendAuth("/h/x", tc.auth, tc.more...)
		if status(s) != 400 || !strings.Contains(s.Reply.Body, hmacsig.MsgInvalid) {
			t.Errorf("%s: %d %+v", tc.name, status(s), s.Reply)
		}
	}
	calls := len(fx.f.Calls)
	s, _, _ = fx.sendAuth("/h/x", auth("hmac-nobody", good), "date", date)
	if len(fx.f.Calls) == calls {
		t.Fatal("unknown key not looked up")
	}
	fx.answer("hmac-nobody", "404")
	wantReply(t, s, 400, hmacsig.MsgInvalid, "")
}

func TestMultipleAuthPipeline(t *testing.T) {
	api := `{"api_id":"m","name":"Multi","org_id":"org1","active":true,"use_basic_auth":true,"use_standard_auth":true,
		"base_identity_provided_by":"basic_auth_user","auth":{"auth_header_name":"x-key"},
		"proxy":{"listen_path":"/m/"},"version_data":{"not_versioned":true}}`
	fx := newFixture(t, `,"identity_headers":true,"strip_credential":true`, withAPI(api))
	hash, err := basicauth.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	user := `{"org_id":"org1","alias":"the-user","access_rights":{"m":{"api_id":"m"}},` +
		`"basic_auth_data":{"password":"` + hash + `","hash_type":"bcrypt"}}`
	token := `{"org_id":"org1","alias":"the-token","access_rights":{"m":{"api_id":"m"}}}`

	s, _, _ := fx.sendAuth("/m/x", basicAuth("multi-user", "pw"), "x-key", "multi-token")
	fx.answer("org1multi-user", user) // basic first (Tyk's order)
	fx.answer("multi-token", token)   // then the token
	wantReply(t, s, 200, "", "")
	h := s.RequestHeaders
	if h["x-turnpike-alias"] != "the-user" || h["x-turnpike-key-hash"] != keys.Hash("org1multi-user") {
		t.Errorf("base identity not the basic-auth user: %v", h)
	}
	if h["authorization"] != "" || h["x-key"] != "" {
		t.Errorf("credentials not stripped: %v", h)
	}

	// Each method must pass: a good token does not excuse a bad password,
	// an unknown token fails a good password.
	s, _, _ = fx.sendAuth("/m/x", basicAuth("multi-user", "bad"), "x-key", "multi-token")
	wantReply(t, s, 401, "User not authorised", `Basic realm="Multi"`)
	s, _, _ = fx.sendAuth("/m/x", basicAuth("multi-user", "pw"), "x-key", "multi-unknown")
	fx.answer("multi-unknown", "404")
	wantReply(t, s, 403, "Access to this API has been disallowed", "")
	s, _, _ = fx.sendAuth("/m/x", basicAuth("multi-user", "pw"))
	wantReply(t, s, 401, "Authorization field missing", `Bearer realm="turnpike"`)

	// A base identity that names no enabled method: Tyk's 400.
	fx2 := newFixture(t, "", withAPI(strings.Replace(api, "basic_auth_user", "jwt_claim", 1)))
	s, _, _ = fx2.sendAuth("/m/x", basicAuth("multi-user", "pw"), "x-key", "multi-token")
	fx2.answer("org1multi-user", user)
	fx2.answer("multi-token", token)
	wantReply(t, s, 400, "Session state is missing or unset", "")
}

func TestClientCertificatesPipeline(t *testing.T) {
	digest := strings.Repeat("d4", 32)
	mtls := `{"api_id":"t","name":"T","org_id":"org1","active":true,"use_mutual_tls_auth":true,
		"client_certificates":["org1` + digest + `"],"proxy":{"listen_path":"/t/"},"version_data":{"not_versioned":true}}`
	bound := `{"api_id":"c","name":"C","org_id":"org1","active":true,"use_standard_auth":true,
		"auth":{"use_certificate":true},"proxy":{"listen_path":"/c/"},"version_data":{"not_versioned":true}}`
	fx := newFixture(t, "", withAPI(mtls+","+bound))

	// Static mTLS: the certificate first (403), then the auth token.
	s, _, _ := fx.sendAuth("/t/x", "tls-key")
	wantReply(t, s, 403, "TLS not enabled", "")
	fx.f.Props["connection.tls_version"] = []byte("TLSv1.3")
	s, _, _ = fx.sendAuth("/t/x", "tls-key")
	wantReply(t, s, 403, "Client TLS certificate is required", "")
	fx.f.Props["connection.sha256_peer_certificate_digest"] = []byte(strings.Repeat("e5", 32))
	s, _, _ = fx.sendAuth("/t/x", "tls-key")
	wantReply(t, s, 403, "not allowed", "")
	fx.f.Props["connection.sha256_peer_certificate_digest"] = []byte(digest)
	s, _, _ = fx.sendAuth("/t/x", "")
	wantReply(t, s, 401, "Authorization field missing", `Bearer realm="turnpike"`)
	s, _, _ = fx.sendAuth("/t/x", "tls-key")
	fx.answer("tls-key", `{"org_id":"org1","access_rights":{"t":{"api_id":"t"}}}`)
	wantReply(t, s, 200, "", "")

	// Certificate-bound key: the session of org id + the certificate's
	// SHA-256, whatever the Authorization header says.
	s, _, _ = fx.sendAuth("/c/x", "whatever")
	fx.answer("org1"+digest, `{"org_id":"org1","access_rights":{"c":{"api_id":"c"}}}`)
	wantReply(t, s, 200, "", "")
	fx.f.Props["connection.sha256_peer_certificate_digest"] = []byte(strings.Repeat("f6", 32))
	s, _, _ = fx.sendAuth("/c/x", "")
	fx.answer("org1"+strings.Repeat("f6", 32), "404")
	wantReply(t, s, 401, "Access to this API has been disallowed", "") // no scheme to name
	delete(fx.f.Props, "connection.sha256_peer_certificate_digest")
	s, _, _ = fx.sendAuth("/c/x", "a-key")
	wantReply(t, s, 401, "Client certificate required", "")
}

// A basic-auth user's id (org id + user name, no secret) is not an auth
// token.
func TestBasicUserIsNoAuthToken(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	s, _, _ := fx.sendAuth("/api1/x", "org1token-user")
	fx.answer("org1token-user", `{"org_id":"org1","access_rights":{"api1":{"api_id":"api1","versions":["Default"]}},`+
		`"basic_auth_data":{"password":"$2a$10$abcdefghijklmnopqrstuv","hash_type":"bcrypt"}}`)
	wantReply(t, s, 403, "Access to this API has been disallowed", "")
}
