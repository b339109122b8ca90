package auth

import (
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// MinKeyLength is Tyk's default min_token_length: shorter keys are treated
// as unknown without a lookup.
const MinKeyLength = 3

// AuthToken is Tyk's standard authentication (use_standard_auth): a
// pre-registered API key in a header, query parameter or cookie, looked up
// by its hash.
type AuthToken struct {
	Config *model.AuthConfig // auth_configs.authToken
}

// Identify extracts the key. Keys that cannot exist are refused without a
// lookup: too short for Tyk, too long for any key, or a generated key whose
// checksum fails (a typo or a forgery).
func (a AuthToken) Identify(req Request, path string) (Identity, *Denial) {
	c := Extract(a.Config, req.RequestHeader, path)
	key := c.Key
	// The key is a view of the request and, once hashed, never needed
	// again: the identity keeps it, the credential only its location.
	c.Key = ""
	if key == "" {
		return Identity{}, DenyMissing
	}
	if len(key) < MinKeyLength || len(key) > keys.MaxCustomLen ||
		(keys.LooksGenerated(key) && keys.Check(key) != nil) {
		return Identity{}, DenyUnknown
	}
	return Identity{Key: key, Cred: c}, nil
}

// Challenge names the bearer scheme on 401s (RFC 6750 §3).
func (a AuthToken) Challenge() string { return `Bearer realm="turnpike"` }

// Verify refuses, as unknown, a basic-auth user's session presented as an
// auth token: its id is the org id and the user name, which is no secret,
// so it must not open an API without the password. (Tyk lets it through.)
func (a AuthToken) Verify(_ Request, _ string, _ *Identity, s *model.Session) *Denial {
	if s.BasicAuthData.Password != "" {
		return DenyUnknown
	}
	return nil
}
