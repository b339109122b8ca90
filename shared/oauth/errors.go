package oauth

import (
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Error codes (RFC 6749 §4.1.2.1, §5.2), as osin names them.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrAccessDenied            = "access_denied"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrInvalidGrant            = "invalid_grant"
	ErrInvalidClient           = "invalid_client"
)

// Description is osin's error_description of an error code, word for word.
func Description(code string) string {
	switch code {
	case ErrInvalidRequest:
		return "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."
	case ErrUnauthorizedClient:
		return "The client is not authorized to request a token using this method."
	case ErrAccessDenied:
		return "The resource owner or authorization server denied the request."
	case ErrUnsupportedResponseType:
		return "The authorization server does not support obtaining a token using this method."
	case ErrInvalidScope:
		return "The requested scope is invalid, unknown, or malformed."
	case ErrServerError:
		return "The authorization server encountered an unexpected condition that prevented it from fulfilling the request."
	case ErrTemporarilyUnavailable:
		return "The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server."
	case ErrUnsupportedGrantType:
		return "The authorization grant type is not supported by the authorization server."
	case ErrInvalidGrant:
		return "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	case ErrInvalidClient:
		return "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)."
	}
	return code
}

// Error is an OAuth error answer: osin's error code, and the request's
// state when the flow carries one.
type Error struct {
	Code  string
	State string
}

// Err makes an Error without state.
func Err(code string) *Error { return &Error{Code: code} }

func (e *Error) Error() string { return e.Code }

// AppendError appends osin's error body, as Tyk writes it (JSON object with
// sorted keys and a newline): {"error":…,"error_description":…[,"state":…]}.
func AppendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"error":`...)
	dst = model.AppendString(dst, e.Code)
	dst = append(dst, `,"error_description":`...)
	dst = model.AppendString(dst, Description(e.Code))
	if e.State != "" {
		dst = append(dst, `,"state":`...)
		dst = model.AppendString(dst, e.State)
	}
	return append(dst, "}\n"...)
}

// Token is a successful token answer.
type Token struct {
	AccessToken  string
	ExpiresIn    int64
	RefreshToken string // "" for client_credentials (osin issues none)
	Scope        string // "" unless the request had one
}

// AppendToken appends osin's token body with sorted keys, as Tyk writes
// it: {"access_token":…,"expires_in":…[,"refresh_token":…][,"scope":…],"token_type":"bearer"}.
func AppendToken(dst []byte, t Token) []byte {
	dst = append(dst, `{"access_token":`...)
	dst = model.AppendString(dst, t.AccessToken)
	dst = append(dst, `,"expires_in":`...)
	dst = strconv.AppendInt(dst, t.ExpiresIn, 10)
	if t.RefreshToken != "" {
		dst = append(dst, `,"refresh_token":`...)
		dst = model.AppendString(dst, t.RefreshToken)
	}
	if t.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = model.AppendString(dst, t.Scope)
	}
	return append(dst, `,"token_type":"`+TokenType+`"}`+"\n"...)
}

// AppendStatus appends Tyk's Gateway API envelope {"status":…,"message":…}
// with a newline, which Tyk's /oauth/authorize and /oauth/revoke answer
// with.
func AppendStatus(dst []byte, status, message string) []byte {
	dst = append(dst, `{"status":`...)
	dst = model.AppendString(dst, status)
	dst = append(dst, `,"message":`...)
	dst = model.AppendString(dst, message)
	return append(dst, "}\n"...)
}
