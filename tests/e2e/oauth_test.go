package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
)

// The OAuth 2.0 flows end to end: tokens from <listen_path>/oauth/token,
// answered by the gateway's filter with what the sidecar minted, then used
// as keys; revocations, rotations and client deletions reaching every VM
// through the sync feed.

const oauthPolicy = `{"id":"oauth-pol","org_id":"org1","active":true,"rate":1000,"per":1,"quota_max":-1,` +
	`"meta_data":{"tier":"gold"},"access_rights":{"oa":{"api_id":"oa","versions":["Default"]}}}`

// form sends a request with a form body through the gateway (redirects not
// followed).
func (e *env) form(method, path, authorization, body string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.gatewayURL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	c := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// tokenReply is osin's token answer (or its error).
type tokenReply struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Error        string `json:"error"`
}

// token asks <listen_path>/oauth/token and checks the status.
func (e *env) token(auth, body string, status int) tokenReply {
	e.t.Helper()
	r := e.form(http.MethodPost, "/oa/oauth/token", auth, body)
	var t tokenReply
	if err := json.Unmarshal([]byte(r.body), &t); err != nil || r.status != status {
		e.t.Fatalf("token %s: %s, want %d", body, r, status)
	}
	if status == 200 && (t.AccessToken == "" || t.TokenType != "bearer" || r.header.Get("Cache-Control") != "no-store") {
		e.t.Fatalf("token %s: %s %v", body, r, r.header)
	}
	return t
}

func wantOAuthError(t *testing.T, got tokenReply, code string) {
	t.Helper()
	if got.Error != code {
		t.Fatalf("error %q, want %q", got.Error, code)
	}
}

// authorizeClient is the login page's call to the Gateway API: a code.
func (e *env) authorizeClient(clientID string) string {
	e.t.Helper()
	body := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://client.example.com/cb"}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, e.sidecarURLs[1]+"/tyk/oauth/authorize-client/", strings.NewReader(body))
	req.Header.Set("X-Tyk-Authorization", secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Code, RedirectTo string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 || out.Code == "" {
		e.t.Fatalf("authorize-client: %d %s", resp.StatusCode, b)
	}
	return out.Code
}

func TestOAuth(t *testing.T) {
	e := newEnv(t, options{})
	e.mustAPI(http.MethodPost, "/tyk/policies", oauthPolicy)
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("oa", `,"use_oauth2":true,"oauth_meta":{"allowed_access_types":`+
		`["client_credentials","authorization_code","refresh_token"],"allowed_authorize_types":["code"],`+
		`"auth_login_redirect":"http://login.example.com/login"}`))
	// An OAuth API answers a request without a bearer token 400 (Tyk).
	e.within(5*time.Second, "/oa/", "", 400, "Authorization field missing")
	newClient := func() (id, secret string) {
		v := e.mustAPI(http.MethodPost, "/tyk/oauth/clients/create",
			`{"api_id":"oa","policy_id":"oauth-pol","redirect_uri":"http://client.example.com/cb","meta_data":{"app":"e2e"}}`)
		return v["client_id"].(string), v["secret"].(string)
	}
	id, sec := newClient()
	auth := string(oa.AppendBasic(nil, id, sec))

	t.Run("client credentials", func(t *testing.T) {
		hits := e.upstreamHit.Load()
		tok := e.token(auth, "grant_type=client_credentials", 200)
		if tok.ExpiresIn != 3600 || tok.RefreshToken != "" {
			t.Fatalf("token %+v", tok)
		}
		if e.upstreamHit.Load() != hits {
			t.Fatal("the token request reached the upstream")
		}
		e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, 200, "")
		s := e.getKey(tok.AccessToken)
		if s["oauth_client_id"] != id || s["meta_data"].(map[string]any)["app"] != "e2e" {
			t.Fatalf("session %v", s)
		}
		e.expect("/oa/items", tok.AccessToken, 400, "Authorization field missing")
		e.expect("/oa/items", "Basic "+tok.AccessToken, 400, "Bearer token malformed")
		e.expect("/oa/items", "Bearer not-a-token", 403, "Key not authorised")
	})

	t.Run("wrong secret and wrong grant", func(t *testing.T) {
		wantOAuthError(t, e.token(string(oa.AppendBasic(nil, id, "wrong")), "grant_type=client_credentials", 403), oa.ErrUnauthorizedClient)
		wantOAuthError(t, e.token(auth, "grant_type=password&username=u&password=p", 403), oa.ErrUnsupportedGrantType)
		wantOAuthError(t, e.token("", "grant_type=client_credentials&client_id="+id+"&client_secret="+url.QueryEscape(sec), 403),
			oa.ErrInvalidRequest)
	})

	t.Run("authorize redirects to the login page", func(t *testing.T) {
		q := "response_type=code&client_id=" + id + "&redirect_uri=" + url.QueryEscape("http://client.example.com/cb") + "&state=s1"
		r := e.form(http.MethodGet, "/oa/oauth/authorize?"+q, "", "")
		if r.status != 307 || r.header.Get("Location") != "http://login.example.com/login?"+q {
			t.Fatalf("authorize: %s %v", r, r.header)
		}
		r = e.form(http.MethodGet, "/oa/oauth/authorize?response_type=code&client_id=nope", "", "")
		if r.status != 403 || !strings.Contains(r.body, `"status":"error"`) {
			t.Fatalf("authorize, unknown client: %s", r)
		}
	})

	var refresh string
	t.Run("authorization code: expired, reused", func(t *testing.T) {
		code := e.authorizeClient(id)
		tok := e.token(auth, "grant_type=authorization_code&code="+url.QueryEscape(code)+
			"&redirect_uri="+url.QueryEscape("http://client.example.com/cb"), 200)
		if tok.RefreshToken == "" {
			t.Fatalf("no refresh token: %+v", tok)
		}
		refresh = tok.RefreshToken
		e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, 200, "")
		wantOAuthError(t, e.token(auth, "grant_type=authorization_code&code="+url.QueryEscape(code), 403), oa.ErrInvalidGrant)

		// A code 251 s old (osin's codes live 250 s).
		old := e.authorizeClient(id)
		rc := e.redis.Client()
		ctx := context.Background()
		key := "oauth-data.{oa}.authorize." + keys.Hash(old)
		var g map[string]any
		if b, err := rc.Get(ctx, key).Bytes(); err != nil || json.Unmarshal(b, &g) != nil {
			t.Fatalf("grant record %s: %v", key, err)
		}
		g["created_at"] = time.Now().Unix() - 251
		b, _ := json.Marshal(g)
		rc.Set(ctx, key, b, time.Minute)
		wantOAuthError(t, e.token(auth, "grant_type=authorization_code&code="+url.QueryEscape(old), 403), oa.ErrInvalidGrant)
	})

	t.Run("refresh, then refresh after revoke", func(t *testing.T) {
		first := e.token(auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), 200)
		e.within(propagation, "/oa/items", "Bearer "+first.AccessToken, 200, "")
		second := e.token(auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(first.RefreshToken), 200)
		// The token a refresh replaces stops working everywhere.
		e.within(propagation, "/oa/items", "Bearer "+first.AccessToken, 403, "Key not authorised")
		e.within(propagation, "/oa/items", "Bearer "+second.AccessToken, 200, "")
		if r := e.form(http.MethodPost, "/oa/oauth/revoke", "", "token_type_hint=refresh_token&token="+
			url.QueryEscape(second.RefreshToken)); r.status != 200 {
			t.Fatalf("revoke: %s", r)
		}
		wantOAuthError(t, e.token(auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(second.RefreshToken), 403), oa.ErrInvalidGrant)
		took := e.within(propagation, "/oa/items", "Bearer "+second.AccessToken, 403, "Key not authorised")
		t.Logf("revoked access token refused on every VM after %v", took)
	})

	t.Run("rotated secret", func(t *testing.T) {
		tok := e.token(auth, "grant_type=client_credentials", 200)
		e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, 200, "")
		v := e.mustAPI(http.MethodPut, "/tyk/oauth/clients/oa/"+id+"/rotate", "")
		took := e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, 403, "Key not authorised")
		t.Logf("token of the rotated client refused on every VM after %v", took)
		wantOAuthError(t, e.token(auth, "grant_type=client_credentials", 403), oa.ErrUnauthorizedClient)
		sec = v["secret"].(string)
		auth = string(oa.AppendBasic(nil, id, sec))
		e.token(auth, "grant_type=client_credentials", 200)
	})

	t.Run("client deleted mid-traffic", func(t *testing.T) {
		tok := e.token(auth, "grant_type=client_credentials", 200)
		bearer := "Bearer " + tok.AccessToken
		e.within(propagation, "/oa/items", bearer, 200, "")
		// Clients keep calling while the client is deleted: every answer
		// is 200 before and 403 after, never anything else.
		var stop atomic.Bool
		var wg sync.WaitGroup
		var odd atomic.Value
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					r, err := e.try(http.MethodGet, "/oa/items", nil, bearer)
					if err == nil && r.status != 200 && r.is(403, "Key not authorised") != nil {
						odd.Store(fmt.Sprint(r))
					}
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		e.mustAPI(http.MethodDelete, "/tyk/oauth/clients/oa/"+id, "")
		took := e.within(propagation, "/oa/items", bearer, 403, "Key not authorised")
		stop.Store(true)
		wg.Wait()
		if v := odd.Load(); v != nil {
			t.Fatalf("unexpected answer during the deletion: %v", v)
		}
		t.Logf("token of the deleted client refused on every VM %v after the delete (%v polling)", time.Since(start), took)
		wantOAuthError(t, e.token(auth, "grant_type=client_credentials", 403), oa.ErrUnauthorizedClient)
	})
}
