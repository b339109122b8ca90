//go:build !wasip1

package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/hmacsig"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// Basic auth, HMAC signing and several methods at once in the real
// filter.wasm.

const basicAPIJSON = `{"api_id":"b","name":"Basic API","org_id":"org1","active":true,"use_basic_auth":true,
	"proxy":{"listen_path":"/b/"},"version_data":{"not_versioned":true}}`

const hmacAPIJSON = `{"api_id":"h","name":"HMAC API","org_id":"org1","active":true,"enable_signature_checking":true,
	"hmac_allowed_clock_skew":60000,"proxy":{"listen_path":"/h/"},"version_data":{"not_versioned":true}}`

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// basicUser is the session of a basic-auth user of API b, as the sidecar
// stores it.
func basicUser(t testing.TB, pw, extra string) string {
	hash, err := basicauth.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return `{"org_id":"org1","access_rights":{"b":{"api_id":"b"}},` + extra +
		`"basic_auth_data":{"password":"` + hash + `","hash_type":"bcrypt"}}`
}

func header(o outcome, name string) string {
	for _, kv := range o.headers {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func TestBasicAuthInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(basicAPIJSON)
	sc.putKey("org1alice", basicUser(t, "s3cret", ""))
	sc.putKey("org1bob", basicUser(t, "hunter2", ""))
	h := start(t, sc.srv.URL, 1, "")

	t0 := time.Now()
	if o := do(t, h, request("/b/x", basicHeader("alice", "s3cret"))); o.status != 200 {
		t.Fatalf("right password: %d %s", o.status, o.body)
	}
	t.Logf("first request (bcrypt in the VM): %v", time.Since(t0))
	t0 = time.Now()
	for range 100 {
		if o := do(t, h, request("/b/x", basicHeader("alice", "s3cret"))); o.status != 200 {
			t.Fatalf("cached: %d %s", o.status, o.body)
		}
	}
	t.Logf("remembered: %v per request", time.Since(t0)/100)

	o := do(t, h, request("/b/x", basicHeader("alice", "wrong")))
	if o.status != 401 || o.body != errorBody("User not authorised") || header(o, "www-authenticate") != `Basic realm="Basic API"` {
		t.Fatalf("wrong password: %d %s %v", o.status, o.body, o.headers)
	}
	o = do(t, h, request("/b/x", "Basic"))
	if o.status != 400 || o.body != errorBody(basicauth.MsgMalformedHeader) {
		t.Fatalf("malformed: %d %s", o.status, o.body)
	}
	o = do(t, h, request("/b/x", ""))
	if o.status != 401 || header(o, "www-authenticate") != `Basic realm="Basic API"` {
		t.Fatalf("missing: %d %v", o.status, o.headers)
	}

	// 1,000 wrong passwords for bob: never a success, bcrypt runs only
	// FailureBurst times (the rest are refused at once), and alice, whose
	// password is remembered, and bob's right password after the window
	// are unaffected.
	t0 = time.Now()
	for i := range 1000 {
		if o := do(t, h, request("/b/x", basicHeader("bob", "guess"+string(rune('a'+i%26))))); o.status != 401 {
			t.Fatalf("guess %d: %d %s", i, o.status, o.body)
		}
	}
	took := time.Since(t0)
	t.Logf("1000 wrong passwords: %v", took)
	if took > 20*time.Second {
		t.Errorf("1000 wrong passwords took %v: bcrypt is not limited", took)
	}
	if o := do(t, h, request("/b/x", basicHeader("alice", "s3cret"))); o.status != 200 {
		t.Fatalf("alice during the attack: %d", o.status)
	}
	if n := metric(t, h, "turnpike.decision.auth_throttled"); n < 900 {
		t.Errorf("throttled %d of 1000", n)
	}
}

func TestHMACInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(hmacAPIJSON)
	sc.putKey("hmac-key-1", `{"org_id":"org1","hmac_enabled":true,"hmac_string":"the-secret","access_rights":{"h":{"api_id":"h"}}}`)
	h := start(t, sc.srv.URL, 1, "")
	date := time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	sign := func(secret, date string) wasmhost.Headers {
		sig := hmacsig.Sign("(request-target): get /h/x\ndate: "+date, secret, "hmac-sha256")
		r := request("/h/x", `Signature keyId="hmac-key-1",algorithm="hmac-sha256",headers="(request-target) date",signature="`+sig+`"`)
		return append(r, [2]string{"date", date})
	}
	for _, tc := range []struct {
		name string
		hdrs wasmhost.Headers
		want int
	}{
		{"signed", sign("the-secret", date), 200},
		{"signed, warm", sign("the-secret", date), 200},
		{"wrong secret", sign("other", date), 400},
		{"date out of the window", sign("the-secret", time.Now().Add(-2*time.Minute).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")), 400},
		{"a plain key", request("/h/x", "hmac-key-1"), 400},
	} {
		o := do(t, h, tc.hdrs)
		if o.status != tc.want || tc.want == 400 && o.body != errorBody(hmacsig.MsgInvalid) {
			t.Errorf("%s: %d %s", tc.name, o.status, o.body)
		}
	}
}

func TestMultipleAuthInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(strings.Replace(strings.Replace(basicAPIJSON, `"use_basic_auth":true`,
		`"use_basic_auth":true,"use_standard_auth":true,"base_identity_provided_by":"auth_token","auth":{"auth_header_name":"x-key"}`, 1),
		`"name":"Basic API"`, `"name":"Both"`, 1))
	sc.putKey("org1carol", basicUser(t, "pw", `"rate":1,"per":60,`))
	sc.putKey("carol-token", `{"org_id":"org1","alias":"token","rate":2,"per":60,"access_rights":{"b":{"api_id":"b"}}}`)
	h := start(t, sc.srv.URL, 1, `,"rate_limit_headers":"rate_limits"`)
	both := append(request("/b/x", basicHeader("carol", "pw")), [2]string{"x-key", "carol-token"})
	// The token's session is the base identity: its rate (2 per minute)
	// applies, not the user's (1).
	for i, want := range []int{200, 200, 429} {
		if o := do(t, h, both); o.status != want {
			t.Fatalf("request %d: %d %s", i, o.status, o.body)
		}
	}
	if o := do(t, h, request("/b/x", basicHeader("carol", "pw"))); o.status != 401 || o.body != errorBody("Authorization field missing") {
		t.Fatalf("without the token: %d %s", o.status, o.body)
	}
	wrong := append(request("/b/x", basicHeader("carol", "bad")), [2]string{"x-key", "carol-token"})
	if o := do(t, h, wrong); o.status != 401 || o.body != errorBody("User not authorised") {
		t.Fatalf("wrong password with a good token: %d %s", o.status, o.body)
	}
}

// Client certificates come from the host's connection properties, per
// stream (Envoy's connection.*; the wazero host's SetProperty).
func TestClientCertificatesInTheVM(t *testing.T) {
	digest := strings.Repeat("d4", 32)
	sc := newFakeSidecar(t)
	sc.putAPI(`{"api_id":"t","name":"T","org_id":"org1","active":true,"use_mutual_tls_auth":true,"client_certificates":["org1` +
		digest + `"],"proxy":{"listen_path":"/t/"},"version_data":{"not_versioned":true}}`)
	sc.putAPI(`{"api_id":"c","name":"C","org_id":"org1","active":true,"auth":{"use_certificate":true},` +
		`"proxy":{"listen_path":"/c/"},"version_data":{"not_versioned":true}}`)
	sc.putKey("tls-key", `{"org_id":"org1","access_rights":{"t":{"api_id":"t"}}}`)
	sc.putKey("org1"+digest, `{"org_id":"org1","access_rights":{"c":{"api_id":"c"}}}`)
	h := start(t, sc.srv.URL, 1, "")
	send := func(path, key, cert string) outcome {
		s := h.NewStream()
		defer s.Close()
		if cert != "" {
			s.SetProperty("connection.tls_version", []byte("TLSv1.3"))
			s.SetProperty("connection.sha256_peer_certificate_digest", []byte(cert))
		}
		res := s.RequestHeaders(request(path, key), true)
		if res.Action == wasmhost.ActionPause {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			if res, err = s.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if res.Action == wasmhost.ActionLocalReply {
			return outcome{status: res.Reply.Status, body: string(res.Reply.Body)}
		}
		return outcome{status: 200}
	}
	for _, tc := range []struct {
		name, path, key, cert string
		status                int
		msg                   string
	}{
		{"allowed certificate and key", "/t/x", "tls-key", digest, 200, ""},
		{"other certificate", "/t/x", "tls-key", strings.Repeat("e5", 32), 403, "Certificate with SHA256 " + strings.Repeat("e5", 32) + " not allowed"},
		{"no TLS", "/t/x", "tls-key", "", 403, "TLS not enabled"},
		{"certificate-bound key", "/c/x", "", digest, 200, ""},
		{"unknown certificate", "/c/x", "", strings.Repeat("e5", 32), 401, "Access to this API has been disallowed"},
		{"no certificate", "/c/x", "tls-key", "", 401, "Client certificate required"},
	} {
		if o := send(tc.path, tc.key, tc.cert); o.status != tc.status || tc.msg != "" && o.body != errorBody(tc.msg) {
			t.Errorf("%s: %d %s", tc.name, o.status, o.body)
		}
	}
}
