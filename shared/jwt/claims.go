package jwt

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"sort"
	"strings"

	"github.com/valyala/fastjson"
)

// Skews are the API's jwt_*_validation_skew settings, in seconds.
type Skews struct {
	Exp, Iat, Nbf int64
}

// Errors of the time claims, Tyk's texts: the response is
// 401 "Key not authorized: <text>".
var (
	ErrExpired     = errors.New("token has expired")
	ErrUsedBefore  = errors.New("token used before issued")
	ErrNotValidYet = errors.New("token is not valid yet")
)

// CheckTimes validates exp, iat and nbf at now (unix seconds) with the
// skews, each only when present (0 counts as absent), as golang-jwt v4
// does for Tyk: valid while now-skew < exp, once now+skew >= iat and
// now+skew >= nbf. A claim that is not a number fails. When several fail,
// the last of exp, iat, nbf names the error (Tyk overwrites it).
func (t *Token) CheckTimes(now int64, sk Skews) error {
	var err error
	if v, ok := t.number("exp"); !ok || (v != 0 && !(float64(now-sk.Exp) < v)) {
		err = ErrExpired
	}
	if v, ok := t.number("iat"); !ok || (v != 0 && !(float64(now+sk.Iat) >= v)) {
		err = ErrUsedBefore
	}
	if v, ok := t.number("nbf"); !ok || (v != 0 && !(float64(now+sk.Nbf) >= v)) {
		err = ErrNotValidYet
	}
	return err
}

// number returns a numeric claim; absent reads as 0 and ok, another type
// as not ok.
func (t *Token) number(name string) (float64, bool) {
	v := t.Claims.Get(name)
	if v == nil {
		return 0, true
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	f, err := v.Float64()
	return f, err == nil
}

// Exp is the exp claim in unix seconds, 0 when absent or not a number.
func (t *Token) Exp() int64 {
	v, _ := t.number("exp")
	return int64(v)
}

// Claim returns a non-empty string claim named by field: first the member
// of that literal name, then, if field has dots, the nested path (Tyk's
// getClaimValue).
func (t *Token) Claim(field string) (string, bool) {
	if field == "" {
		return "", false
	}
	if v := t.Claims.Get(field); v != nil && v.Type() == fastjson.TypeString {
		if s := string(v.GetStringBytes()); s != "" {
			return s, true
		}
	}
	if strings.Contains(field, ".") {
		if v := t.Claims.Get(strings.Split(field, ".")...); v != nil && v.Type() == fastjson.TypeString {
			if s := string(v.GetStringBytes()); s != "" {
				return s, true
			}
		}
	}
	return "", false
}

// isEmptyString reports whether the claim at the literal name or nested
// path exists and is "".
func (t *Token) isEmptyString(field string) bool {
	for _, v := range []*fastjson.Value{t.Claims.Get(field), t.Claims.Get(strings.Split(field, ".")...)} {
		if v != nil && v.Type() == fastjson.TypeString && len(v.GetStringBytes()) == 0 {
			return true
		}
	}
	return false
}

// Errors of the identity, Tyk's texts (the response is 403 with the text).
var (
	ErrNoUserID       = errors.New("no suitable claims for user ID were found")
	ErrEmptySubUserID = errors.New("found an empty user ID in sub claim")
	ErrEmptyUserID    = errors.New("found an empty user ID in predefined base claim")
)

// Identity is the user the token names: the claim jwt_identity_base_field
// names (dot paths allowed), else sub (Tyk's getUserIDFromClaim).
func (t *Token) Identity(baseField string) (string, error) {
	if baseField != "" {
		if id, ok := t.Claim(baseField); ok {
			return id, nil
		}
		if t.isEmptyString(baseField) {
			return "", errors.New(ErrEmptyUserID.Error() + ", claim: " + baseField)
		}
	}
	if v := t.Claims.Get("sub"); v != nil && v.Type() == fastjson.TypeString {
		if s := string(v.GetStringBytes()); s != "" {
			return s, nil
		}
		return "", ErrEmptySubUserID
	}
	return "", ErrNoUserID
}

// KeyIdentity is the key a token names in one-to-one mode (no jwt_source):
// the kid header unless skipKid, else Identity.
func (t *Token) KeyIdentity(skipKid bool, baseField string) (string, error) {
	if !skipKid && t.KidSet {
		return t.Kid, nil
	}
	return t.Identity(baseField)
}

// Scopes reads the scope claim (a dot path): a string is split on spaces,
// an array gives its string elements (Tyk's getScopeFromClaim).
func (t *Token) Scopes(claim string) []string {
	if claim == "" {
		claim = "scope"
	}
	v := t.Claims.Get(strings.Split(claim, ".")...)
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return strings.Split(string(v.GetStringBytes()), " ")
	case fastjson.TypeArray:
		var out []string
		for _, e := range v.GetArray() {
			if e.Type() == fastjson.TypeString {
				out = append(out, string(e.GetStringBytes()))
			}
		}
		return out
	}
	return nil
}

// ClientID is the OAuth client id of the token: the first of the claims
// clientId (Keycloak), cid (Okta), client_id (Gluu) that is present.
// Tyk would panic on a non-string value; here it reads as "".
func (t *Token) ClientID() string {
	for _, n := range [...]string{"clientId", "cid", "client_id"} {
		if v := t.Claims.Get(n); v != nil {
			return string(v.GetStringBytes())
		}
	}
	return ""
}

// SessionID is the id of the session Tyk creates for identity in an API of
// org: generateToken(org, md5 hex of the identity), in the legacy key format
// <org><md5 hex>. It is stored like any key id, so GET /tyk/keys/{id}
// finds it.
func SessionID(org, identity string) string {
	sum := md5.Sum([]byte(identity))
	return org + hex.EncodeToString(sum[:])
}

// MapScopes returns the policies scope maps to, without duplicates, in
// sorted order (Tyk takes them from a map; any order applies the same).
// Unmatched scopes are ignored.
func MapScopes(mapping map[string]string, scopes []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range scopes {
		if id, ok := mapping[s]; ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
