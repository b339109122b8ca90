package jwt

import (
	"errors"
	"slices"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
)

// Errors of the centralised mode's policy choice, Tyk's texts (403 with
// the text as the message).
var (
	ErrNoMatchingPolicy        = errors.New("key not authorized: no matching policy")
	ErrNoMatchingPolicyFound   = errors.New("key not authorized: no matching policy found")
	ErrNoPolicyInScope         = errors.New("key not authorized: no matching policy found in scope claim")
	ErrNoScopeOrPolicy         = errors.New("key not authorized: no scope or policy in token")
	ErrCouldNotApplyNewPolicy  = errors.New("key not authorized: could not apply new policy")
	ErrCouldNotApplySeveral    = errors.New("key not authorized: could not apply several policies")
	ErrCouldNotApplyNewSession = errors.New("key not authorized: no matching policy") // Tyk: a session from a policy that fails
)

// Config is the JWT part of an API definition that decides sessions.
type Config struct {
	OrgID           string
	PolicyFieldName string // jwt_policy_field_name
	DefaultPolicies []string
	ScopeToPolicy   map[string]string
	ScopeClaimName  string
}

// TokenPolicies is what a token says about policies, read once per token:
// the base policy claim and the scopes.
type TokenPolicies struct {
	Base   string // the jwt_policy_field_name claim; "" when absent
	Scopes []string
}

// ReadPolicies reads a verified token's policy claims for c.
func (c *Config) ReadPolicies(t *Token) TokenPolicies {
	var tp TokenPolicies
	tp.Base, _ = t.Claim(c.PolicyFieldName)
	if len(c.ScopeToPolicy) > 0 {
		tp.Scopes = t.Scopes(c.ScopeClaimName)
	}
	return tp
}

// Choice is the outcome of Choose.
type Choice struct {
	// Base is the policy a new session is built from ("" for none).
	Base string
	// Policies the session must have.
	Policies []string
	// Update: the stored session must be (re)written with Policies.
	Update bool
	// ApplyErr is the error to answer if applying Policies fails.
	ApplyErr error
}

// Choose decides the policies of the session of a token, as Tyk's
// processCentralisedJWT does: exists says a session is stored, with the
// policy ids stored. pols finds a policy by id. The base policy is the
// token's policy claim, else the first default policy (all defaults are
// then applied); it must exist and belong to the API's org. A stored
// session keeps its policies unless the token names a base policy it lacks
// or the default list changed; scope mapping replaces the list with the
// base policy (not a default) plus the policies the scopes map to.
func (c *Config) Choose(tp TokenPolicies, exists bool, stored []string, pols policy.Store) (Choice, error) {
	base, isDefault := tp.Base, false
	if base == "" && len(c.DefaultPolicies) > 0 {
		base, isDefault = c.DefaultPolicies[0], true
	}
	withDefaults := func(ids []string) []string {
		if isDefault {
			for _, d := range c.DefaultPolicies {
				if !slices.Contains(ids, d) {
					ids = append(ids, d)
				}
			}
		}
		return ids
	}
	ch := Choice{ApplyErr: ErrCouldNotApplyNewSession}
	if !exists {
		ch.Update = true
		if base != "" {
			p, ok := pols.Policy(base)
			if !ok || p.OrgID != c.OrgID {
				return ch, ErrNoMatchingPolicy
			}
			ch.Base = base
			ch.Policies = withDefaults([]string{base})
		}
	} else {
		var p *model.Policy
		if base != "" {
			var ok bool
			if p, ok = pols.Policy(base); !ok {
				return ch, ErrNoMatchingPolicy
			}
		}
		if len(stored) == 0 {
			return ch, ErrNoMatchingPolicyFound
		}
		changed := false
		if isDefault {
			for _, id := range stored {
				if !slices.Contains(c.DefaultPolicies, id) && id != base {
					changed = true
				}
			}
			for _, d := range c.DefaultPolicies {
				if !slices.Contains(stored, d) {
					changed = true
				}
			}
		}
		ch.Policies = stored
		if base != "" && (!slices.Contains(stored, base) || changed) {
			if p.OrgID != c.OrgID {
				return ch, ErrNoMatchingPolicy
			}
			ch.Update, ch.ApplyErr = true, ErrCouldNotApplyNewPolicy
			ch.Policies = withDefaults([]string{base})
		}
	}
	if len(c.ScopeToPolicy) > 0 {
		if len(tp.Scopes) > 0 {
			var ids []string
			if base != "" && !isDefault {
				ids = []string{base}
			}
			for _, id := range MapScopes(c.ScopeToPolicy, tp.Scopes) {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				return ch, ErrNoPolicyInScope
			}
			if !ch.Update {
				ch.Update = !sameSet(ch.Policies, ids)
			}
			ch.Policies, ch.ApplyErr = ids, ErrCouldNotApplySeveral
		} else if base == "" && exists {
			return ch, ErrNoScopeOrPolicy
		}
	}
	if base == "" && len(c.DefaultPolicies) == 0 {
		if len(ch.Policies) == 0 || (exists && len(c.ScopeToPolicy) == 0) {
			return ch, ErrNoMatchingPolicyFound
		}
	}
	return ch, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Dynamic is what a new session is made of besides its policies.
type Dynamic struct {
	SessionID string // SessionID(org, identity)
	Identity  string
	ClientID  string
	Exp       int64 // the token's exp; 0 when none
	// MetaClientID is the client an OpenID Connect token was issued to
	// (meta_data.ClientID of its session, shared/oidc); "" for JWT.
	MetaClientID string
}

// Sessions decides and builds the sessions of verified tokens: *Config
// for JWT APIs, *oidc.Config for OpenID Connect. The filter creates and
// updates sessions through it whatever the method.
type Sessions interface {
	Choose(tp TokenPolicies, exists bool, stored []string, pols policy.Store) (Choice, error)
	NewSession(ch Choice, d Dynamic, pols policy.Store, now int64) (*model.Session, error)
	Update(stored *model.Session, ch Choice, d Dynamic, pols policy.Store) (*model.Session, error)
}

// NewSession builds the session Tyk creates for a token's first request:
// the base policy's limits and rights (generateSessionFromPolicy), the
// chosen policies applied, expires raised to the token's exp, the session
// id in meta_data.TykJWTSessionID, the identity as alias. now is unix
// seconds. The error is ch.ApplyErr when the policies do not apply.
func (c *Config) NewSession(ch Choice, d Dynamic, pols policy.Store, now int64) (*model.Session, error) {
	s := &model.Session{OrgID: c.OrgID}
	if p, ok := pols.Policy(ch.Base); ok && ch.Base != "" {
		s.Allowance, s.Rate, s.Per = p.Rate, p.Rate, p.Per
		s.ThrottleInterval, s.ThrottleRetryLimit = p.ThrottleInterval, p.ThrottleRetryLimit
		s.MaxQueryDepth, s.QuotaMax, s.QuotaRenewalRate = p.MaxQueryDepth, p.QuotaMax, p.QuotaRenewalRate
		s.AccessRights = make(map[string]model.AccessDefinition, len(p.AccessRights))
		for id, ad := range p.AccessRights {
			s.AccessRights[id] = ad
		}
		s.HMACEnabled, s.EnableHTTPSignatureValidation = p.HMACEnabled, p.EnableHTTPSignatureValidation
		s.IsInactive, s.Tags = p.IsInactive, slices.Clone(p.Tags)
		if p.KeyExpiresIn > 0 {
			s.Expires = now + p.KeyExpiresIn
		}
	}
	s.ApplyPolicies = slices.Clone(ch.Policies)
	if err := c.Apply(s, pols); err != nil {
		return nil, ch.ApplyErr
	}
	if d.Exp > s.Expires {
		s.Expires = d.Exp
	}
	s.MetaData = map[string]model.RawValue{"TykJWTSessionID": model.RawValue(model.AppendString(nil, d.SessionID))}
	s.Alias = d.Identity
	s.OauthClientID = d.ClientID
	return s, nil
}

// Apply applies s's policies with the API's org as the guard.
func (c *Config) Apply(s *model.Session, pols policy.Store) error {
	org := c.OrgID
	return policy.Apply(s, pols, &org)
}

// Update returns a copy of the stored session with ch's policies applied,
// its exp raised to the token's and its client id set, for a token that
// changes them. The error is ch.ApplyErr when the policies do not apply.
func (c *Config) Update(stored *model.Session, ch Choice, d Dynamic, pols policy.Store) (*model.Session, error) {
	s := stored.Clone()
	s.ApplyPolicies, s.ApplyPolicyID = slices.Clone(ch.Policies), ""
	if err := c.Apply(s, pols); err != nil {
		return nil, ch.ApplyErr
	}
	if d.Exp > s.Expires {
		s.Expires = d.Exp
	}
	s.OauthClientID = d.ClientID
	return s, nil
}

// ScopeMapping is the scope-to-policy mapping an API applies and the claim
// its scopes are read from ("" means "scope"), chosen as Tyk chooses them:
// the scopes object when any of it is set (scopes.oidc for an OpenID
// Connect API, scopes.jwt otherwise), else the older
// jwt_scope_to_policy_mapping and jwt_scope_claim_name. So a scopes object
// hides the older fields entirely, even when its own part is empty.
func ScopeMapping(api *model.APIDefinition) (mapping map[string]string, claim string) {
	sc := api.Scopes
	if sc == nil || (emptyScopeClaim(sc.JWT) && emptyScopeClaim(sc.OIDC)) {
		return api.JWTScopeToPolicyMapping, api.JWTScopeClaimName
	}
	if api.UseOpenID {
		return sc.OIDC.ScopeToPolicy, sc.OIDC.ScopeClaimName
	}
	return sc.JWT.ScopeToPolicy, sc.JWT.ScopeClaimName
}

// emptyScopeClaim: an empty map counts as unset, as in Tyk.
func emptyScopeClaim(c model.ScopeClaim) bool {
	return c.ScopeClaimName == "" && len(c.ScopeToPolicy) == 0
}
