package plugin

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

const (
	testOAuthAPI = `{"api_id":"oa","org_id":"org1","active":true,"use_oauth2":true,"proxy":{"listen_path":"/oa/"},
		"oauth_meta":{"allowed_access_types":["client_credentials"],"allowed_authorize_types":["code"]},
		"version_data":{"not_versioned":true}}`
	testOAuthSnapshot = `{"policies":{"p1":{"id":"p1","org_id":"org1","active":true,"rate":100,"per":1,"quota_max":-1,
		"access_rights":{"oa":{"api_id":"oa","versions":["Default"]}}}},
		"apis":[` + testAPI + `,` + testOAuthAPI + `],"orgs":{}}`
	oauthSession = `{"org_id":"org1","oauth_client_id":"c1","apply_policies":["p1"],
		"access_rights":{"oa":{"api_id":"oa","versions":["Default"]}}}`
)

// post sends a request with a body: headers first, then the body in two
// chunks, as a proxy delivers it.
func (fx *fixture) post(path, authorization, body string) (*hosttest.Stream, proxywasm.Action) {
	hdrs := map[string]string{":method": "POST", ":path": path, ":authority": "example.com",
		"content-type": "application/x-www-form-urlencoded"}
	if authorization != "" {
		hdrs["authorization"] = authorization
	}
	fx.next++
	s := fx.f.Stream(fx.next, hdrs)
	h := fx.r.NewHttpContext(fx.next).(*httpContext)
	act := h.OnHttpRequestHeaders(len(hdrs), body == "")
	if body == "" || s.Reply != nil {
		return s, act
	}
	// The headers go on, without the credentials, unless the host delivers
	// the body while they are paused.
	if want := proxywasm.ActionContinue; fx.r.cfg.HeadersStopIteration {
		want = proxywasm.ActionPause
		if act != want {
			fx.t.Fatalf("headers: %v, want %v", act, want)
		}
	} else if act != want || s.RequestHeaders["authorization"] != "" {
		fx.t.Fatalf("headers: %v %v, want %v without authorization", act, s.RequestHeaders, want)
	}
	if len(fx.f.Calls) != 0 {
		fx.t.Fatalf("a call before the body arrived: %v", fx.f.Calls[0].Path())
	}
	s.RequestBody = body[:len(body)/2]
	if act := h.OnHttpRequestBody(len(s.RequestBody), false); act != proxywasm.ActionPause {
		fx.t.Fatalf("first chunk: %v, want the body buffered", act)
	}
	s.RequestBody = body
	return s, h.OnHttpRequestBody(len(body), true)
}

// answerOAuth answers the pending OAuth call with the response to send.
func (fx *fixture) answerOAuth(res wire.OAuthResponse) wire.OAuthRequest {
	fx.t.Helper()
	c := fx.f.Pending(wire.PathOAuth)
	if c == nil {
		fx.t.Fatal("no oauth call pending")
	}
	req, err := wire.DecodeOAuthRequest([]byte(c.Body))
	if err != nil {
		fx.t.Fatal(err)
	}
	fx.f.Answer(c, 200, nil, string(wire.AppendOAuthResponse(nil, res)))
	return req
}

func TestOAuthTokenEndpoint(t *testing.T) {
	fx := newFixture(t, "", testOAuthSnapshot)
	basic := string(oa.AppendBasic(nil, "c1", "s1"))
	token := "{\"access_token\":\"tp_x\",\"expires_in\":3600,\"token_type\":\"bearer\"}\n"
	s, act := fx.post("/oa/oauth/token", basic, "grant_type=client_credentials&scope=read")
	if act != proxywasm.ActionPause || s.Reply != nil {
		t.Fatalf("token request: %v %+v", act, s.Reply)
	}
	req := fx.answerOAuth(wire.OAuthResponse{Status: 200, Body: token})
	want := wire.OAuthRequest{APIID: "oa", Endpoint: "token", Method: "POST", Authorization: basic,
		ContentType: "application/x-www-form-urlencoded", Body: "grant_type=client_credentials&scope=read"}
	if req != want {
		t.Errorf("relayed %+v\nwant     %+v", req, want)
	}
	if s.Reply == nil || s.Reply.Status != 200 || s.Reply.Body != token || s.Resumed ||
		s.Reply.Headers["cache-control"] != "no-store" || s.Reply.Headers["content-type"] != "application/json" {
		t.Fatalf("reply %+v resumed %v", s.Reply, s.Resumed)
	}

	// Refused by the filter alone, in osin's words: no sidecar call.
	for _, tc := range []struct {
		name, path, auth, body, code string
	}{
		{"grant not allowed", "/oa/oauth/token/", basic, "grant_type=authorization_code&code=x", oa.ErrUnsupportedGrantType},
		{"no grant", "/oa/oauth/token", basic, "", oa.ErrUnsupportedGrantType},
		{"no client credentials", "/oa/oauth/token", "", "grant_type=client_credentials&client_id=c1&client_secret=s1", oa.ErrInvalidRequest},
		{"client credentials not Basic", "/oa/oauth/token", "Bearer x", "grant_type=client_credentials", oa.ErrInvalidRequest},
		{"malformed form", "/oa/oauth/token", basic, "grant_type=%zz", oa.ErrInvalidRequest},
	} {
		s, _ := fx.post(tc.path, tc.auth, tc.body)
		if s.Reply == nil || s.Reply.Status != 403 || s.Reply.Body != string(oa.AppendError(nil, oa.Err(tc.code))) || len(fx.f.Calls) != 0 {
			t.Errorf("%s: reply %+v, calls %d", tc.name, s.Reply, len(fx.f.Calls))
		}
	}

	// The sidecar cannot answer: 503, never forwarded.
	s, _ = fx.post("/oa/oauth/token", basic, "grant_type=client_credentials")
	fx.f.Answer(fx.f.Pending(wire.PathOAuth), 0, nil, "")
	if status(s) != 503 || s.Resumed {
		t.Errorf("sidecar down: %d resumed %v", status(s), s.Resumed)
	}
	s, _ = fx.post("/oa/oauth/token", basic, "grant_type=client_credentials")
	fx.f.Answer(fx.f.Pending(wire.PathOAuth), 200, nil, "not json")
	if status(s) != 503 {
		t.Errorf("malformed answer: %d", status(s))
	}
	s, _ = fx.post("/oa/oauth/token", basic, "grant_type=client_credentials&x="+strings.Repeat("a", wire.MaxOAuthBody))
	if status(s) != 413 || len(fx.f.Calls) != 0 {
		t.Errorf("oversized body: %d", status(s))
	}
}

func TestOAuthAuthorizeAndRevokeEndpoints(t *testing.T) {
	fx := newFixture(t, "", testOAuthSnapshot)
	s, _, act := fx.send("/oa/oauth/authorize?response_type=code&client_id=c1", "")
	if act != proxywasm.ActionPause {
		t.Fatalf("authorize: %v", act)
	}
	req := fx.answerOAuth(wire.OAuthResponse{Status: 307, Location: "http://login/?response_type=code&client_id=c1"})
	if req.Endpoint != oa.EndpointAuthorize || req.Method != "GET" || req.Query != "response_type=code&client_id=c1" {
		t.Errorf("relayed %+v", req)
	}
	if s.Reply == nil || s.Reply.Status != 307 || s.Reply.Headers["location"] != "http://login/?response_type=code&client_id=c1" ||
		s.Reply.Headers["content-type"] != "" {
		t.Errorf("authorize reply %+v", s.Reply)
	}
	s, _ = fx.post("/oa/oauth/revoke", "", "token=abc")
	req = fx.answerOAuth(wire.OAuthResponse{Status: 200, Body: `{"status":"ok","message":"token revoked successfully"}` + "\n"})
	if req.Endpoint != oa.EndpointRevoke || req.Body != "token=abc" || status(s) != 200 {
		t.Errorf("revoke: %+v %+v", req, s.Reply)
	}
	// Other paths of the API, and the same path on an auth-token API, are
	// not endpoints.
	s, _, _ = fx.send("/oa/oauth/tokens", "")
	if status(s) != 400 || len(fx.f.Calls) != 0 {
		t.Errorf("/oa/oauth/tokens: %d", status(s))
	}
	s, _, _ = fx.send("/api1/oauth/token", "")
	if status(s) != 401 {
		t.Errorf("/api1/oauth/token: %d", status(s))
	}
}

// An access token is a key: one lookup, then the warm path.
func TestOAuthBearerTokens(t *testing.T) {
	fx := newFixture(t, "", testOAuthSnapshot)
	if s := fx.do("/oa/items", "Bearer tok-123", oauthSession); status(s) != 200 {
		t.Fatalf("bearer token: %d %+v", status(s), s.Reply)
	}
	s, _, act := fx.send("/oa/items", "Bearer tok-123")
	if act != proxywasm.ActionContinue || len(fx.f.Calls) != 0 || s.Reply != nil {
		t.Fatalf("warm token: %v calls %d", act, len(fx.f.Calls))
	}
	for _, tc := range []struct {
		name, auth string
		code       uint32
		msg        string
	}{
		{"missing", "", 400, "Authorization field missing"},
		{"one word", "tok-123", 400, "Authorization field missing"},
		{"other scheme", "Basic dTpw", 400, "Bearer token malformed"},
		{"too short", "Bearer ab", 403, "Key not authorised"},
	} {
		s, _, _ := fx.send("/oa/items", tc.auth)
		if s.Reply == nil || s.Reply.Status != tc.code || !strings.Contains(s.Reply.Body, tc.msg) {
			t.Errorf("%s: %+v", tc.name, s.Reply)
		}
	}
	if s := fx.do("/oa/items", "Bearer revoked-token", "404"); status(s) != 403 || !strings.Contains(s.Reply.Body, "Key not authorised") {
		t.Errorf("unknown token: %+v", s.Reply)
	}
	// The cached negative answer says the same.
	if s, _, _ := fx.send("/oa/items", "Bearer revoked-token"); s.Reply == nil || !strings.Contains(s.Reply.Body, "Key not authorised") {
		t.Errorf("cached unknown token: %+v", s.Reply)
	}
}

// With a host that delivers the body while the headers are paused, the
// headers are held (with their credentials) until the request is answered.
func TestOAuthTokenEndpointHeadersHeld(t *testing.T) {
	fx := newFixture(t, `,"allow_on_headers_stop_iteration":true`, testOAuthSnapshot)
	basic := string(oa.AppendBasic(nil, "c1", "s1"))
	s, act := fx.post("/oa/oauth/token", basic, "grant_type=client_credentials")
	if act != proxywasm.ActionPause || s.RequestHeaders["authorization"] != basic {
		t.Fatalf("token request: %v %v", act, s.RequestHeaders)
	}
	req := fx.answerOAuth(wire.OAuthResponse{Status: 403, Body: string(oa.AppendError(nil, oa.Err(oa.ErrUnauthorizedClient)))})
	if req.Authorization != basic || req.Body != "grant_type=client_credentials" {
		t.Errorf("relayed %+v", req)
	}
	if status(s) != 403 || !strings.Contains(s.Reply.Body, "unauthorized_client") || s.Resumed {
		t.Errorf("reply %+v", s.Reply)
	}
}
