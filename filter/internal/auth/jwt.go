package auth

import (
	"crypto/sha256"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/cache"
	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Outcomes of JWT denials (turnpike.decision.<outcome>).
const (
	OutJWTInvalid = "jwt_invalid" // 403 bad signature, unknown key, wrong alg, malformed
	OutJWTClaims  = "jwt_claims"  // 401 exp, iat or nbf
	OutJWTPolicy  = "jwt_policy"  // 403 no identity, or no policy for the session
)

// Tyk's JWT answers (gateway/mw_jwt.go).
var (
	// DenyJWTMissing: no token. Tyk answers 400 here, not 401.
	DenyJWTMissing = &Denial{access.StatusBadRequest, access.MsgAuthFieldMissing, OutMissingKey}
	// DenyJWTInvalid: a token that does not verify, or names no key.
	DenyJWTInvalid = &Denial{access.StatusForbidden, "Key not authorized", OutJWTInvalid}
	// DenyJWTNoKey: the same answer, for a token naming a key the
	// snapshot lacks. The pipeline tells it apart: the sidecar may have
	// fetched that key since this VM's last poll, so the request waits for
	// a fresh one before it is refused (plugin.awaitKeys).
	DenyJWTNoKey = &Denial{access.StatusForbidden, "Key not authorized", OutJWTInvalid}
	// DenyJWTMethod: alg not of the API's signing method (none included).
	DenyJWTMethod = &Denial{access.StatusForbidden, "Key not authorized: Unexpected signing method", OutJWTInvalid}
)

// JWTDenial is a 403 with one of Tyk's identity or policy messages.
func JWTDenial(err error) *Denial {
	return &Denial{access.StatusForbidden, err.Error(), OutJWTPolicy}
}

// JWTSession is what a verified token says about its session in the
// centralised mode (a jwt_source): the pipeline creates the session from
// it on the identity's first request, and updates it when the token
// changes its policies (filter/internal/plugin/jwtsession.go). It is shared
// by every request with the token: never modify it.
type JWTSession struct {
	Config   jwt.Sessions // *jwt.Config, or *oidc.Config for OpenID Connect
	Policies jwt.TokenPolicies
	Dynamic  jwt.Dynamic
}

// JWT is Tyk's JWT authentication (enable_jwt). With a jwt_source
// (centralised) the token is verified with the API's secret or public key
// and names a session derived from its identity claim, created from its
// policies on first use; without one (one-to-one) it names an existing key
// whose jwt_data.secret verifies it (Verify).
type JWT struct {
	apiID    string
	config   *model.AuthConfig // auth_configs.jwt
	method   jwt.Method
	cfg      jwt.Config
	skews    jwt.Skews
	identity string // jwt_identity_base_field
	skipKid  bool
	oneToOne bool
	secret   []byte     // centralised HMAC: the decoded jwt_source
	keys     jwt.KeySet // centralised RSA/ECDSA: from the snapshot (SetKeys)
	jwksURL  bool       // the keys come from a JWKS URL: an unknown kid asks for a refetch
	// onUnknownKid is told the API's id when a token's kid is not in keys.
	onUnknownKid func(apiID string)
	// now is the host's clock (unix ns): exp, iat and nbf are checked
	// against it.
	now func() int64
	// fp identifies everything a verified token's cache entry depends on,
	// so an entry made under another configuration is not used.
	fp string
}

// NewJWT makes the JWT method of api, or Refused when its configuration
// cannot be enforced (the reason is logged once per API).
func NewJWT(api *model.APIDefinition) Method {
	m, err := jwt.ParseMethod(api.JWTSigningMethod)
	if err != nil {
		return Refused{Field: "jwt_signing_method", Why: err.Error()}
	}
	src, err := jwt.ParseSource(api.JWTSource)
	if err != nil {
		return Refused{Field: "jwt_source", Why: err.Error()}
	}
	if api.JWTClientIDBaseField != "" && api.JWTPolicyFieldName == "" {
		// The base policy would come from another key's session: a lookup
		// in the middle of authentication that Turnpike does not make.
		return Refused{Field: "jwt_client_base_field", Why: "jwt_client_base_field is not supported; use jwt_policy_field_name or jwt_default_policies"}
	}
	// scopes.jwt, or the older jwt_scope_* fields when scopes is unset.
	scopes, scopeClaim := jwt.ScopeMapping(api)
	j := &JWT{
		apiID:  api.APIID,
		method: m,
		cfg: jwt.Config{OrgID: api.OrgID, PolicyFieldName: api.JWTPolicyFieldName,
			DefaultPolicies: api.JWTDefaultPolicies, ScopeToPolicy: scopes, ScopeClaimName: scopeClaim},
		skews: jwt.Skews{Exp: api.JWTExpiresAtValidationSkew, Iat: api.JWTIssuedAtValidationSkew,
			Nbf: api.JWTNotBeforeValidationSkew},
		identity: api.JWTIdentityBaseField,
		skipKid:  api.JWTSkipKid,
		oneToOne: api.JWTSource == "",
		jwksURL:  src.URL != "",
		now:      func() int64 { return time.Now().UnixNano() },
	}
	if c, ok := api.AuthConfigs["jwt"]; ok {
		j.config = &c
	}
	switch {
	case j.oneToOne && m != jwt.HMAC:
		// The key's jwt_data.secret would be a PEM key, which the filter
		// does not parse (crypto/x509 would add 370 KB to filter.wasm).
		return Refused{Field: "jwt_signing_method", Why: "one-to-one JWT (no jwt_source) is supported with hmac only"}
	case !j.oneToOne && m == jwt.HMAC:
		if src.URL != "" {
			return Refused{Field: "jwt_source", Why: "a JWKS URL needs jwt_signing_method rsa or ecdsa"}
		}
		j.secret = src.Data
	}
	j.fingerprint()
	return j
}

// SetEnv gives the method what the plugin knows: the verification keys of
// an RSA or ECDSA API from the snapshot (the sidecar parses PEM sources and
// fetches JWKS URLs), the host's clock (unix ns), and what to call when a
// token names a kid the keys lack. Called once per snapshot, before any
// request.
func (j *JWT) SetEnv(keys jwt.KeySet, now func() int64, onUnknownKid func(apiID string)) {
	j.keys, j.now, j.onUnknownKid = keys, now, onUnknownKid
	j.fingerprint()
}

// NeedsKeys reports whether the API verifies with keys from the snapshot.
func (j *JWT) NeedsKeys() bool { return !j.oneToOne && j.method != jwt.HMAC }

func (j *JWT) fingerprint() {
	b := []byte(j.apiID)
	add := func(s string) { b = strconv.AppendQuote(b, s) }
	add(j.method.String())
	add(j.cfg.OrgID)
	add(j.cfg.PolicyFieldName)
	add(j.cfg.ScopeClaimName)
	add(j.identity)
	add(string(j.secret))
	b = strconv.AppendBool(b, j.oneToOne)
	b = strconv.AppendBool(b, j.skipKid)
	// The cached session data points at this configuration (JWTSession),
	// so all of it counts, the default policies too.
	// Lists are preceded by their lengths, so no two configurations
	// give the same bytes.
	b = strconv.AppendInt(b, int64(len(j.cfg.DefaultPolicies)), 10)
	for _, p := range j.cfg.DefaultPolicies {
		add(p)
	}
	b = strconv.AppendInt(b, int64(len(j.cfg.ScopeToPolicy)), 10)
	for _, s := range slices.Sorted(maps.Keys(j.cfg.ScopeToPolicy)) {
		add(s)
		add(j.cfg.ScopeToPolicy[s])
	}
	for _, n := range [...]int64{j.skews.Exp, j.skews.Iat, j.skews.Nbf} {
		b = strconv.AppendInt(b, n, 10)
	}
	b = jwt.AppendKeySet(b, j.keys)
	sum := sha256.Sum256(b)
	j.fp = string(sum[:])
}

// JWTToken is a token that verified (centralised) or parsed (one-to-one),
// remembered per VM until its exp so a repeated token costs a hash and a
// lookup, not a signature verification.
type JWTToken struct {
	// Session is set in the centralised mode.
	Session *JWTSession

	fp  string
	key string // Identity.Key
	// One-to-one mode: the parsed token, and the secret it verified with
	// (checked against the session's on every request: a changed secret
	// verifies again).
	token    *jwt.Token
	okSecret string
}

// tokens is this VM's cache of tokens, keyed by the token itself. Not by
// its SHA-256: hashing a 300-byte token costs more in the VM than the rest
// of a warm decision (BENCHMARKS.md), and the VM holds raw credentials
// anyway (the key hash cache does too); tokens are never logged. The bound
// keeps it to a few MB. A VM is single-threaded; the lock is for native
// tests, which run several fake VMs at once.
var tokens = struct {
	sync.Mutex
	lru *cache.LRU[*JWTToken]
}{lru: cache.New[*JWTToken](4096)}

func lookupToken(k string, now int64, fp string) *JWTToken {
	tokens.Lock()
	defer tokens.Unlock()
	if v, ok := tokens.lru.Get(k, now); ok && v.fp == fp {
		return v
	}
	return nil
}

// rememberToken caches a token; raw may be a view of the request, so it
// is copied.
func rememberToken(raw string, v *JWTToken, deadline int64) {
	tokens.Lock()
	tokens.lru.Put(strings.Clone(raw), v, deadline)
	tokens.Unlock()
}

// Identify finds the token (auth_configs.jwt: header, parameter or cookie,
// "Bearer " removed) and, in the centralised mode, verifies it.
func (j *JWT) Identify(req Request, path string) (Identity, *Denial) {
	now := j.now()
	c := Extract(j.config, req.RequestHeader, path)
	raw := c.Key
	c.Key = ""
	if raw == "" {
		return Identity{}, DenyJWTMissing
	}
	if v := lookupToken(raw, now, j.fp); v != nil {
		return Identity{Key: v.key, Cred: c, JWT: v}, nil
	}
	t, err := jwt.Parse(raw)
	if err != nil {
		return Identity{}, DenyJWTInvalid
	}
	if d := checkMethod(t, j.method); d != nil {
		return Identity{}, d
	}
	if j.oneToOne {
		id, err := t.KeyIdentity(j.skipKid, j.identity)
		if err != nil {
			return Identity{}, DenyJWTInvalid
		}
		v := &JWTToken{fp: j.fp, key: id, token: t}
		rememberToken(raw, v, deadline(t, j.skews))
		return Identity{Key: id, Cred: c, JWT: v}, nil
	}
	key, d := j.key(t)
	if d != nil {
		return Identity{}, d
	}
	if t.Verify(key) != nil {
		return Identity{}, DenyJWTInvalid
	}
	if err := t.CheckTimes(now/1e9, j.skews); err != nil {
		return Identity{}, &Denial{access.StatusUnauthorized, "Key not authorized: " + err.Error(), OutJWTClaims}
	}
	ident, err := t.Identity(j.identity)
	if err != nil {
		return Identity{}, JWTDenial(err)
	}
	s := &JWTSession{Config: &j.cfg, Policies: j.cfg.ReadPolicies(t), Dynamic: jwt.Dynamic{
		SessionID: jwt.SessionID(j.cfg.OrgID, ident), Identity: ident, ClientID: t.ClientID(), Exp: t.Exp()}}
	v := &JWTToken{fp: j.fp, key: s.Dynamic.SessionID, Session: s}
	rememberToken(raw, v, deadline(t, j.skews))
	return Identity{Key: v.key, Cred: c, JWT: v}, nil
}

func checkMethod(t *jwt.Token, m jwt.Method) *Denial {
	switch t.CheckMethod(m) {
	case nil:
		return nil
	case jwt.ErrUnexpectedMethod:
		return DenyJWTMethod
	}
	return DenyJWTInvalid
}

// key finds the verification key of a centralised token.
func (j *JWT) key(t *jwt.Token) (any, *Denial) {
	if j.method == jwt.HMAC {
		return j.secret, nil
	}
	key, ok := j.keys.Find(t.Kid, t.KidSet)
	if !ok {
		if j.jwksURL && t.KidSet && j.onUnknownKid != nil {
			j.onUnknownKid(j.apiID) // maybe a rotation: the sidecar refetches
		}
		return nil, DenyJWTNoKey
	}
	return key, nil
}

// deadline is when a cached token stops being valid: its exp plus the
// skew (unix ns), or never when it has no exp.
func deadline(t *jwt.Token, sk jwt.Skews) int64 {
	if exp := t.Exp(); exp > 0 {
		return (exp + sk.Exp) * 1e9
	}
	return cache.NoDeadline
}

// Verify checks a one-to-one token against the key it names: the key's
// jwt_data.secret must verify it, then exp, iat and nbf must hold. The
// centralised mode verified the token in Identify.
func (j *JWT) Verify(_ Request, _ string, id *Identity, s *model.Session) *Denial {
	v := id.JWT
	if v == nil || v.token == nil {
		return nil
	}
	if v.okSecret == "" || v.okSecret != s.JWTData.Secret {
		if v.token.Verify([]byte(s.JWTData.Secret)) != nil {
			return DenyJWTInvalid
		}
		v.okSecret = s.JWTData.Secret
	}
	if err := v.token.CheckTimes(j.now()/1e9, j.skews); err != nil {
		return &Denial{access.StatusUnauthorized, "Key not authorized: " + err.Error(), OutJWTClaims}
	}
	return nil
}
