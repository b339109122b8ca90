// Package model holds Tyk's access-control data model (sessions, policies,
// access definitions, API definitions) with Tyk's JSON field names, and a
// reflection-free JSON codec that runs inside the proxy-wasm VM.
//
// Field meanings follow Tyk 5.8 (user/session.go and user/policy.go in
// github.com/TykTechnologies/tyk); ../policy/README.md summarises them.
//
// The codec and the Clone methods are generated from the struct definitions
// in this file by internal/modelgen (go generate; see its doc comment for the
// tags it reads). Field order is JSON member order in the classic form, so a
// new field is one tagged line here followed by go generate.
package model

//go:generate go run ./internal/modelgen

// RawValue is one JSON value kept as its compact JSON text. It is how
// free-form meta_data values travel through the model without reflection.
type RawValue []byte

// Session is a key's state: Tyk's SessionState, stored at apikey-<hash>.
type Session struct {
	LastCheck                     int64                       `json:"last_check"`
	Allowance                     float64                     `json:"allowance"`
	Rate                          float64                     `json:"rate"` // requests per Per seconds; <= 0 means unlimited
	Per                           float64                     `json:"per"`  // window in seconds
	ThrottleInterval              float64                     `json:"throttle_interval"`
	ThrottleRetryLimit            int                         `json:"throttle_retry_limit"`
	MaxQueryDepth                 int                         `json:"max_query_depth"`
	DateCreated                   string                      `json:"date_created" model:"default=0001-01-01T00:00:00Z"` // RFC 3339; "" (unset) is written as Go's zero time
	Expires                       int64                       `json:"expires"`                                           // unix seconds; < 1 means never
	QuotaMax                      int64                       `json:"quota_max"`                                         // <= 0 means not enforced
	QuotaRenews                   int64                       `json:"quota_renews"`                                      // unix seconds
	QuotaRemaining                int64                       `json:"quota_remaining"`
	QuotaRenewalRate              int64                       `json:"quota_renewal_rate"` // seconds; <= 0 means never renews
	AccessRights                  map[string]AccessDefinition `json:"access_rights"`
	OrgID                         string                      `json:"org_id"`
	OauthClientID                 string                      `json:"oauth_client_id"`
	OauthKeys                     map[string]string           `json:"oauth_keys"`
	Certificate                   string                      `json:"certificate"`
	BasicAuthData                 BasicAuthData               `json:"basic_auth_data"`
	JWTData                       JWTData                     `json:"jwt_data"`
	HMACEnabled                   bool                        `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool                        `json:"enable_http_signature_validation"`
	HmacSecret                    string                      `json:"hmac_string"`
	RSACertificateID              string                      `json:"rsa_certificate_id"`
	IsInactive                    bool                        `json:"is_inactive"`
	ApplyPolicyID                 string                      `json:"apply_policy_id"` // deprecated; used only when ApplyPolicies is empty
	ApplyPolicies                 []string                    `json:"apply_policies"`
	DataExpires                   int64                       `json:"data_expires"`
	Monitor                       Monitor                     `json:"monitor"`
	EnableDetailRecording         bool                        `json:"enable_detail_recording"`
	EnableDetailedRecording       bool                        `json:"enable_detailed_recording"`
	MetaData                      map[string]RawValue         `json:"meta_data"`
	Tags                          []string                    `json:"tags"`
	Alias                         string                      `json:"alias"`
	LastUpdated                   string                      `json:"last_updated" model:"decode=lastUpdated"` // unix seconds as a decimal string
	IDExtractorDeadline           int64                       `json:"id_extractor_deadline"`
	SessionLifetime               int64                       `json:"session_lifetime"`
	Smoothing                     *Smoothing                  `json:"smoothing"`
}

// PolicyIDs returns the ids of the policies the key names: apply_policies,
// else the deprecated apply_policy_id (Tyk's PolicyIDs). The result may share
// memory with s.
func (s *Session) PolicyIDs() []string {
	if len(s.ApplyPolicies) > 0 {
		return s.ApplyPolicies
	}
	if s.ApplyPolicyID != "" {
		return []string{s.ApplyPolicyID}
	}
	return nil
}

// OrgSession is an organisation's session, stored at orgkey.<org_id>.
type OrgSession = Session

// BasicAuthData is the basic-auth password of a key.
type BasicAuthData struct {
	Password string `json:"password"`
	HashType string `json:"hash_type"`
}

// JWTData is the per-key JWT secret.
type JWTData struct {
	Secret string `json:"secret"`
}

// Monitor holds quota-usage trigger thresholds.
type Monitor struct {
	TriggerLimits []float64 `json:"trigger_limits"`
}

// Smoothing is Tyk 5.4+ rate-limit smoothing configuration.
type Smoothing struct {
	Enabled   bool    `json:"enabled"`
	Threshold int64   `json:"threshold"`
	Trigger   float64 `json:"trigger"`
	Step      int64   `json:"step"`
	Delay     int64   `json:"delay"`
}

// AccessDefinition is one entry of access_rights, keyed by API id.
type AccessDefinition struct {
	APIName              string                  `json:"api_name"`
	APIID                string                  `json:"api_id"`
	Versions             []string                `json:"versions"`
	AllowedURLs          []AccessSpec            `json:"allowed_urls"`
	RestrictedTypes      []GraphQLType           `json:"restricted_types"`
	AllowedTypes         []GraphQLType           `json:"allowed_types"`
	Limit                APILimit                `json:"limit"`
	FieldAccessRights    []FieldAccessDefinition `json:"field_access_rights"`
	DisableIntrospection bool                    `json:"disable_introspection"`
	AllowanceScope       string                  `json:"allowance_scope"` // counter namespace for rate and quota
	Endpoints            []Endpoint              `json:"endpoints,omitempty"`
}

// AccessSpec is one allowed_urls entry: a path regex and the methods it allows.
type AccessSpec struct {
	URL     string   `json:"url"`
	Methods []string `json:"methods"`
}

// GraphQLType is a GraphQL type name and its fields (restricted/allowed types).
type GraphQLType struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

// FieldAccessDefinition is a GraphQL field-level depth limit.
type FieldAccessDefinition struct {
	TypeName  string      `json:"type_name"`
	FieldName string      `json:"field_name"`
	Limits    FieldLimits `json:"limits"`
}

// FieldLimits holds the limits of a GraphQL field.
type FieldLimits struct {
	MaxQueryDepth int `json:"max_query_depth"`
}

// Endpoint is a per-endpoint rate limit (Tyk 5.6+).
type Endpoint struct {
	Path    string           `json:"path"`
	Methods []EndpointMethod `json:"methods"`
}

// EndpointMethod is the rate limit of one method of an Endpoint.
type EndpointMethod struct {
	Name  string    `json:"name"`
	Limit RateLimit `json:"limit"`
}

// RateLimit is a bare rate: Rate requests per Per seconds.
type RateLimit struct {
	Rate float64 `json:"rate"`
	Per  float64 `json:"per"`
}

// APILimit is a per-API limit. An empty limit (IsEmpty) means "use the
// session's root values".
type APILimit struct {
	Rate               float64    `json:"rate"`
	Per                float64    `json:"per"`
	Smoothing          *Smoothing `json:"smoothing"`
	ThrottleInterval   float64    `json:"throttle_interval"`
	ThrottleRetryLimit int        `json:"throttle_retry_limit"`
	MaxQueryDepth      int        `json:"max_query_depth"`
	QuotaMax           int64      `json:"quota_max"`
	QuotaRenews        int64      `json:"quota_renews"`
	QuotaRemaining     int64      `json:"quota_remaining"`
	QuotaRenewalRate   int64      `json:"quota_renewal_rate"`
	SetBy              string     `json:"-"` // policy id that set this limit; never serialized
}

// IsEmpty reports whether every numeric field is zero (smoothing is ignored),
// the condition under which Tyk falls back to the session's root values.
func (l APILimit) IsEmpty() bool {
	return l.Rate == 0 && l.Per == 0 && l.ThrottleInterval == 0 && l.ThrottleRetryLimit == 0 &&
		l.MaxQueryDepth == 0 && l.QuotaMax == 0 && l.QuotaRenews == 0 && l.QuotaRemaining == 0 &&
		l.QuotaRenewalRate == 0
}

// Policy is a Tyk security policy.
type Policy struct {
	MID                           string                      `json:"_id" model:"decode=objectID"` // 24 hex digits or empty
	ID                            string                      `json:"id"`
	Name                          string                      `json:"name"`
	OrgID                         string                      `json:"org_id"`
	Rate                          float64                     `json:"rate"`
	Per                           float64                     `json:"per"`
	QuotaMax                      int64                       `json:"quota_max"`
	QuotaRenewalRate              int64                       `json:"quota_renewal_rate"`
	ThrottleInterval              float64                     `json:"throttle_interval"`
	ThrottleRetryLimit            int                         `json:"throttle_retry_limit"`
	MaxQueryDepth                 int                         `json:"max_query_depth"`
	AccessRights                  map[string]AccessDefinition `json:"access_rights"`
	HMACEnabled                   bool                        `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool                        `json:"enable_http_signature_validation"`
	Active                        bool                        `json:"active"`
	IsInactive                    bool                        `json:"is_inactive"`
	Tags                          []string                    `json:"tags"`
	KeyExpiresIn                  int64                       `json:"key_expires_in"`
	Partitions                    PolicyPartitions            `json:"partitions"`
	LastUpdated                   string                      `json:"last_updated" model:"decode=lastUpdated"`
	MetaData                      map[string]RawValue         `json:"meta_data"`
	// Tyk's unused GraphQL placeholder map, never set by its gateway: always
	// written as null, ignored when read. (Not a json tag: vet rejects those
	// on a blank field.)
	_         struct{}   `model:"null=graphql_access_rights"`
	Smoothing *Smoothing `json:"smoothing"`
}

// PolicyPartitions selects which aspects a policy governs.
type PolicyPartitions struct {
	Quota      bool `json:"quota"`
	RateLimit  bool `json:"rate_limit"`
	Complexity bool `json:"complexity"`
	Acl        bool `json:"acl"`
	PerAPI     bool `json:"per_api"`
}

// IsPartitioned reports whether any of quota, rate_limit, acl, complexity is set.
func (p PolicyPartitions) IsPartitioned() bool {
	return p.Quota || p.RateLimit || p.Acl || p.Complexity
}

// APIDefinition is the subset of a Tyk API definition that Turnpike uses.
type APIDefinition struct {
	APIID            string `json:"api_id"`
	Name             string `json:"name"`
	OrgID            string `json:"org_id"`
	Active           bool   `json:"active"`
	UseKeylessAccess bool   `json:"use_keyless"`
	// Tyk's authentication switches (see AuthMethods). Turnpike keeps them so
	// that a stored definition is returned as it was given and the filter
	// can refuse a method it does not enforce.
	UseStandardAuth                bool   `json:"use_standard_auth"` // auth token (Auth)
	UseBasicAuth                   bool   `json:"use_basic_auth"`
	EnableSignatureChecking        bool   `json:"enable_signature_checking"` // HMAC request signing
	EnableJWT                      bool   `json:"enable_jwt"`
	UseOauth2                      bool   `json:"use_oauth2"`
	UseOpenID                      bool   `json:"use_openid"`
	UseMutualTLSAuth               bool   `json:"use_mutual_tls_auth"`
	UseGoPluginAuth                bool   `json:"use_go_plugin_auth"`
	EnableCoProcessAuth            bool   `json:"enable_coprocess_auth"` // rich (gRPC, Python, JS) plugin auth
	CustomPluginAuthEnabled        bool   `json:"custom_plugin_auth_enabled"`
	BaseIdentityProvidedBy         string `json:"base_identity_provided_by"` // with several methods: whose session counts
	CustomMiddlewareBundle         string `json:"custom_middleware_bundle"`  // plugin bundle file name
	CustomMiddlewareBundleDisabled bool   `json:"custom_middleware_bundle_disabled"`
	// Settings of basic auth and HMAC signing (issue 14).
	BasicAuth             BasicAuthMeta `json:"basic_auth"`
	HmacAllowedClockSkew  float64       `json:"hmac_allowed_clock_skew"` // milliseconds; <= 0: any date
	HmacAllowedAlgorithms []string      `json:"hmac_allowed_algorithms"` // empty: any
	// ClientCertificates are the certificates use_mutual_tls_auth allows:
	// Tyk certificate ids (org id + hex SHA-256) or bare hex SHA-256s.
	ClientCertificates []string `json:"client_certificates"`
	// JWT (enable_jwt; shared/jwt, Tyk §9.1).
	JWTSigningMethod           string            `json:"jwt_signing_method"` // hmac, rsa or ecdsa
	JWTSource                  string            `json:"jwt_source"`         // base64 secret or PEM, or a JWKS URL; "" = one-to-one
	JWTIdentityBaseField       string            `json:"jwt_identity_base_field"`
	JWTClientIDBaseField       string            `json:"jwt_client_base_field"`
	JWTPolicyFieldName         string            `json:"jwt_policy_field_name"`
	JWTDefaultPolicies         []string          `json:"jwt_default_policies"`
	JWTScopeToPolicyMapping    map[string]string `json:"jwt_scope_to_policy_mapping"`
	JWTScopeClaimName          string            `json:"jwt_scope_claim_name"`
	JWTSkipKid                 bool              `json:"jwt_skip_kid"`
	JWTIssuedAtValidationSkew  int64             `json:"jwt_issued_at_validation_skew"`
	JWTExpiresAtValidationSkew int64             `json:"jwt_expires_at_validation_skew"`
	JWTNotBeforeValidationSkew int64             `json:"jwt_not_before_validation_skew"`
	// OpenIDOptions configures use_openid (shared/oidc); nil when absent,
	// and then not written (the classic form of definitions without it is
	// unchanged).
	OpenIDOptions *OpenIDOptions `json:"openid_options" model:"custom"`
	// Scopes is Tyk's newer home of scope-to-policy mapping (scopes.jwt,
	// scopes.oidc); nil when absent, and then not written.
	Scopes *Scopes `json:"scopes" model:"custom"`

	Domain string     `json:"domain"` // host to match; "" matches any host
	Proxy  Proxy      `json:"proxy"`
	Auth   AuthConfig `json:"auth" model:"custom"` // auth_configs.authToken, falling back to auth
	// AuthConfigs are the other entries of auth_configs (basic, hmac, jwt,
	// oauth, oidc, coprocess, ...), each with the members AuthConfig knows;
	// nil when there are none. The authToken entry is Auth, and is written
	// from it.
	AuthConfigs          map[string]AuthConfig `json:"auth_configs" model:"custom"`
	StripAuthData        bool                  `json:"strip_auth_data"`
	VersionData          VersionData           `json:"version_data"`
	VersionDefinition    VersionDefinition     `json:"definition" model:"custom"`
	SessionLifetime      int64                 `json:"session_lifetime"`
	DontSetQuotaOnCreate bool                  `json:"dont_set_quota_on_create"`
	DisableRateLimit     bool                  `json:"disable_rate_limit"`
	DisableQuota         bool                  `json:"disable_quota"`
	GlobalRateLimit      GlobalRateLimit       `json:"global_rate_limit"`
	// Oauth2Meta configures the OAuth 2.0 server of a use_oauth2 API.
	Oauth2Meta Oauth2Meta `json:"oauth_meta"`
	// Response cache, response processors and batch requests (issue 16):
	// filter/README.md says how the filter applies them.
	CacheOptions              CacheOptions        `json:"cache_options"`
	ResponseProcessors        []ResponseProcessor `json:"response_processors"`
	EnableBatchRequestSupport bool                `json:"enable_batch_request_support"`
	// EnableContextVars gives body transforms _tyk_context (refused by
	// the Gateway API together with a body transform).
	EnableContextVars bool `json:"enable_context_vars"`
}

// OpenIDOptions is an API's openid_options: the OpenID Connect providers
// it trusts, and whether sessions are kept per client (Tyk's
// segregate_by_client).
type OpenIDOptions struct {
	Providers         []OIDProvider `json:"providers"`
	SegregateByClient bool          `json:"segregate_by_client"`
}

// OIDProvider is one trusted issuer: its client ids, base64-encoded as Tyk
// stores them, each with the policy its tokens' sessions get.
type OIDProvider struct {
	Issuer    string            `json:"issuer"`
	ClientIDs map[string]string `json:"client_ids"`
}

// Scopes is an API's scopes: scope-to-policy mapping for JWT and for
// OpenID Connect.
type Scopes struct {
	JWT  ScopeClaim `json:"jwt"`
	OIDC ScopeClaim `json:"oidc"`
}

// ScopeClaim names the scope claim and maps scopes to policy ids.
type ScopeClaim struct {
	ScopeClaimName string            `json:"scope_claim_name"`
	ScopeToPolicy  map[string]string `json:"scope_to_policy"`
}

// CacheOptions configures the response cache of an API (Tyk's
// cache_options).
type CacheOptions struct {
	CacheTimeout         int64 `json:"cache_timeout"` // seconds; <= 0 means 60
	EnableCache          bool  `json:"enable_cache"`
	CacheAllSafeRequests bool  `json:"cache_all_safe_requests"`
	// CacheOnlyResponseCodes are HTTP status codes (JSON integers; the
	// codec reads numbers as float64); empty caches every status, as Tyk.
	CacheOnlyResponseCodes     []float64 `json:"cache_response_codes"`
	EnableUpstreamCacheControl bool      `json:"enable_upstream_cache_control"`
	CacheControlTTLHeader      string    `json:"cache_control_ttl_header"` // default x-tyk-cache-action-set-ttl
	CacheByHeaders             []string  `json:"cache_by_headers"`
}

// ResponseProcessor is one entry of response_processors. Options holds
// what header_injector reads; other processors' options are ignored.
type ResponseProcessor struct {
	Name    string                `json:"name"`
	Options HeaderInjectorOptions `json:"options"`
}

// HeaderInjectorOptions are the options of the header_injector processor.
type HeaderInjectorOptions struct {
	AddHeaders    map[string]string `json:"add_headers"`
	RemoveHeaders []string          `json:"remove_headers"`
}

// Oauth2Meta is Tyk's oauth_meta: the grants an OAuth 2.0 API accepts at
// <listen_path>/oauth/token, the response types at /oauth/authorize, and
// where /oauth/authorize sends the user to log in.
type Oauth2Meta struct {
	AllowedAccessTypes     []string `json:"allowed_access_types"`    // client_credentials, authorization_code, refresh_token, ...
	AllowedAuthorizeTypes  []string `json:"allowed_authorize_types"` // code, token
	AuthorizeLoginRedirect string   `json:"auth_login_redirect"`
}

// AuthMethods lists the authentication Tyk applies to the API as the JSON
// names of the switches that enable it, in the order of Tyk's middleware
// chain: use_mutual_tls_auth, use_oauth2, use_basic_auth,
// enable_signature_checking, enable_jwt, use_openid, enable_coprocess_auth,
// use_go_plugin_auth, custom_plugin_auth_enabled, use_standard_auth, then
// custom_middleware_bundle when a bundle is set and not disabled (it may
// carry an auth check, and its plugins run in any case).
//
// A keyless API runs no authentication whatever its other switches say: the
// list is just use_keyless. An empty list means auth-token authentication
// only, which is what Tyk does when no switch is set.
// base_identity_provided_by chooses among the methods and is not one.
func (a *APIDefinition) AuthMethods() []string {
	if a.UseKeylessAccess {
		return []string{"use_keyless"}
	}
	var methods []string
	for _, s := range []struct {
		on   bool
		name string
	}{
		{a.UseMutualTLSAuth, "use_mutual_tls_auth"},
		{a.UseOauth2, "use_oauth2"},
		{a.UseBasicAuth, "use_basic_auth"},
		{a.EnableSignatureChecking, "enable_signature_checking"},
		{a.EnableJWT, "enable_jwt"},
		{a.UseOpenID, "use_openid"},
		{a.EnableCoProcessAuth, "enable_coprocess_auth"},
		{a.UseGoPluginAuth, "use_go_plugin_auth"},
		{a.CustomPluginAuthEnabled, "custom_plugin_auth_enabled"},
		{a.UseStandardAuth, "use_standard_auth"},
		{a.CustomMiddlewareBundle != "" && !a.CustomMiddlewareBundleDisabled, "custom_middleware_bundle"},
	} {
		if s.on {
			methods = append(methods, s.name)
		}
	}
	return methods
}

// BasicAuthMeta is an API's basic_auth: how verified passwords are cached
// and whether credentials may come from the body.
type BasicAuthMeta struct {
	DisableCaching     bool   `json:"disable_caching"`
	CacheTTL           int    `json:"cache_ttl"` // seconds; <= 0: Tyk's 60
	ExtractFromBody    bool   `json:"extract_from_body"`
	BodyUserRegexp     string `json:"body_user_regexp"`
	BodyPasswordRegexp string `json:"body_password_regexp"`
}

// Proxy is the routing part of an API definition.
type Proxy struct {
	ListenPath      string `json:"listen_path"`
	TargetURL       string `json:"target_url"`
	StripListenPath bool   `json:"strip_listen_path"`
}

// AuthConfig says where a request carries its key.
type AuthConfig struct {
	AuthHeaderName string `json:"auth_header_name"` // default "Authorization"
	UseParam       bool   `json:"use_param"`
	ParamName      string `json:"param_name"` // default: the header name
	UseCookie      bool   `json:"use_cookie"`
	CookieName     string `json:"cookie_name"` // default: the header name
	DisableHeader  bool   `json:"disable_header"`
	UseCertificate bool   `json:"use_certificate"` // the key is the client certificate (authToken only)
}

// VersionData lists an API's versions.
type VersionData struct {
	NotVersioned      bool                   `json:"not_versioned"`
	DefaultVersion    string                 `json:"default_version"`
	FallbackToDefault bool                   `json:"fallback_to_default"`
	Versions          map[string]VersionInfo `json:"versions"`
}

// VersionInfo is one API version.
type VersionInfo struct {
	Name    string `json:"name"`
	Expires string `json:"expires"`
	// Header transforms and cache paths of the version (issue 16).
	UseExtendedPaths              bool              `json:"use_extended_paths"`
	ExtendedPaths                 ExtendedPaths     `json:"extended_paths"`
	GlobalHeaders                 map[string]string `json:"global_headers"`
	GlobalHeadersRemove           []string          `json:"global_headers_remove"`
	GlobalHeadersDisabled         bool              `json:"global_headers_disabled"`
	GlobalResponseHeaders         map[string]string `json:"global_response_headers"`
	GlobalResponseHeadersRemove   []string          `json:"global_response_headers_remove"`
	GlobalResponseHeadersDisabled bool              `json:"global_response_headers_disabled"`
}

// ExtendedPaths is the part of a version's extended_paths the filter
// applies (used only with use_extended_paths, as in Tyk); the other
// members are refused by the Gateway API or ignored (refuse.go).
type ExtendedPaths struct {
	Cached                  []string              `json:"cache,omitempty"`
	AdvanceCacheConfig      []CacheMeta           `json:"advance_cache_config,omitempty"`
	TransformHeader         []HeaderInjectionMeta `json:"transform_headers,omitempty"`
	TransformResponseHeader []HeaderInjectionMeta `json:"transform_response_headers,omitempty"`
	Transform               []TemplateMeta        `json:"transform,omitempty"`
	TransformResponse       []TemplateMeta        `json:"transform_response,omitempty"`
}

// TemplateMeta is a per-path body transform (transform,
// transform_response): a Go template run on the body.
type TemplateMeta struct {
	Disabled     bool         `json:"disabled"`
	TemplateData TemplateData `json:"template_data"`
	Path         string       `json:"path"`
	Method       string       `json:"method"`
}

// TemplateData is a body transform's template and its input.
type TemplateData struct {
	Input          string `json:"input_type"`    // "json" or "xml"
	Mode           string `json:"template_mode"` // "blob" (base64 source) or "file"
	EnableSession  bool   `json:"enable_session"`
	TemplateSource string `json:"template_source"`
}

// CacheMeta is a per-path cache entry (advance_cache_config).
type CacheMeta struct {
	Disabled               bool      `json:"disabled"`
	Method                 string    `json:"method"`
	Path                   string    `json:"path"`
	CacheKeyRegex          string    `json:"cache_key_regex"`
	CacheOnlyResponseCodes []float64 `json:"cache_response_codes"`
	Timeout                int64     `json:"timeout"`
}

// HeaderInjectionMeta is a per-path header transform (transform_headers,
// transform_response_headers).
type HeaderInjectionMeta struct {
	Disabled      bool              `json:"disabled"`
	DeleteHeaders []string          `json:"delete_headers"`
	AddHeaders    map[string]string `json:"add_headers"`
	Path          string            `json:"path"`
	Method        string            `json:"method"`
	ActOnResponse bool              `json:"act_on"`
}

// VersionDefinition says where a request carries its API version.
type VersionDefinition struct {
	Location  string `json:"location"` // "header", "url-param" or "url"
	Key       string `json:"key"`
	StripPath bool   `json:"strip_path"`
}

// GlobalRateLimit is an API-wide rate limit.
type GlobalRateLimit struct {
	Disabled bool    `json:"disabled"`
	Rate     float64 `json:"rate"`
	Per      float64 `json:"per"`
}
