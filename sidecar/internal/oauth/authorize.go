package oauth

import (
	"context"
	"encoding/json"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// checkAuthorize runs osin's HandleAuthorizeRequest checks: the response
// type, then the client (unknown or without redirect URI →
// unauthorized_client), then the redirect URI (invalid_request). redirect
// is where an error after the client check is sent (the client's first
// URI), "" before it.
func (s *Server) checkAuthorize(ctx context.Context, api *model.APIDefinition, params oa.Form) (a oa.AuthorizeRequest, c *Client, redirect string, e *oa.Error, err error) {
	a, e = oa.CheckAuthorize(params, api.Oauth2Meta.AllowedAuthorizeTypes)
	if e != nil {
		return a, nil, "", e, nil
	}
	c, _, err = s.LoadClient(ctx, api.APIID, a.ClientID)
	if err != nil {
		return a, nil, "", nil, err
	}
	if c == nil || c.RedirectURI == "" {
		return a, nil, "", &oa.Error{Code: oa.ErrUnauthorizedClient, State: a.State}, nil
	}
	if a.RedirectURI == "" {
		a.RedirectURI = c.RedirectURI
	}
	if !validRedirect(c.RedirectURI, a.RedirectURI) {
		return a, c, c.RedirectURI, &oa.Error{Code: oa.ErrInvalidRequest, State: a.State}, nil
	}
	return a, c, "", nil, nil
}

// authorize answers <listen_path>/oauth/authorize (Tyk's
// HandleAuthorizePassthrough): a valid request is sent on to the API's
// auth_login_redirect with 307, with its query on GET; an invalid one gets
// {"status":"error","message":<osin's description>} with status 403.
func (s *Server) authorize(ctx context.Context, api *model.APIDefinition, r oa.Request, rawQuery string) (wire.OAuthResponse, error) {
	if r.Method != "GET" && r.Method != "POST" {
		return status(405, "error", oa.MsgMethodNotAllowed), nil
	}
	_, _, _, e, err := s.checkAuthorize(ctx, api, r.Params)
	if err != nil {
		return wire.OAuthResponse{}, err
	}
	if e != nil {
		return status(oa.ErrorStatus, "error", oa.Description(e.Code)), nil
	}
	loc := api.Oauth2Meta.AuthorizeLoginRedirect
	if r.Method == "GET" {
		loc += "?" + rawQuery
	}
	return wire.OAuthResponse{Status: 307, Location: loc}, nil
}

// AuthorizeClient answers POST /tyk/oauth/authorize-client (Tyk's
// HandleGenerateAuthCodeData, which the resource owner's login page calls
// once the user approved): it issues an authorization code for the client
// and answers osin's output, {"code":…,"redirect_to":…[,"state":…]}, or an
// error with redirect_to when the client is known. key_rules, when given,
// is the session the token will carry instead of the client policy's.
func (s *Server) AuthorizeClient(ctx context.Context, api *model.APIDefinition, params oa.Form) (code int, body []byte, err error) {
	a, c, redirect, e, err := s.checkAuthorize(ctx, api, params)
	if err != nil {
		return 0, nil, err
	}
	if e != nil {
		out := map[string]string{"error": e.Code, "error_description": oa.Description(e.Code)}
		if e.State != "" {
			out["state"] = e.State
		}
		if redirect != "" {
			out["redirect_to"] = withQuery(redirect, out)
		}
		return oa.ErrorStatus, osinJSON(out), nil
	}
	code64, err := s.randomToken()
	if err != nil {
		return 0, nil, err
	}
	g, _ := json.Marshal(grant{ClientID: c.ID, RedirectURI: a.RedirectURI, Scope: a.Scope,
		UserData: params.Get("key_rules"), CreatedAt: s.d.Now().Unix(), ExpiresIn: oa.AuthorizationExpiration})
	if err := s.d.Store.PutOAuthGrant(ctx, api.APIID, keysHash(code64), g, oa.AuthorizationExpiration*time.Second); err != nil {
		return 0, nil, storageErr(err)
	}
	out := map[string]string{"code": code64}
	if a.State != "" {
		out["state"] = a.State
	}
	out["redirect_to"] = withQuery(a.RedirectURI, out)
	s.d.Logger.Info("OAuth authorization code issued", "api_id", api.APIID, "client_id", c.ID)
	return 200, osinJSON(out), nil
}

// osinJSON encodes an osin output map as Tyk does: sorted keys, no HTML
// escaping, a newline.
func osinJSON(m map[string]string) []byte {
	var b []byte
	enc := json.NewEncoder(appendWriter{&b})
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return b
}

type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
