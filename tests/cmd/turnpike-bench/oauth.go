package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// oauthAPIID is the benchmark's OAuth 2.0 API, at /bench-oauth/.
const oauthAPIID = "bench-oauth"

// oauthTokens sets up the OAuth API, a policy like the warm keys' and a
// client, and mints n access tokens with client_credentials through the
// sidecar's token endpoint (the call the filter makes for
// <listen_path>/oauth/token). It returns the Authorization values.
func (e *env) oauthTokens(ctx context.Context, n int) ([]string, error) {
	for _, c := range []struct{ path, body string }{
		{"/tyk/policies", `{"id":"bench-oauth-pol","org_id":"org1","active":true,"rate":1000000000,"per":1,"quota_max":-1,
			"access_rights":{"` + oauthAPIID + `":{"api_id":"` + oauthAPIID + `","versions":["Default"]}}}`},
		{"/tyk/apis", `{"api_id":"` + oauthAPIID + `","name":"Bench OAuth","org_id":"org1","active":true,"use_oauth2":true,
			"oauth_meta":{"allowed_access_types":["client_credentials"]},
			"proxy":{"listen_path":"/` + oauthAPIID + `/","target_url":"` + e.upstreamURL + `"},
			"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`},
		{"/tyk/oauth/clients/create", `{"client_id":"bench-client","secret":"bench-secret","api_id":"` + oauthAPIID + `",
			"policy_id":"bench-oauth-pol","redirect_uri":"http://client.example.com/cb"}`},
	} {
		if err := e.admin(ctx, "POST", c.path, c.body); err != nil {
			return nil, err
		}
	}
	body := string(wire.AppendOAuthRequest(nil, wire.OAuthRequest{APIID: oauthAPIID, Endpoint: oa.EndpointToken,
		Method: "POST", Authorization: string(oa.AppendBasic(nil, "bench-client", "bench-secret")),
		ContentType: "application/x-www-form-urlencoded", Body: "grant_type=client_credentials"}))
	out := make([]string, n)
	for i := range out {
		req, err := http.NewRequestWithContext(ctx, "POST", e.sidecarURL+wire.PathOAuth, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set(wire.HeaderToken, filterToken)
		resp, err := e.http.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res, err := wire.DecodeOAuthResponse(b)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err != nil || res.Status != 200 || json.Unmarshal([]byte(res.Body), &tok) != nil || tok.AccessToken == "" {
			return nil, fmt.Errorf("minting an OAuth token: %d %s", resp.StatusCode, b)
		}
		out[i] = "Bearer " + tok.AccessToken
	}
	return out, nil
}
