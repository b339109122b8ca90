//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

const oauthAPIJSON = `{"api_id":"oa","name":"OAuth","org_id":"org1","active":true,"use_oauth2":true,
	"proxy":{"listen_path":"/oa/"},"version_data":{"not_versioned":true},
	"oauth_meta":{"allowed_access_types":["client_credentials"]}}`

// post runs a request with a body through the next VM: headers, then the
// body in two chunks, then waits for the answer.
func post(t *testing.T, h *wasmhost.Host, path, authorization, body string) outcome {
	t.Helper()
	hdrs := wasmhost.Headers{{":method", "POST"}, {":path", path}, {":authority", "example.com"},
		{"content-type", "application/x-www-form-urlencoded"}}
	if authorization != "" {
		hdrs = append(hdrs, [2]string{"authorization", authorization})
	}
	s := h.NewStream()
	defer s.Close()
	res := s.RequestHeaders(hdrs, false)
	if res.Action != wasmhost.ActionLocalReply {
		half := len(body) / 2
		if r := s.RequestBody([]byte(body[:half]), false); r.Action != wasmhost.ActionPause {
			t.Fatalf("first chunk: %v", r.Action)
		}
		res = s.RequestBody([]byte(body[half:]), true)
	}
	if res.Action == wasmhost.ActionPause {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if res, err = s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if res.Action != wasmhost.ActionLocalReply {
		t.Fatalf("%s: %v, want a local reply (never forwarded)", path, res.Action)
	}
	return outcome{status: res.Reply.Status, headers: res.Reply.Headers, body: string(res.Reply.Body)}
}

// The token endpoint is answered by filter.wasm with the sidecar's answer;
// the token then works as a key, warm without a call, and a revocation
// reaches the VMs through the sync feed.
func TestOAuthTokenFlow(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(oauthAPIJSON)
	sc.putPolicy("p", `{"id":"p","org_id":"org1","active":true,"access_rights":{"oa":{"api_id":"oa","versions":["Default"]}}}`)
	sc.oauthClients["c1"] = "s1"
	sc.oauthSession = `{"org_id":"org1","oauth_client_id":"c1","apply_policies":["p"],"access_rights":{"oa":{"api_id":"oa","versions":["Default"]}}}`
	h := start(t, sc.srv.URL, 2, "")

	basic := string(oa.AppendBasic(nil, "c1", "s1"))
	o := post(t, h, "/oa/oauth/token", basic, "grant_type=client_credentials")
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(o.body), &tok); o.status != 200 || err != nil || tok.TokenType != "bearer" {
		t.Fatalf("token: %d %s", o.status, o.body)
	}
	if v, _ := o.headers.Get("cache-control"); v != "no-store" {
		t.Errorf("cache-control %q", v)
	}
	if o := post(t, h, "/oa/oauth/token", string(oa.AppendBasic(nil, "c1", "nope")), "grant_type=client_credentials"); o.status != 403 ||
		!strings.Contains(o.body, `"error":"unauthorized_client"`) {
		t.Errorf("wrong secret: %d %s", o.status, o.body)
	}
	calls := sc.oauthCalls.Load()
	if o := post(t, h, "/oa/oauth/token", basic, "grant_type=refresh_token&refresh_token=r"); o.status != 403 ||
		!strings.Contains(o.body, `"error":"unsupported_grant_type"`) || sc.oauthCalls.Load() != calls {
		t.Errorf("grant not allowed: %d %s (sidecar asked: %v)", o.status, o.body, sc.oauthCalls.Load() != calls)
	}

	bearer := request("/oa/items", "Bearer "+tok.AccessToken)
	requireStatus(t, h, bearer, 4, 200, "bearer token")
	lookups := sc.lookups.Load()
	requireStatus(t, h, bearer, 20, 200, "warm bearer token")
	if n := sc.lookups.Load() - lookups; n != 0 {
		t.Errorf("%d lookups for a warm token", n)
	}
	if o := do(t, h, request("/oa/items", "Basic x")); o.status != 400 || o.body != errorBody("Bearer token malformed") {
		t.Errorf("other scheme: %d %s", o.status, o.body)
	}

	if o := post(t, h, "/oa/oauth/revoke", "", "token="+tok.AccessToken); o.status != 200 {
		t.Fatalf("revoke: %d %s", o.status, o.body)
	}
	within(t, h, time.Second, "revoked token refused", func() bool {
		o := do(t, h, bearer)
		return o.status == 403 && o.body == errorBody("Key not authorised")
	})
}
