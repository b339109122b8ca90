package basicauth

import (
	"errors"
	"regexp"
)

// Credentials in the request body (basic_auth.extract_from_body), as Tyk
// reads them when the Authorization header does not give any (missing or
// malformed): body_user_regexp and body_password_regexp are Go regexps
// whose first capture group, in their first match in the body, is the user
// and the password. The errors are Tyk's, answered with 400.
var (
	ErrBodyNoUser        = errors.New("Body do not contain username")
	ErrBodyUserGroup     = errors.New("username should be inside regexp match group")
	ErrBodyNoPassword    = errors.New("Body do not contain password")
	ErrBodyPasswordGroup = errors.New("password should be inside regexp match group")
)

// BodyRegexps are an API's two compiled body regexps.
type BodyRegexps struct {
	user, password *regexp.Regexp
}

// CompileBody compiles an API's body regexps. Tyk turns basic auth off
// altogether for an API whose regexps are empty or invalid (its requests
// then pass unauthenticated); here such an API is refused instead.
func CompileBody(userRe, passwordRe string) (*BodyRegexps, error) {
	if userRe == "" || passwordRe == "" {
		return nil, errors.New("extract_from_body needs body_user_regexp and body_password_regexp")
	}
	u, err := regexp.Compile(userRe)
	if err != nil {
		return nil, errors.New("body_user_regexp: " + err.Error())
	}
	p, err := regexp.Compile(passwordRe)
	if err != nil {
		return nil, errors.New("body_password_regexp: " + err.Error())
	}
	return &BodyRegexps{user: u, password: p}, nil
}

// Credentials reads the user and the password from body. The results are
// new strings, never views of body.
func (b *BodyRegexps) Credentials(body []byte) (user, password string, err error) {
	u := b.user.FindSubmatch(body)
	switch {
	case u == nil:
		return "", "", ErrBodyNoUser
	case len(u) < 2:
		return "", "", ErrBodyUserGroup
	}
	p := b.password.FindSubmatch(body)
	switch {
	case p == nil:
		return "", "", ErrBodyNoPassword
	case len(p) < 2:
		return "", "", ErrBodyPasswordGroup
	}
	return string(u[1]), string(p[1]), nil
}
