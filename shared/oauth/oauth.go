// Package oauth is the pure part of Turnpike's OAuth 2.0 server, which
// behaves as Tyk's built-in one (Tyk wraps github.com/lonelycode/osin):
// the endpoints under an API's listen path, the form parsing and checks
// both the filter and the sidecar run on a request to them, and osin's
// response and error bodies. The filter checks a request with it before
// handing it to the sidecar; the sidecar checks it again with the same
// code before it looks at a client or mints a token.
//
// It does no I/O and builds for GOOS=wasip1 (it avoids net/url, which would
// add about 116 kB to filter.wasm; see shared/wire).
package oauth

import (
	"strings"
)

// Grant types of POST <listen_path>/oauth/token (osin's AccessRequestType).
// Turnpike issues tokens for the first three; the others are refused by the
// Gateway API in oauth_meta.allowed_access_types.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantAssertion         = "assertion"
)

// ResponseCode is the response type of the authorization code flow
// (/oauth/authorize, /tyk/oauth/authorize-client). The implicit flow's
// "token" is refused by the Gateway API.
const ResponseCode = "code"

// Supported reports whether Turnpike implements a grant type.
func Supported(grant string) bool {
	switch grant {
	case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken:
		return true
	}
	return false
}

// Tyk's defaults (osin.NewServerConfig, Tyk's oauth_manager.go).
const (
	// AccessExpiration is an access token's lifetime in seconds
	// (expires_in; Tyk's oauth_token_expire default).
	AccessExpiration = 3600
	// AuthorizationExpiration is an authorization code's lifetime in
	// seconds (osin's AuthorizationExpiration).
	AuthorizationExpiration = 250
	// RefreshExpiration is a refresh token's lifetime in seconds, 14 days
	// (Tyk's oauth_refresh_token_expire default).
	RefreshExpiration = 14 * 24 * 3600
	// ErrorStatus is the status of an OAuth error answer (Tyk's
	// oauth_error_status_code default).
	ErrorStatus = 403
	// TokenType is osin's token_type.
	TokenType = "bearer"
)

// Endpoints answered under an OAuth API's listen path.
const (
	EndpointToken     = "token"
	EndpointAuthorize = "authorize"
	EndpointRevoke    = "revoke"
	EndpointRevokeAll = "revoke_all"
)

// Endpoint names the OAuth endpoint path (without query) is, under an API
// listening at listenPath, or "" when it is none: <listen>/oauth/token and
// <listen>/oauth/authorize, each with an optional trailing slash, and
// <listen>/oauth/revoke and <listen>/oauth/revoke_all (as Tyk's routes).
func Endpoint(listenPath, path string) string {
	// Runs on every request to an OAuth API: no allocation.
	lp := strings.TrimSuffix(listenPath, "/")
	if !strings.HasPrefix(path, lp) {
		return ""
	}
	rest, ok := strings.CutPrefix(path[len(lp):], "/oauth/")
	if !ok {
		return ""
	}
	switch rest {
	case "token", "token/":
		return EndpointToken
	case "authorize", "authorize/":
		return EndpointAuthorize
	case "revoke":
		return EndpointRevoke
	case "revoke_all":
		return EndpointRevokeAll
	}
	return ""
}

// Allowed reports whether list holds v (oauth_meta's allowed types).
func Allowed(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
