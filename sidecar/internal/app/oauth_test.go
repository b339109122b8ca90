package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

const (
	oauthAPI = `{"api_id":"oauth1","name":"OAuth","org_id":"org1","use_oauth2":true,
 "proxy":{"listen_path":"/oauth1/"},
 "oauth_meta":{"allowed_access_types":["client_credentials","authorization_code","refresh_token"],
   "allowed_authorize_types":["code"],"auth_login_redirect":"http://login.example.com/login"}}`
	plainAPI     = `{"api_id":"plain","name":"Plain","org_id":"org1","proxy":{"listen_path":"/plain/"}}`
	oauthPolicy  = `{"id":"opol","org_id":"org1","rate":10,"per":1,"meta_data":{"tier":"gold"},"access_rights":{"oauth1":{"api_id":"oauth1","versions":["Default"]}}}`
	oauthPolicy2 = `{"id":"opol2","org_id":"org1","rate":20,"per":1,"access_rights":{"oauth1":{"api_id":"oauth1","versions":["Default"]}}}`
	plainPolicy  = `{"id":"ppol","org_id":"org1","access_rights":{"plain":{"api_id":"plain","versions":["Default"]}}}`
)

// oauthSetup creates the OAuth API, a plain API and their policies.
func oauthSetup(t *testing.T, s *sidecar) {
	t.Helper()
	for _, c := range []struct{ path, body string }{
		{"/tyk/apis", oauthAPI}, {"/tyk/apis", plainAPI},
		{"/tyk/policies", oauthPolicy}, {"/tyk/policies", oauthPolicy2}, {"/tyk/policies", plainPolicy},
	} {
		expect(t, c.path, s.tyk("POST", c.path, c.body), 200, "")
	}
}

// oauthCall relays a request to an endpoint of oauth1 as the filter does.
func (s *sidecar) oauthCall(endpoint, method, authorization, body string) wire.OAuthResponse {
	s.t.Helper()
	req := wire.OAuthRequest{APIID: "oauth1", Endpoint: endpoint, Method: method, Authorization: authorization,
		ContentType: "application/x-www-form-urlencoded", Body: body}
	r := s.filter("POST", wire.PathOAuth, string(wire.AppendOAuthRequest(nil, req)))
	expect(s.t, "oauth call", r, 200, "")
	res, err := wire.DecodeOAuthResponse(r.body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

func basic(id, secret string) string { return string(oa.AppendBasic(nil, id, secret)) }

// tokenOf requests a token and returns the decoded answer.
func (s *sidecar) tokenOf(t *testing.T, auth, form string, wantStatus int) map[string]any {
	t.Helper()
	res := s.oauthCall(oa.EndpointToken, "POST", auth, form)
	var m map[string]any
	if err := json.Unmarshal([]byte(res.Body), &m); res.Status != wantStatus || err != nil {
		t.Fatalf("token %s: %d %s, want %d", form, res.Status, res.Body, wantStatus)
	}
	return m
}

func oauthErr(t *testing.T, m map[string]any, code string) {
	t.Helper()
	if m["error"] != code || m["error_description"] != oa.Description(code) {
		t.Fatalf("got %v, want error %s", m, code)
	}
}

// client is a created client's answer.
type client struct {
	ClientID    string          `json:"client_id"`
	Secret      string          `json:"secret"`
	RedirectURI string          `json:"redirect_uri"`
	PolicyID    string          `json:"policy_id"`
	MetaData    json.RawMessage `json:"meta_data"`
	Description string          `json:"description"`
}

func (s *sidecar) createClient(t *testing.T, body string) client {
	t.Helper()
	r := s.tyk("POST", "/tyk/oauth/clients/create", body)
	expect(t, "create client", r, 200, "")
	var c client
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOAuthClientAPI(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		s := start(t, redisURL)
		oauthSetup(t, s)
		for _, tc := range []struct {
			name, body string
			code       int
			want       string
		}{
			{"unknown policy", `{"api_id":"oauth1","policy_id":"nope"}`, 400, `{"status":"error","message":"Policy doesn't exist: \"nope\""}`},
			{"unknown API", `{"api_id":"nope","policy_id":"opol"}`, 400, `"message":"API doesn't exist: \"nope\""`},
			{"not OAuth", `{"api_id":"plain","policy_id":"ppol"}`, 400, `"message":"API is not OAuth2: \"plain\""`},
			{"no API, unknown policy", `{"policy_id":"nope"}`, 400, `Policy doesn't exist`},
			{"no API, policy of no OAuth API", `{"policy_id":"ppol"}`, 400, `API is not OAuth2`},
			{"meta_data not an object", `{"api_id":"oauth1","policy_id":"opol","meta_data":[1]}`, 400, `field \"meta_data\": expected an object`},
			{"malformed", `{"api_id":`, 400, `Request malformed`},
			{"client_id with a slash", `{"api_id":"oauth1","client_id":"a/b"}`, 400, `field \"client_id\"`},
		} {
			expect(t, tc.name, s.tyk("POST", "/tyk/oauth/clients/create", tc.body), tc.code, tc.want)
		}

		c := s.createClient(t, `{"api_id":"oauth1","policy_id":"opol","redirect_uri":"http://client.example.com/cb",
			"meta_data":{"tier":"client","app":"one"},"description":"first"}`)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c.ClientID) {
			t.Errorf("client_id %q: want 32 hex digits", c.ClientID)
		}
		if dec, err := base64.StdEncoding.DecodeString(c.Secret); err != nil ||
			!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).Match(dec) {
			t.Errorf("secret %q: want base64 of a UUID v4", c.Secret)
		}
		// Tyk's answer never carries api_id.
		r := s.tyk("GET", "/tyk/oauth/clients/oauth1/"+c.ClientID, "")
		expect(t, "get", r, 200, `{"client_id":"`+c.ClientID+`","redirect_uri":"http://client.example.com/cb","policy_id":"opol","secret":"`+
			c.Secret+`","meta_data":{"tier":"client","app":"one"},"description":"first"}`)
		c2 := s.createClient(t, `{"client_id":"my-client","secret":"my-secret","policy_id":"opol","redirect_uri":"http://c2/cb"}`)
		if c2.ClientID != "my-client" || c2.Secret != "my-secret" {
			t.Fatalf("chosen id and secret: %+v", c2)
		}

		for _, tc := range []struct {
			name, method, path, body string
			code                     int
			want                     string
		}{
			{"list", "GET", "/tyk/oauth/clients/oauth1", "", 200, `"client_id":"my-client"`},
			{"list unknown API", "GET", "/tyk/oauth/clients/nope", "", 404, `{"status":"error","message":"OAuth client not found"}`},
			{"list of a plain API", "GET", "/tyk/oauth/clients/plain", "", 200, `[]`},
			{"get unknown", "GET", "/tyk/oauth/clients/oauth1/nope", "", 404, `"message":"OAuth Client ID not found"`},
			{"get on unknown API", "GET", "/tyk/oauth/clients/nope/my-client", "", 404, `OAuth Client ID not found`},
			{"update unknown policy", "PUT", "/tyk/oauth/clients/oauth1/my-client", `{"policy_id":"nope"}`, 404, `"message":"Policy doesn't exist"`},
			{"update policy without the API", "PUT", "/tyk/oauth/clients/oauth1/my-client", `{"policy_id":"ppol"}`, 400,
				`Policy access rights doesn't contain API this OAuth client belongs to`},
			{"update unknown API", "PUT", "/tyk/oauth/clients/nope/my-client", `{"policy_id":"opol"}`, 404, `API doesn't exist`},
			{"update unknown client", "PUT", "/tyk/oauth/clients/oauth1/nope", `{"policy_id":"opol"}`, 404, `OAuth Client ID not found`},
			{"update", "PUT", "/tyk/oauth/clients/oauth1/my-client", `{"policy_id":"opol","redirect_uri":"http://c2/cb","description":"d2"}`,
				200, `{"client_id":"my-client","redirect_uri":"http://c2/cb","policy_id":"opol","secret":"my-secret","meta_data":null,"description":"d2"}`},
			{"rotate unknown", "PUT", "/tyk/oauth/clients/oauth1/nope/rotate", "", 404, `OAuth Client ID not found`},
			{"rotate on unknown API", "PUT", "/tyk/oauth/clients/nope/x/rotate", "", 404, `API doesn't exist`},
			{"tokens on unknown API", "GET", "/tyk/oauth/clients/nope/x/tokens", "", 404, `OAuth Client ID not found`},
			{"tokens of no client", "GET", "/tyk/oauth/clients/oauth1/x/tokens", "", 200, `[]`},
			{"apis of client", "GET", "/tyk/oauth/clients/apis/my-client?orgID=org1", "", 200, `["oauth1"]`},
			{"apis of client, other org", "GET", "/tyk/oauth/clients/apis/my-client?orgID=org2", "", 200, `[]`},
			{"refresh without api_id", "DELETE", "/tyk/oauth/refresh/abc", "", 400, `Missing parameter api_id`},
			{"refresh unknown API", "DELETE", "/tyk/oauth/refresh/abc?api_id=nope", "", 404, `API for this refresh token not found`},
			{"refresh plain API", "DELETE", "/tyk/oauth/refresh/abc?api_id=plain", "", 400, `OAuth is not enabled on this API`},
			{"refresh unknown token", "DELETE", "/tyk/oauth/refresh/abc?api_id=oauth1", "", 200, `{"key":"abc","status":"ok","action":"deleted"}`},
			{"purge without scope", "DELETE", "/tyk/oauth/tokens", "", 422, `scope parameter is required`},
			{"purge unknown scope", "DELETE", "/tyk/oauth/tokens?scope=all", "", 400, `unknown scope`},
			{"purge", "DELETE", "/tyk/oauth/tokens?scope=lapsed", "", 200, `{"status":"ok","message":"lapsed tokens purged"}`},
			{"wrong method", "PATCH", "/tyk/oauth/clients/oauth1/my-client", "", 405, `Method not supported`},
			{"create by GET", "GET", "/tyk/oauth/clients/create", "", 404, `OAuth client not found`},
		} {
			expect(t, tc.name, s.tyk(tc.method, tc.path, tc.body), tc.code, tc.want)
		}

		// client_credentials: a key whose session is the policy's, with
		// oauth_client_id, expires and the client's meta_data under the
		// policy's.
		before := time.Now().Unix()
		tok := s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 200)
		access, _ := tok["access_token"].(string)
		if keys.Check(access) != nil || tok["expires_in"] != 3600.0 || tok["token_type"] != "bearer" || tok["refresh_token"] != nil {
			t.Fatalf("token answer %v", tok)
		}
		sess := s.tyk("GET", "/tyk/keys/"+access, "")
		expect(t, "token session", sess, 200, `"oauth_client_id":"`+c.ClientID+`"`)
		m := sess.json(t)
		if exp := int64(m["expires"].(float64)); exp < before+3600 || exp > time.Now().Unix()+3600 {
			t.Errorf("expires %d, want now+3600", exp)
		}
		if md, _ := json.Marshal(m["meta_data"]); string(md) != `{"app":"one","tier":"gold"}` {
			t.Errorf("meta_data %s: want the policy's tier and the client's app", md)
		}
		if m["rate"] != 10.0 {
			t.Errorf("rate %v, want the policy's 10", m["rate"])
		}
		toks := s.tyk("GET", "/tyk/oauth/clients/oauth1/"+c.ClientID+"/tokens", "")
		expect(t, "tokens", toks, 200, `[{"code":"`+keys.Hash(access)+`","expires":`)
		expect(t, "tokens page", s.tyk("GET", "/tyk/oauth/clients/oauth1/"+c.ClientID+"/tokens?page=1", ""), 200,
			`{"Pagination":{"page_size":100,"page_num":1,"page_total":1},"Tokens":[{"code":"`+keys.Hash(access)+`"`)

		// A new policy revokes the tokens; so does a rotation.
		cursor := s.sync("", "").Cursor
		expect(t, "update policy", s.tyk("PUT", "/tyk/oauth/clients/oauth1/"+c.ClientID,
			`{"policy_id":"opol2","redirect_uri":"http://client.example.com/cb"}`), 200, `"policy_id":"opol2"`)
		expect(t, "token revoked by the policy change", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")
		if ch := s.sync(cursor, ""); !slices.Contains(ch.Keys, keys.Hash(access)) {
			t.Errorf("revoked token not in the sync feed: %+v", ch)
		}
		tok = s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 200)
		access = tok["access_token"].(string)
		expect(t, "session of the new policy", s.tyk("GET", "/tyk/keys/"+access, ""), 200, `"rate":20`)
		rot := s.tyk("PUT", "/tyk/oauth/clients/oauth1/"+c.ClientID+"/rotate", "")
		expect(t, "rotate", rot, 200, `"client_id":"`+c.ClientID+`"`)
		var rotated client
		_ = json.Unmarshal(rot.body, &rotated)
		if rotated.Secret == c.Secret || rotated.Secret == "" {
			t.Fatalf("rotate kept the secret: %s", rot.body)
		}
		expect(t, "token revoked by the rotation", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")
		oauthErr(t, s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 403), oa.ErrUnauthorizedClient)
		c.Secret = rotated.Secret

		// Admin revocation.
		access = s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 200)["access_token"].(string)
		form := func(v url.Values) string { return v.Encode() }
		for _, tc := range []struct {
			name, path, body string
			code             int
			want             string
		}{
			{"revoke without token", "/tyk/oauth/revoke", form(url.Values{"client_id": {c.ClientID}}), 400, `token is required`},
			{"revoke without client", "/tyk/oauth/revoke", form(url.Values{"token": {access}}), 400, `client_id is required`},
			{"revoke unknown client", "/tyk/oauth/revoke", form(url.Values{"token": {access}, "client_id": {"x"}}), 400, `oauth client doesn't exist`},
			{"revoke", "/tyk/oauth/revoke", form(url.Values{"token": {access}, "client_id": {c.ClientID}, "token_type_hint": {"access_token"}}),
				200, `{"status":"ok","message":"token revoked successfully"}`},
			{"revoke_all without client", "/tyk/oauth/revoke_all", form(url.Values{"client_secret": {"s"}}), 401, `client_id is required`},
			{"revoke_all without secret", "/tyk/oauth/revoke_all", form(url.Values{"client_id": {c.ClientID}}), 401, `client_secret is required`},
			{"revoke_all unknown client", "/tyk/oauth/revoke_all", form(url.Values{"client_id": {"x"}, "client_secret": {"s"}}), 404, `oauth client doesn't exist`},
		} {
			r := s.do("POST", tc.path, tc.body, "X-Tyk-Authorization", secret, "Content-Type", "application/x-www-form-urlencoded")
			expect(t, tc.name, r, tc.code, tc.want)
		}
		expect(t, "revoked token", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")
		access = s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 200)["access_token"].(string)
		r = s.do("POST", "/tyk/oauth/revoke_all", form(url.Values{"client_id": {c.ClientID}, "client_secret": {c.Secret}}),
			"X-Tyk-Authorization", secret, "Content-Type", "application/x-www-form-urlencoded")
		expect(t, "revoke_all", r, 200, `{"status":"ok","message":"tokens revoked successfully"}`)
		expect(t, "token revoked by revoke_all", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")

		// Deleting the client revokes its tokens.
		access = s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 200)["access_token"].(string)
		expect(t, "delete", s.tyk("DELETE", "/tyk/oauth/clients/oauth1/"+c.ClientID, ""), 200,
			`{"key":"`+c.ClientID+`","status":"ok","action":"deleted"}`)
		expect(t, "token of the deleted client", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")
		expect(t, "deleted client", s.tyk("GET", "/tyk/oauth/clients/oauth1/"+c.ClientID, ""), 404, "OAuth Client ID not found")
		expect(t, "delete again (Tyk: not an error)", s.tyk("DELETE", "/tyk/oauth/clients/oauth1/"+c.ClientID, ""), 200, `"deleted"`)
		expect(t, "delete on unknown API", s.tyk("DELETE", "/tyk/oauth/clients/nope/x", ""), 404, `OAuth Client ID not found`)
		oauthErr(t, s.tokenOf(t, basic(c.ClientID, c.Secret), "grant_type=client_credentials", 403), oa.ErrUnauthorizedClient)
	})
}

func TestOAuthFlows(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		s := start(t, redisURL)
		oauthSetup(t, s)
		c := s.createClient(t, `{"api_id":"oauth1","policy_id":"opol","redirect_uri":"http://client.example.com/cb"}`)
		auth := basic(c.ClientID, c.Secret)

		// Token endpoint checks, in osin's order.
		for _, tc := range []struct {
			name, method, auth, form, code string
		}{
			{"GET", "GET", auth, "grant_type=client_credentials", oa.ErrInvalidRequest},
			{"grant not implemented", "POST", auth, "grant_type=password&username=u&password=p", oa.ErrUnsupportedGrantType},
			{"no client auth", "POST", "", "grant_type=client_credentials&client_id=" + c.ClientID + "&client_secret=" + c.Secret, oa.ErrInvalidRequest},
			{"wrong secret", "POST", basic(c.ClientID, "wrong"), "grant_type=client_credentials", oa.ErrUnauthorizedClient},
			{"unknown client", "POST", basic("nope", "x"), "grant_type=client_credentials", oa.ErrUnauthorizedClient},
			{"no code", "POST", auth, "grant_type=authorization_code", oa.ErrInvalidGrant},
			{"unknown code", "POST", auth, "grant_type=authorization_code&code=abc", oa.ErrInvalidGrant},
			{"unknown refresh token", "POST", auth, "grant_type=refresh_token&refresh_token=abc", oa.ErrInvalidGrant},
		} {
			res := s.oauthCall(oa.EndpointToken, tc.method, tc.auth, tc.form)
			if res.Status != 403 || res.Body != string(oa.AppendError(nil, oa.Err(tc.code))) {
				t.Errorf("%s: %d %s, want 403 %s", tc.name, res.Status, res.Body, tc.code)
			}
		}

		// Authorization code flow.
		authorize := func(extra string) (int, map[string]any) {
			r := s.do("POST", "/tyk/oauth/authorize-client/", "response_type=code&client_id="+c.ClientID+
				"&redirect_uri="+url.QueryEscape("http://client.example.com/cb")+extra,
				"X-Tyk-Authorization", secret, "Content-Type", "application/x-www-form-urlencoded")
			var m map[string]any
			_ = json.Unmarshal(r.body, &m)
			return r.code, m
		}
		code, m := authorize("&state=xyz")
		grant, _ := m["code"].(string)
		if code != 200 || grant == "" || m["state"] != "xyz" ||
			m["redirect_to"] != "http://client.example.com/cb?code="+url.QueryEscape(grant)+"&state=xyz" {
			t.Fatalf("authorize-client: %d %v", code, m)
		}
		if code, m := authorize("&response_type=token"); code != 200 || m["code"] == nil {
			t.Fatalf("first response_type wins: %d %v", code, m)
		}
		r := s.do("POST", "/tyk/oauth/authorize-client", "response_type=code&client_id="+c.ClientID+"&redirect_uri=http://evil.example.com/cb",
			"X-Tyk-Authorization", secret, "Content-Type", "application/x-www-form-urlencoded")
		expect(t, "authorize-client, foreign redirect", r, 403, `"error":"invalid_request"`)
		expect(t, "authorize-client, foreign redirect goes to the client's", r, 403,
			`"redirect_to":"http://client.example.com/cb?error=invalid_request`)
		r = s.do("POST", "/tyk/oauth/authorize-client", "response_type=code&client_id=nope",
			"X-Tyk-Authorization", secret, "Content-Type", "application/x-www-form-urlencoded")
		expect(t, "authorize-client, unknown client", r, 403, `"error":"unauthorized_client"`)

		res := s.oauthCall(oa.EndpointToken, "POST", auth, "grant_type=authorization_code&code="+url.QueryEscape(grant)+
			"&redirect_uri="+url.QueryEscape("http://other.example.com/cb"))
		if res.Status != 403 || !strings.Contains(res.Body, oa.ErrInvalidRequest) {
			t.Fatalf("code with another redirect_uri: %d %s", res.Status, res.Body)
		}
		tok := s.tokenOf(t, auth, "grant_type=authorization_code&code="+url.QueryEscape(grant), 200)
		access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
		if access == "" || refresh == "" {
			t.Fatalf("code grant: %v", tok)
		}
		expect(t, "code token session", s.tyk("GET", "/tyk/keys/"+access, ""), 200, `"oauth_client_id":"`+c.ClientID+`"`)
		oauthErr(t, s.tokenOf(t, auth, "grant_type=authorization_code&code="+url.QueryEscape(grant), 403), oa.ErrInvalidGrant)

		// Expired code: the record says it was issued 251 s ago.
		_, m = authorize("")
		old := m["code"].(string)
		ctx := context.Background()
		rc := s.app.store.Client()
		key := "oauth-data.{oauth1}.authorize." + keys.Hash(old)
		data, err := rc.Get(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var g map[string]any
		_ = json.Unmarshal([]byte(data), &g)
		g["created_at"] = float64(time.Now().Unix() - 251)
		b, _ := json.Marshal(g)
		rc.Set(ctx, key, b, time.Minute)
		oauthErr(t, s.tokenOf(t, auth, "grant_type=authorization_code&code="+url.QueryEscape(old), 403), oa.ErrInvalidGrant)

		// Another client cannot use the code or the refresh token.
		other := s.createClient(t, `{"api_id":"oauth1","policy_id":"opol","redirect_uri":"http://client.example.com/cb"}`)
		_, m = authorize("")
		oauthErr(t, s.tokenOf(t, basic(other.ClientID, other.Secret), "grant_type=authorization_code&code="+url.QueryEscape(m["code"].(string)), 403),
			oa.ErrInvalidGrant)
		oauthErr(t, s.tokenOf(t, basic(other.ClientID, other.Secret), "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), 403),
			oa.ErrInvalidClient)

		// Refresh: a new pair; the old access token and refresh token are gone.
		tok2 := s.tokenOf(t, auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), 200)
		access2, refresh2 := tok2["access_token"].(string), tok2["refresh_token"].(string)
		if access2 == access || refresh2 == refresh || refresh2 == "" {
			t.Fatalf("refresh: %v", tok2)
		}
		expect(t, "replaced token", s.tyk("GET", "/tyk/keys/"+access, ""), 404, "")
		expect(t, "new token", s.tyk("GET", "/tyk/keys/"+access2, ""), 200, "")
		oauthErr(t, s.tokenOf(t, auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), 403), oa.ErrInvalidGrant)

		// /oauth/revoke under the listen path: RFC 7009.
		res = s.oauthCall(oa.EndpointRevoke, "POST", "", "")
		if res.Status != 400 || res.Body != `{"status":"error","message":"token is required"}`+"\n" {
			t.Errorf("revoke without token: %d %s", res.Status, res.Body)
		}
		res = s.oauthCall(oa.EndpointRevoke, "POST", "", "token_type_hint=refresh_token&token="+url.QueryEscape(refresh2))
		if res.Status != 200 || res.Body != `{"status":"ok","message":"token revoked successfully"}`+"\n" {
			t.Errorf("revoke: %d %s", res.Status, res.Body)
		}
		oauthErr(t, s.tokenOf(t, auth, "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh2), 403), oa.ErrInvalidGrant)
		expect(t, "access token of the revoked refresh token", s.tyk("GET", "/tyk/keys/"+access2, ""), 404, "")
		// A key that is no token of the API is left alone.
		plain := s.tyk("POST", "/tyk/keys", `{"apply_policies":["ppol"]}`).json(t)["key"].(string)
		s.oauthCall(oa.EndpointRevoke, "POST", "", "token="+plain)
		expect(t, "plain key after revoke", s.tyk("GET", "/tyk/keys/"+plain, ""), 200, "")

		// revoke_all under the listen path.
		a3 := s.tokenOf(t, auth, "grant_type=client_credentials", 200)["access_token"].(string)
		for _, tc := range []struct {
			form, body string
			code       int
		}{
			{"client_secret=x", `{"status":"error","message":"client_id is required"}`, 401},
			{"client_id=" + c.ClientID, `{"status":"error","message":"client_secret is required"}`, 401},
			{"client_id=nope&client_secret=x", `{"status":"error","message":"error getting oauth client"}`, 404},
			{"client_id=" + c.ClientID + "&client_secret=x", `{"status":"error","message":"client secret is wrong"}`, 401},
			{"client_id=" + c.ClientID + "&client_secret=" + url.QueryEscape(c.Secret), `{"status":"ok","message":"tokens revoked successfully"}`, 200},
		} {
			res := s.oauthCall(oa.EndpointRevokeAll, "POST", "", tc.form)
			if res.Status != tc.code || res.Body != tc.body+"\n" {
				t.Errorf("revoke_all %s: %d %s", tc.form, res.Status, res.Body)
			}
		}
		expect(t, "token after revoke_all", s.tyk("GET", "/tyk/keys/"+a3, ""), 404, "")

		// /oauth/authorize: checked, then sent to the login page.
		q := "response_type=code&client_id=" + c.ClientID + "&state=s1"
		req := wire.OAuthRequest{APIID: "oauth1", Endpoint: oa.EndpointAuthorize, Method: "GET", Query: q}
		rr := s.filter("POST", wire.PathOAuth, string(wire.AppendOAuthRequest(nil, req)))
		got, _ := wire.DecodeOAuthResponse(rr.body)
		if got.Status != 307 || got.Location != "http://login.example.com/login?"+q {
			t.Errorf("authorize: %+v", got)
		}
		req.Query = "response_type=token&client_id=" + c.ClientID
		rr = s.filter("POST", wire.PathOAuth, string(wire.AppendOAuthRequest(nil, req)))
		got, _ = wire.DecodeOAuthResponse(rr.body)
		if got.Status != 403 || got.Body != `{"status":"error","message":"`+oa.Description(oa.ErrUnsupportedResponseType)+`"}`+"\n" {
			t.Errorf("authorize, implicit: %+v", got)
		}
		// A request for an API that is not OAuth.
		req.APIID = "plain"
		rr = s.filter("POST", wire.PathOAuth, string(wire.AppendOAuthRequest(nil, req)))
		got, _ = wire.DecodeOAuthResponse(rr.body)
		if got.Status != 404 {
			t.Errorf("plain API: %+v", got)
		}
		expect(t, "malformed oauth request", s.filter("POST", wire.PathOAuth, `{"api_id":1}`), 400, "")
	})
}

// Redis failing during a token request is 503 for the filter (which then
// answers 503 itself), never an OAuth error.
func TestOAuthStorageDown(t *testing.T) {
	r := testenv.StartBackend(t, testenv.RedisOptions{})
	s := start(t, r.URL())
	oauthSetup(t, s)
	c := s.createClient(t, `{"api_id":"oauth1","policy_id":"opol","redirect_uri":"http://client.example.com/cb"}`)
	r.Stop()
	req := wire.OAuthRequest{APIID: "oauth1", Endpoint: oa.EndpointToken, Method: "POST",
		Authorization: basic(c.ClientID, c.Secret), ContentType: "application/x-www-form-urlencoded",
		Body: "grant_type=client_credentials"}
	got := s.filter("POST", wire.PathOAuth, string(wire.AppendOAuthRequest(nil, req)))
	expect(t, "token with Redis down", got, 503, "storage unavailable")
	expect(t, "client API with Redis down", s.tyk("GET", "/tyk/oauth/clients/oauth1/"+c.ClientID, ""), 503, "Storage unavailable")
}
