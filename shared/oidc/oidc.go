// Package oidc is Tyk's OpenID Connect authentication (use_openid) as pure
// code: reading openid_options, checking a verified ID token's issuer,
// audiences and subject against the API's providers, choosing the policy,
// and deriving and building the token's session. Signatures are verified
// with shared/jwt, with the keys of the issuer's JWKS (fetched by the
// sidecar through the issuer's discovery document, DiscoveryURL).
//
// Facts from Tyk (gateway/mw_openid.go, with TykTechnologies/openid2go):
// the token is the auth header's value (auth_configs.oidc) of the exact
// form "Bearer <token>"; the token's iss must be a provider's issuer
// ("accounts.google.com" also matches "https://accounts.google.com"), one
// of its aud values (a string or an array) a client id of that provider,
// and sub a non-empty string; a token without kid is verified with the
// issuer's first key; exp, iat and nbf are checked without skew. The
// policy is the one the first aud value that is a client id of the token's
// issuer (as sent) maps to; the session id is
// generateToken(org, md5hex(sub)), or with segregate_by_client
// generateToken(org, md5hex(client)+md5hex(sub)); a new session is built
// from the policy, with meta_data {TykJWTSessionID, ClientID} and alias
// "<client>:<sub>"; an existing one gets the policy as its only policy.
// With a scope-to-policy mapping (APIDefinition.GetScopeToPolicyMapping:
// scopes.oidc, or jwt_scope_to_policy_mapping without a scopes object) the
// clients' policies are ignored: the session, new ones starting empty,
// gets exactly the policies the token's scopes map to, possibly none.
// Every failure before the policy is 401 "Key not authorised".
package oidc

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/valyala/fastjson"
)

// Tyk's answers: 401 MsgNotAuthorised for every token that does not
// verify or names no policy, 403 with the errors' texts when the session
// cannot be made.
const MsgNotAuthorised = "Key not authorised"

var (
	ErrNoMatchingPolicy = errors.New("Key not authorized: no matching policy")
	ErrCouldNotApply    = errors.New("Key not authorized: could not apply new policy")
)

// ErrInvalid is any reason a token is not accepted (Tyk answers them all
// alike).
var ErrInvalid = errors.New("oidc: token not accepted")

// Provider is one trusted issuer with its decoded client ids.
type Provider struct {
	Issuer string
	// ClientIDs in a fixed (sorted) order: the audience check tries them
	// in turn.
	ClientIDs []string
	// Policies maps a client id to the policy of its tokens' sessions.
	Policies map[string]string
}

// Providers reads openid_options.providers: client ids are the keys of
// client_ids, standard base64 (Tyk stores them so). A key that is not
// base64 is an error (Tyk would use what it could decode of it).
func Providers(o *model.OpenIDOptions) ([]Provider, error) {
	if o == nil {
		return nil, nil
	}
	ps := make([]Provider, 0, len(o.Providers))
	for i, p := range o.Providers {
		pr := Provider{Issuer: p.Issuer, Policies: make(map[string]string, len(p.ClientIDs))}
		for enc, pol := range p.ClientIDs {
			id, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				return nil, errors.New("openid_options.providers[" + strconv.Itoa(i) + "].client_ids: " +
					strconv.Quote(enc) + " is not base64")
			}
			pr.Policies[string(id)] = pol
			pr.ClientIDs = append(pr.ClientIDs, string(id))
		}
		slices.Sort(pr.ClientIDs)
		ps = append(ps, pr)
	}
	return ps, nil
}

// DiscoveryURL is the OpenID configuration document of an issuer, whose
// jwks_uri names its keys.
func DiscoveryURL(issuer string) string {
	if issuer == "accounts.google.com" {
		issuer = "https://" + issuer
	}
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// KeySetID names the key set of an API's provider i in the filter's
// snapshot (wire.Snapshot.JWKS, whose other entries are api ids).
func KeySetID(apiID string, i int) string {
	return apiID + "#oidc" + strconv.Itoa(i)
}

// BearerToken reads the token from the credential's raw value: exactly
// "Bearer <token>", two parts separated by one space.
func BearerToken(raw string) (string, bool) {
	scheme, tok, ok := strings.Cut(raw, " ")
	if !ok || scheme != "Bearer" || tok == "" || strings.Contains(tok, " ") {
		return "", false
	}
	return tok, true
}

// Claims are what a token says about who it is for.
type Claims struct {
	Issuer    string
	Subject   string
	Audiences []string
}

// ReadClaims reads iss, sub and aud: iss and sub non-empty strings, aud a
// string or an array of non-empty strings.
func ReadClaims(t *jwt.Token) (Claims, error) {
	var c Claims
	iss, sub := t.Claims.Get("iss"), t.Claims.Get("sub")
	if iss == nil || iss.Type() != fastjson.TypeString || sub == nil || sub.Type() != fastjson.TypeString {
		return c, ErrInvalid
	}
	c.Issuer, c.Subject = string(iss.GetStringBytes()), string(sub.GetStringBytes())
	if c.Issuer == "" || c.Subject == "" {
		return c, ErrInvalid
	}
	aud := t.Claims.Get("aud")
	switch {
	case aud == nil:
		return c, ErrInvalid
	case aud.Type() == fastjson.TypeString:
		c.Audiences = []string{string(aud.GetStringBytes())}
	case aud.Type() == fastjson.TypeArray:
		for _, a := range aud.GetArray() {
			if a.Type() != fastjson.TypeString {
				return c, ErrInvalid
			}
			c.Audiences = append(c.Audiences, string(a.GetStringBytes()))
		}
	default:
		return c, ErrInvalid
	}
	for _, a := range c.Audiences {
		if a == "" {
			return c, ErrInvalid
		}
	}
	return c, nil
}

// ProviderOf returns the index of the provider whose keys verify a token of
// c: the first with c's issuer, provided one of c's audiences is one of its
// client ids.
func ProviderOf(ps []Provider, c Claims) (int, error) {
	for i, p := range ps {
		if p.Issuer != c.Issuer && !(c.Issuer == "accounts.google.com" && p.Issuer == "https://"+c.Issuer) {
			continue
		}
		for _, id := range p.ClientIDs {
			for _, a := range c.Audiences {
				if a == id {
					return i, nil
				}
			}
		}
		return 0, ErrInvalid
	}
	return 0, ErrInvalid
}

// Policy is the client and policy of a verified token: the first of its
// audiences that is a client id of a provider with the token's issuer as
// sent (the providers of one issuer pool their clients).
func Policy(ps []Provider, c Claims) (client, policyID string, err error) {
	for _, a := range c.Audiences {
		for _, p := range ps {
			if p.Issuer != c.Issuer {
				continue
			}
			if pol, ok := p.Policies[a]; ok && pol != "" {
				return a, pol, nil
			}
		}
	}
	return "", "", ErrInvalid
}

// FindKey is the issuer's key for a token: the one with its kid, or the
// first when it has none.
func FindKey(ks jwt.KeySet, kid string, kidSet bool) (any, bool) {
	if !kidSet {
		if len(ks) == 0 {
			return nil, false
		}
		return ks[0].Key, true
	}
	for _, k := range ks {
		if k.Kid == kid {
			return k.Key, true
		}
	}
	return nil, false
}

// Config decides the sessions of an API's tokens (jwt.Sessions).
type Config struct {
	OrgID             string
	SegregateByClient bool
	// ScopeToPolicy and ScopeClaimName are the API's scope-to-policy
	// mapping and the claim its scopes are in ("" means "scope"), as
	// jwt.ScopeMapping chooses them (scopes.oidc, or the older
	// jwt_scope_* fields when the scopes object is unset). With a mapping,
	// Tyk ignores the clients' policies: a token needs none, its session
	// has exactly the policies its scopes map to (none is not an error),
	// and a new session starts empty instead of from a policy.
	ScopeToPolicy  map[string]string
	ScopeClaimName string
}

// Policies reads what decides the session of a verified token of claims
// cl: its client and that client's policy (an error when the token's
// audiences name no client of its issuer with a policy), or, with a scope
// mapping, the client (the first audience that is a client id of the
// issuer; "" when none) and the token's scopes.
func (c *Config) Policies(ps []Provider, cl Claims, t *jwt.Token) (client string, tp jwt.TokenPolicies, err error) {
	client, pol, err := Policy(ps, cl)
	if len(c.ScopeToPolicy) == 0 {
		return client, jwt.TokenPolicies{Base: pol}, err
	}
	if err != nil {
		var known bool
		if client, known = clientOf(ps, cl); !known {
			return "", tp, ErrInvalid // Tyk looks the issuer up as sent first
		}
	}
	return client, jwt.TokenPolicies{Scopes: t.Scopes(c.ScopeClaimName)}, nil
}

// clientOf is the first of c's audiences that is a client id of a
// provider with c's issuer as sent, whatever its policy ("" when none),
// and whether any provider has that issuer.
func clientOf(ps []Provider, c Claims) (client string, known bool) {
	for _, p := range ps {
		known = known || p.Issuer == c.Issuer
	}
	for _, a := range c.Audiences {
		for _, p := range ps {
			if _, ok := p.Policies[a]; ok && p.Issuer == c.Issuer {
				return a, known
			}
		}
	}
	return "", known
}

// Dynamic is what a token's session is made of besides its policy.
func (c *Config) Dynamic(client, sub string) jwt.Dynamic {
	key := md5hex(sub)
	if c.SegregateByClient {
		key = md5hex(client) + key
	}
	return jwt.Dynamic{SessionID: c.OrgID + key, Identity: client + ":" + sub, MetaClientID: client}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Choose decides the policies of a token's session: tp.Base, the token's
// client's policy, is the only one. A new session needs it to exist in
// the API's org; a stored session with other policies is updated to it.
//
// With a scope mapping the policies are those tp.Scopes map to, applied
// to an empty new session or replacing a stored session's list (Tyk sets
// them on every request; an unchanged list needs no write).
func (c *Config) Choose(tp jwt.TokenPolicies, exists bool, stored []string, pols policy.Store) (jwt.Choice, error) {
	if len(c.ScopeToPolicy) > 0 {
		ids := jwt.MapScopes(c.ScopeToPolicy, tp.Scopes)
		same := len(ids) == len(stored)
		for _, id := range ids {
			same = same && slices.Contains(stored, id)
		}
		return jwt.Choice{Policies: ids, Update: !exists || !same, ApplyErr: ErrCouldNotApply}, nil
	}
	ch := jwt.Choice{Base: tp.Base, Policies: []string{tp.Base}, ApplyErr: ErrCouldNotApply}
	p, ok := pols.Policy(tp.Base)
	if !exists {
		if !ok || p.OrgID != c.OrgID {
			return ch, ErrNoMatchingPolicy
		}
		ch.Update = true
		return ch, nil
	}
	if !ok {
		return ch, ErrCouldNotApply
	}
	ch.Update = len(stored) != 1 || stored[0] != tp.Base
	return ch, nil
}

func (c *Config) jwt() *jwt.Config { return &jwt.Config{OrgID: c.OrgID} }

// NewSession builds the session of a token's first request: the policy's
// limits and rights (as for JWT; none with a scope mapping, where ch has
// no base policy), the policies applied, meta_data
// {TykJWTSessionID, ClientID} and alias "<client>:<sub>". Its expiry is the
// policy's, not the token's.
func (c *Config) NewSession(ch jwt.Choice, d jwt.Dynamic, pols policy.Store, now int64) (*model.Session, error) {
	s, err := c.jwt().NewSession(ch, jwt.Dynamic{SessionID: d.SessionID, Identity: d.Identity}, pols, now)
	if err != nil {
		return nil, err
	}
	s.MetaData["ClientID"] = model.RawValue(model.AppendString(nil, d.MetaClientID))
	return s, nil
}

// Update returns a copy of the stored session with ch's policy applied.
func (c *Config) Update(stored *model.Session, ch jwt.Choice, d jwt.Dynamic, pols policy.Store) (*model.Session, error) {
	// The client id jwt's Update sets is the stored one: Tyk's OpenID
	// Connect leaves oauth_client_id alone.
	return c.jwt().Update(stored, ch, jwt.Dynamic{ClientID: stored.OauthClientID}, pols)
}
