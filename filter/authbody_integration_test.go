//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// Basic-auth credentials in the request body (basic_auth.extract_from_body)
// in the real filter.wasm.

const basicBodyAPIJSON = `{"api_id":"b","name":"Basic API","org_id":"org1","active":true,"use_basic_auth":true,
	"basic_auth":{"extract_from_body":true,"body_user_regexp":"<User>(.*)</User>","body_password_regexp":"<Password>(.*)</Password>"},
	"proxy":{"listen_path":"/b/"},"version_data":{"not_versioned":true}}`

// startHeld is start on a host that delivers the body while the headers
// are paused when held is true (Envoy's allow_on_headers_stop_iteration).
func startHeld(t testing.TB, sidecarURL string, held bool) *wasmhost.Host {
	t.Helper()
	cfg := fmt.Sprintf(`{"sidecar":{"token":"test-token","timeout_ms":2000},"sync_interval_ms":50,"allow_on_headers_stop_iteration":%t}`, held)
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{WasmFile: filterWasm(t), PluginConfig: []byte(cfg), Workers: 1,
		Clusters: map[string]string{"turnpike-sidecar": sidecarURL}, WASIMode: wasiMode, AllowOnHeadersStopIteration: held})
	if err != nil {
		t.Fatalf("loading the filter: %v", err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	syncNow(t, h)
	return h
}

// doBody sends a POST with the body in chunks (none: no body) and returns
// the outcome and the body as forwarded.
func doBody(t testing.TB, h *wasmhost.Host, auth string, chunks ...string) (outcome, string) {
	t.Helper()
	return doBodyWith(t, h, request("/b/login", auth), chunks...)
}

// doBodyWith is doBody with the request's headers (the method becomes POST).
func doBodyWith(t testing.TB, h *wasmhost.Host, hdrs wasmhost.Headers, chunks ...string) (outcome, string) {
	t.Helper()
	hdrs[0][1] = "POST"
	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(hdrs, len(chunks) == 0)
	for i, c := range chunks {
		if res.Action == wasmhost.ActionLocalReply {
			break
		}
		res = s.RequestBody([]byte(c), i == len(chunks)-1)
	}
	if res.Action == wasmhost.ActionPause {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if res, err = s.Wait(ctx); err != nil {
			t.Fatalf("request still paused: %v", err)
		}
	}
	switch res.Action {
	case wasmhost.ActionLocalReply:
		return outcome{status: res.Reply.Status, headers: res.Reply.Headers, body: string(res.Reply.Body)}, ""
	case wasmhost.ActionContinue:
		return outcome{status: 200, req: s.Request().Headers}, string(s.Request().Body)
	}
	t.Fatalf("unexpected action %v", res.Action)
	return outcome{}, ""
}

func TestBasicAuthFromBodyInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(basicBodyAPIJSON)
	sc.putKey("org1alice", basicUser(t, "s3cret", ""))
	h := startHeld(t, sc.srv.URL, true)

	login := "<Login><User>alice</User><Password>s3cret</Password></Login>"
	o, fwd := doBody(t, h, "", login)
	if o.status != 200 || fwd != login {
		t.Fatalf("credentials in the body: %d %s, forwarded body %q", o.status, o.body, fwd)
	}
	// Split over two chunks, after a malformed header (Tyk falls back to
	// the body), and answered from the cache this time.
	if o, fwd = doBody(t, h, "Basic %%%", login[:20], login[20:]); o.status != 200 || fwd != login {
		t.Fatalf("two chunks: %d %s, forwarded body %q", o.status, o.body, fwd)
	}
	// A header with credentials is used alone: the body is not read.
	if o, fwd = doBody(t, h, basicHeader("alice", "s3cret"), "not a login"); o.status != 200 || fwd != "not a login" {
		t.Fatalf("header credentials: %d %s, forwarded body %q", o.status, o.body, fwd)
	}
	for _, tc := range []struct {
		name      string
		chunks    []string
		status    int
		msg       string
		challenge bool
	}{
		{"wrong password", []string{"<User>alice</User><Password>nope</Password>"}, 401, "User not authorised", true},
		{"unknown user", []string{"<User>mallory</User><Password>s3cret</Password>"}, 401, "User not authorised", true},
		{"no user", []string{"<Password>s3cret</Password>"}, 400, "Body do not contain username", false},
		{"no password", []string{"<User>alice</User>"}, 400, "Body do not contain password", false},
		{"no body", nil, 400, "Body do not contain username", false},
		{"too large", []string{login + strings.Repeat(" ", 64<<10)}, 413, "Request body too large", false},
	} {
		o, _ := doBody(t, h, "", tc.chunks...)
		if o.status != tc.status || o.body != errorBody(tc.msg) || (header(o, "www-authenticate") != "") != tc.challenge {
			t.Errorf("%s: %d %s %v, want %d %q", tc.name, o.status, o.body, o.headers, tc.status, tc.msg)
		}
	}

	// A host that holds the body behind paused headers (Envoy's default):
	// body credentials are refused, never forwarded unauthenticated;
	// header credentials still work.
	h = startHeld(t, sc.srv.URL, false)
	if o, _ := doBody(t, h, "", login); o.status != 500 || !strings.Contains(o.body, "not supported by this proxy") {
		t.Errorf("without allow_on_headers_stop_iteration: %d %s", o.status, o.body)
	}
	if o, _ := doBody(t, h, basicHeader("alice", "s3cret"), "x"); o.status != 200 {
		t.Errorf("header credentials without allow_on_headers_stop_iteration: %d %s", o.status, o.body)
	}
}

// Credentials in the body with another method (Tyk's multiple
// authentication): the basic-auth member reads the body when its header
// has none, every member must pass, and the base identity's session counts.
func TestBasicAuthFromBodyInAChainInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(`{"api_id":"bk","name":"Basic and key","org_id":"org1","active":true,"use_basic_auth":true,"use_standard_auth":true,
		"base_identity_provided_by":"basic_auth_user","auth_configs":{"authToken":{"auth_header_name":"x-api-key"}},
		"basic_auth":{"extract_from_body":true,"body_user_regexp":"<User>(.*)</User>","body_password_regexp":"<Password>(.*)</Password>"},
		"proxy":{"listen_path":"/bk/"},"version_data":{"not_versioned":true}}`)
	hash, err := basicauth.Hash("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	sc.putKey("org1alice", `{"org_id":"org1","rate":2,"per":60,"access_rights":{"bk":{"api_id":"bk"}},
		"basic_auth_data":{"password":"`+hash+`","hash_type":"bcrypt"}}`)
	sc.putKey("key-bk-1", `{"org_id":"org1","rate":1000,"per":1,"access_rights":{"bk":{"api_id":"bk"}}}`)
	h := startHeld(t, sc.srv.URL, true)
	req := func(key string) wasmhost.Headers {
		hdrs := request("/bk/login", "")
		if key != "" {
			hdrs = append(hdrs, [2]string{"x-api-key", key})
		}
		return hdrs
	}
	login := "<Login><User>alice</User><Password>s3cret</Password></Login>"
	o, fwd := doBodyWith(t, h, req("key-bk-1"), login)
	if o.status != 200 || fwd != login {
		t.Fatalf("body credentials and a key: %d %s, forwarded body %q", o.status, o.body, fwd)
	}
	for _, tc := range []struct {
		name      string
		key       string
		chunks    []string
		status    int
		msg       string
		challenge bool
	}{
		{"wrong password", "key-bk-1", []string{"<User>alice</User><Password>nope</Password>"}, 401, "User not authorised", true},
		{"no key", "", []string{login}, 401, "Authorization field missing", true},
		{"unknown key", "no-such-key", []string{login}, 403, "Access to this API has been disallowed", false},
		{"no body", "key-bk-1", nil, 400, "Body do not contain username", false},
		// The base identity is alice's: her rate limit (2 a minute; one
		// request above passed) holds, not the key's.
		{"second", "key-bk-1", []string{login}, 200, "", false},
		{"third", "key-bk-1", []string{login}, 429, "Rate Limit Exceeded", false},
	} {
		o, _ := doBodyWith(t, h, req(tc.key), tc.chunks...)
		if o.status != tc.status || tc.msg != "" && o.body != errorBody(tc.msg) || (header(o, "www-authenticate") != "") != tc.challenge {
			t.Errorf("%s: %d %s %v, want %d %q", tc.name, o.status, o.body, o.headers, tc.status, tc.msg)
		}
	}
}
