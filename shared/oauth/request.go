package oauth

// TokenRequest is a checked request to <listen_path>/oauth/token.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	Code         string // authorization_code
	RedirectURI  string // authorization_code ("" = the client's)
	RefreshToken string // refresh_token
	Scope        string
}

// CheckToken checks a token request as osin's HandleAccessRequest does,
// in its order, before any client is looked up: POST only
// (invalid_request), a grant type the API allows and Turnpike implements
// (unsupported_grant_type), client credentials in HTTP Basic (invalid_request:
// Tyk never accepts them as form parameters), then the grant's own
// parameter (invalid_grant without code or refresh_token).
func CheckToken(r Request, allowed []string) (TokenRequest, *Error) {
	if r.Method != "POST" {
		return TokenRequest{}, Err(ErrInvalidRequest)
	}
	t := TokenRequest{GrantType: r.Params.Get("grant_type")}
	if !Allowed(allowed, t.GrantType) || !Supported(t.GrantType) {
		return TokenRequest{}, Err(ErrUnsupportedGrantType)
	}
	id, secret, present, err := ParseBasic(r.Authorization)
	if !present || err != nil {
		return TokenRequest{}, Err(ErrInvalidRequest)
	}
	t.ClientID, t.ClientSecret = id, secret
	switch t.GrantType {
	case GrantAuthorizationCode:
		t.Code, t.RedirectURI = r.Params.Get("code"), r.Params.Get("redirect_uri")
		if t.Code == "" {
			return TokenRequest{}, Err(ErrInvalidGrant)
		}
	case GrantRefreshToken:
		t.RefreshToken, t.Scope = r.Params.Get("refresh_token"), r.Params.Get("scope")
		if t.RefreshToken == "" {
			return TokenRequest{}, Err(ErrInvalidGrant)
		}
	case GrantClientCredentials:
		t.Scope = r.Params.Get("scope")
	}
	return t, nil
}

// AuthorizeRequest is a checked request to <listen_path>/oauth/authorize
// or /tyk/oauth/authorize-client.
type AuthorizeRequest struct {
	ResponseType string
	ClientID     string
	RedirectURI  string // "" = the client's first
	State        string
	Scope        string
}

// CheckAuthorize checks the response type as osin's HandleAuthorizeRequest:
// one the API allows and Turnpike implements (code), else
// unsupported_response_type. The redirect_uri is unescaped once more, as
// osin does (a value it cannot unescape counts as absent).
func CheckAuthorize(params Form, allowed []string) (AuthorizeRequest, *Error) {
	a := AuthorizeRequest{ResponseType: params.Get("response_type")}
	if a.ResponseType != ResponseCode || !Allowed(allowed, a.ResponseType) {
		return AuthorizeRequest{}, Err(ErrUnsupportedResponseType)
	}
	a.ClientID, a.State, a.Scope = params.Get("client_id"), params.Get("state"), params.Get("scope")
	uri, err := unescape(params.Get("redirect_uri")) // url.QueryUnescape
	if err == nil {
		a.RedirectURI = uri
	}
	return a, nil
}

// Messages of the revoke endpoints (Tyk's, word for word).
const (
	MsgFormMalformed     = "error parsing form. Form malformed"
	MsgTokenRequired     = "token is required"
	MsgTokenRevoked      = "token revoked successfully"
	MsgClientIDRequired  = "client_id is required"
	MsgSecretRequired    = "client_secret is required"
	MsgClientNotFound    = "error getting oauth client"
	MsgSecretWrong       = "client secret is wrong"
	MsgAllTokensRevoked  = "tokens revoked successfully"
	MsgMethodNotAllowed  = "Method not supported"
	TokenTypeHintAccess  = "access_token"
	TokenTypeHintRefresh = "refresh_token"
)
