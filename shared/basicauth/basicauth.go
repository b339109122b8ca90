// Package basicauth is Tyk's basic authentication (use_basic_auth) as pure
// code both sides need: the session id a user name maps to, the
// Authorization header's parsing with Tyk's errors, and password hashing
// and verification (bcrypt, as Tyk stores passwords by default).
//
// Facts from Tyk (gateway/mw_basic_auth.go, gateway/api.go): a basic-auth
// user is a key stored under generateToken(org, user), which without
// hash_key_function is the org id followed by the user name (a user name
// that already starts with the org id is not prefixed twice); passwords are
// hashed with bcrypt at cost 10 when a key is created; the header must be
// two space-separated words whose second is standard base64 of exactly one
// "user:password" pair (a password containing ':' cannot be used).
package basicauth

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Hash types of basic_auth_data.hash_type that Turnpike stores and checks.
const (
	// HashBcrypt is the default: what the Gateway API stores.
	HashBcrypt = "bcrypt"
	// HashPlain is Tyk's plain-text type: the empty string. The Gateway API
	// writes it only when the operator allows plain passwords.
	HashPlain = ""
	// PlainRequest is how a Gateway API client asks for a plain password
	// (Tyk has no name for it: "" means plain when stored, but a create
	// with "" gets bcrypt, as in Tyk).
	PlainRequest = "plain"
)

// Cost is the bcrypt cost Tyk uses (gateway/api.go).
const Cost = 10

// Tyk's messages (mw_basic_auth.go).
const (
	MsgUnauthorized    = "User not authorised"
	MsgMalformedHeader = "Attempted access with malformed header, header not in basic auth format"
	MsgBadEncoding     = "Attempted access with malformed header, auth data not encoded correctly"
	MsgMalformedValues = "Attempted access with malformed header, values not in basic auth format"
)

// SessionID is the id a user's session is stored under: Tyk's
// generateToken(org, user) without hash_key_function.
func SessionID(org, user string) string {
	return org + strings.TrimPrefix(user, org)
}

// Header errors; each is a 400 with the message of the same text.
var (
	ErrMalformedHeader = errors.New(MsgMalformedHeader)
	ErrBadEncoding     = errors.New(MsgBadEncoding)
	ErrMalformedValues = errors.New(MsgMalformedValues)
)

// ParseHeader reads the user and password of an Authorization header value
// (not empty) as Tyk does. Like Tyk it does not look at the scheme word.
// The results are new strings (the decoded bytes), never views of value.
func ParseHeader(value string) (user, password string, err error) {
	u, p, err := AppendParseHeader(nil, value)
	if err != nil {
		return "", "", err
	}
	s := string(u) + ":" + string(p)
	return s[:len(u)], s[len(u)+1:], nil
}

// AppendParseHeader is ParseHeader decoding into dst's spare capacity (a
// caller's buffer makes it allocation-free): user and password are views
// of the returned memory.
func AppendParseHeader(dst []byte, value string) (user, password []byte, err error) {
	_, data, ok := strings.Cut(value, " ")
	if !ok || strings.Contains(data, " ") {
		return nil, nil, ErrMalformedHeader
	}
	n := base64.StdEncoding.DecodedLen(len(data))
	if cap(dst)-len(dst) < n {
		dst = make([]byte, 0, n)
	}
	raw := dst[len(dst) : len(dst)+n]
	n, derr := base64.StdEncoding.Decode(raw, []byte(data))
	if derr != nil {
		return nil, nil, ErrBadEncoding
	}
	raw = raw[:n]
	i := bytes.IndexByte(raw, ':')
	if i < 0 || bytes.IndexByte(raw[i+1:], ':') >= 0 {
		return nil, nil, ErrMalformedValues
	}
	return raw[:i], raw[i+1:], nil
}

// Hash returns the bcrypt hash of password at Tyk's cost. bcrypt takes at
// most 72 bytes of password: longer ones are refused rather than truncated.
func Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), Cost)
	return string(h), err
}

// ErrUnsupportedHash reports a stored hash type Turnpike does not check
// (Tyk's sha256 and murmur types).
var ErrUnsupportedHash = errors.New("basicauth: unsupported hash_type")

// Verify checks password against a stored password of the given hash type:
// bcrypt (also for any type Tyk treats as bcrypt, i.e. every other name but
// the ones below), or plain compared in constant time. A stored password
// that is empty never matches: Tyk would let an empty password through to
// any key without basic-auth data.
func Verify(hashType, stored, password string) error {
	if stored == "" {
		return bcrypt.ErrMismatchedHashAndPassword
	}
	switch hashType {
	case HashPlain:
		if subtle.ConstantTimeCompare([]byte(stored), []byte(password)) != 1 {
			return bcrypt.ErrMismatchedHashAndPassword
		}
		return nil
	case "sha256", "murmur32", "murmur64", "murmur128":
		return ErrUnsupportedHash
	}
	return bcrypt.CompareHashAndPassword([]byte(stored), []byte(password))
}
