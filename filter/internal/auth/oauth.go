package auth

import (
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Tyk's OAuth 2.0 bearer messages (Tyk's mw_oauth2_key_exists.go).
const (
	MsgBearerMalformed  = "Bearer token malformed"
	MsgKeyNotAuthorised = "Key not authorised"
	// OutBadBearer counts 400 Bearer token malformed.
	OutBadBearer = "malformed_bearer"
)

var (
	// DenyOAuthMissing: no "<scheme> <token>" where the API expects a
	// bearer token (Tyk answers 400 on OAuth APIs, not 401).
	DenyOAuthMissing = &Denial{access.StatusBadRequest, access.MsgAuthFieldMissing, OutMissingKey}
	// DenyOAuthMalformed: a scheme other than Bearer.
	DenyOAuthMalformed = &Denial{access.StatusBadRequest, MsgBearerMalformed, OutBadBearer}
	// DenyOAuthUnknown: an access token that names no session (unknown,
	// expired, revoked, or of a deleted client).
	DenyOAuthUnknown = &Denial{access.StatusForbidden, MsgKeyNotAuthorised, OutKeyNotFound}
)

// OAuth is Tyk's OAuth 2.0 authentication (use_oauth2): the request
// carries "Bearer <access token>" in the Authorization header (or where
// auth_configs.oauth says), and the access token is a key minted by the
// sidecar's token endpoint, looked up by its hash like any key. The token
// endpoint itself is answered by the plugin (filter/internal/plugin,
// oauth.go) before authentication.
type OAuth struct {
	Config model.AuthConfig // auth_configs.oauth
}

// NewOAuth reads the API's auth_configs.oauth, once per snapshot.
func NewOAuth(api *model.APIDefinition) OAuth {
	return OAuth{Config: api.AuthConfigs["oauth"]}
}

// Identify reads "<scheme> <token>" as Tyk does: split at spaces, fewer
// than two parts → 400 Authorization field missing, a scheme other than
// bearer (any case) → 400 Bearer token malformed; the second part is the
// access token.
func (o OAuth) Identify(req Request, path string) (Identity, *Denial) {
	c := Extract(&o.Config, req.RequestHeader, path)
	raw := rawCredential(c, req, path)
	scheme, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return Identity{}, DenyOAuthMissing
	}
	if !strings.EqualFold(scheme, "bearer") {
		return Identity{}, DenyOAuthMalformed
	}
	token, _, _ := strings.Cut(rest, " ")
	if len(token) < MinKeyLength || len(token) > keys.MaxCustomLen ||
		(keys.LooksGenerated(token) && keys.Check(token) != nil) {
		return Identity{}, DenyOAuthUnknown
	}
	c.Key = ""
	return Identity{Key: token, Cred: c}, nil
}

// Unknown is the answer to a token that names no session.
func (o OAuth) Unknown() *Denial { return DenyOAuthUnknown }

// rawCredential is the credential's value as sent, before Extract took off
// a "Bearer " prefix.
func rawCredential(c Credential, req Request, path string) string {
	switch c.From {
	case Header:
		return req.RequestHeader(c.Name)
	case Param:
		return route.QueryParam(path, c.Name)
	case Cookie:
		return route.CookieValue(req.RequestHeader("cookie"), c.Name)
	}
	return ""
}
