package auth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/oidc"
)

// Tyk's OpenID Connect answers (gateway/mw_openid.go): every token that
// is missing, malformed, unverified or names no policy is 401 "Key not
// authorised"; a session that cannot be made is 403 (oidc's errors).
var (
	DenyOIDC        = &Denial{access.StatusUnauthorized, oidc.MsgNotAuthorised, OutJWTInvalid}
	denyOIDCMissing = &Denial{access.StatusUnauthorized, oidc.MsgNotAuthorised, OutMissingKey}
	// DenyOIDCNoKey is DenyOIDC for a token naming a key the snapshot lacks
	// (see DenyJWTNoKey).
	DenyOIDCNoKey = &Denial{access.StatusUnauthorized, oidc.MsgNotAuthorised, OutJWTInvalid}
)

// OpenID is Tyk's OpenID Connect authentication (use_openid). The ID token
// of an API's provider is verified in the VM with the keys of the issuer's
// JWKS, which the sidecar fetches through the issuer's discovery document
// and hands over in the snapshot (one key set per provider,
// oidc.KeySetID). Its session is dynamic, as a centralised JWT's: derived
// from the subject (and the client, with segregate_by_client), created
// from the client's policy on the identity's first request by the JWT
// session path of the pipeline, and cached like a key's.
type OpenID struct {
	apiID     string
	config    *model.AuthConfig // auth_configs.oidc
	providers []oidc.Provider
	keys      []jwt.KeySet // by provider, from the snapshot (SetEnv)
	cfg       oidc.Config
	// onUnknownKid is told the API's id when a token's kid is not in its
	// issuer's keys (maybe a rotation: the sidecar refetches).
	onUnknownKid func(apiID string)
	now          func() int64 // unix ns
	fp           string       // as JWT's: what a cached token depends on
}

// NewOpenID makes the OpenID Connect method of api, or Refused when its
// configuration cannot be enforced.
func NewOpenID(api *model.APIDefinition) Method {
	ps, err := oidc.Providers(api.OpenIDOptions)
	if err != nil {
		return Refused{Field: "openid_options", Why: err.Error()}
	}
	o := &OpenID{apiID: api.APIID, providers: ps, keys: make([]jwt.KeySet, len(ps)),
		cfg: oidc.Config{OrgID: api.OrgID, SegregateByClient: api.OpenIDOptions != nil && api.OpenIDOptions.SegregateByClient},
		now: func() int64 { return time.Now().UnixNano() }}
	o.cfg.ScopeToPolicy, o.cfg.ScopeClaimName = jwt.ScopeMapping(api)
	if c, ok := api.AuthConfigs["oidc"]; ok {
		o.config = &c
	}
	o.fingerprint()
	return o
}

// SetEnv gives the method the snapshot's key sets (it takes those of its
// providers), the host's clock and what to call on an unknown kid. Called
// once per snapshot, before any request.
func (o *OpenID) SetEnv(sets map[string]jwt.KeySet, now func() int64, onUnknownKid func(apiID string)) {
	for i := range o.providers {
		o.keys[i] = sets[oidc.KeySetID(o.apiID, i)]
	}
	o.now, o.onUnknownKid = now, onUnknownKid
	o.fingerprint()
}

// MissingKeys lists the issuers whose keys the snapshot lacks (not fetched
// yet, or the fetch failed): their tokens are refused.
func (o *OpenID) MissingKeys() []string {
	var out []string
	for i, p := range o.providers {
		if len(o.keys[i]) == 0 {
			out = append(out, p.Issuer)
		}
	}
	return out
}

func (o *OpenID) fingerprint() {
	b := []byte(o.apiID)
	add := func(s string) { b = strconv.AppendQuote(b, s) }
	add("oidc")
	add(o.cfg.OrgID)
	b = strconv.AppendBool(b, o.cfg.SegregateByClient)
	b = strconv.AppendInt(b, int64(len(o.providers)), 10)
	for i, p := range o.providers {
		add(p.Issuer)
		b = strconv.AppendInt(b, int64(len(p.Policies)), 10)
		for _, id := range slices.Sorted(maps.Keys(p.Policies)) {
			add(id)
			add(p.Policies[id])
		}
		b = jwt.AppendKeySet(b, o.keys[i])
	}
	add(o.cfg.ScopeClaimName)
	for _, sc := range slices.Sorted(maps.Keys(o.cfg.ScopeToPolicy)) {
		add(sc)
		add(o.cfg.ScopeToPolicy[sc])
	}
	sum := sha256.Sum256(b)
	o.fp = string(sum[:])
}

// Identify reads the ID token ("Bearer <token>" from auth_configs.oidc's
// place, the Authorization header by default), verifies it and names its
// session. A token seen before (this VM, same configuration, before its
// exp) costs a lookup, not a verification.
func (o *OpenID) Identify(req Request, path string) (Identity, *Denial) {
	now := o.now()
	c := extractRaw(o.config, req.RequestHeader, path)
	raw := c.Key
	c.Key = ""
	if raw == "" {
		return Identity{}, denyOIDCMissing
	}
	tok, ok := oidc.BearerToken(raw)
	if !ok {
		return Identity{}, DenyOIDC
	}
	if v := lookupToken(tok, now, o.fp); v != nil {
		return Identity{Key: v.key, Cred: c, JWT: v}, nil
	}
	t, err := jwt.Parse(tok)
	if err != nil {
		return Identity{}, DenyOIDC
	}
	claims, err := oidc.ReadClaims(t)
	if err != nil {
		return Identity{}, DenyOIDC
	}
	i, err := oidc.ProviderOf(o.providers, claims)
	if err != nil {
		return Identity{}, DenyOIDC
	}
	key, ok := oidc.FindKey(o.keys[i], t.Kid, t.KidSet)
	if !ok {
		if t.KidSet && o.onUnknownKid != nil {
			o.onUnknownKid(o.apiID)
		}
		return Identity{}, DenyOIDCNoKey
	}
	// The key's type decides the algorithms: an HMAC alg or none, with a
	// public key as the secret, is refused.
	var m jwt.Method
	switch key.(type) {
	case *rsa.PublicKey:
		m = jwt.RSA
	case *ecdsa.PublicKey:
		m = jwt.ECDSA
	default:
		return Identity{}, DenyOIDC
	}
	if t.CheckMethod(m) != nil || t.Verify(key) != nil || t.CheckTimes(now/1e9, jwt.Skews{}) != nil {
		return Identity{}, DenyOIDC
	}
	client, tp, err := o.cfg.Policies(o.providers, claims, t)
	if err != nil {
		return Identity{}, DenyOIDC
	}
	d := o.cfg.Dynamic(client, claims.Subject)
	v := &JWTToken{fp: o.fp, key: d.SessionID,
		Session: &JWTSession{Config: &o.cfg, Policies: tp, Dynamic: d}}
	rememberToken(tok, v, deadline(t, jwt.Skews{}))
	return Identity{Key: v.key, Cred: c, JWT: v}, nil
}
