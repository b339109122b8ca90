package model

import (
	"encoding/json"
	"time"
)

// The structs below mirror Tyk ≤5.11's user.SessionState, user.Policy and the
// used part of apidef.APIDefinition with their json tags and field order.
// Passing the encoder's output through them with encoding/json must give the
// same bytes back: that is what "classic form" means.

type tykSmoothing struct {
	Enabled   bool    `json:"enabled"`
	Threshold int64   `json:"threshold"`
	Trigger   float64 `json:"trigger"`
	Step      int64   `json:"step"`
	Delay     int64   `json:"delay"`
}

type tykAPILimit struct {
	Rate               float64       `json:"rate"`
	Per                float64       `json:"per"`
	Smoothing          *tykSmoothing `json:"smoothing"`
	ThrottleInterval   float64       `json:"throttle_interval"`
	ThrottleRetryLimit int           `json:"throttle_retry_limit"`
	MaxQueryDepth      int           `json:"max_query_depth"`
	QuotaMax           int64         `json:"quota_max"`
	QuotaRenews        int64         `json:"quota_renews"`
	QuotaRemaining     int64         `json:"quota_remaining"`
	QuotaRenewalRate   int64         `json:"quota_renewal_rate"`
}

type tykGraphQLType struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

type tykAccessDefinition struct {
	APIName     string   `json:"api_name"`
	APIID       string   `json:"api_id"`
	Versions    []string `json:"versions"`
	AllowedURLs []struct {
		URL     string   `json:"url"`
		Methods []string `json:"methods"`
	} `json:"allowed_urls"`
	RestrictedTypes   []tykGraphQLType `json:"restricted_types"`
	AllowedTypes      []tykGraphQLType `json:"allowed_types"`
	Limit             tykAPILimit      `json:"limit"`
	FieldAccessRights []struct {
		TypeName  string `json:"type_name"`
		FieldName string `json:"field_name"`
		Limits    struct {
			MaxQueryDepth int `json:"max_query_depth"`
		} `json:"limits"`
	} `json:"field_access_rights"`
	DisableIntrospection bool   `json:"disable_introspection"`
	AllowanceScope       string `json:"allowance_scope"`
	Endpoints            []struct {
		Path    string `json:"path"`
		Methods []struct {
			Name  string `json:"name"`
			Limit struct {
				Rate float64 `json:"rate"`
				Per  float64 `json:"per"`
			} `json:"limit"`
		} `json:"methods"`
	} `json:"endpoints,omitempty"`
}

type tykSession struct {
	LastCheck          int64                          `json:"last_check"`
	Allowance          float64                        `json:"allowance"`
	Rate               float64                        `json:"rate"`
	Per                float64                        `json:"per"`
	ThrottleInterval   float64                        `json:"throttle_interval"`
	ThrottleRetryLimit int                            `json:"throttle_retry_limit"`
	MaxQueryDepth      int                            `json:"max_query_depth"`
	DateCreated        time.Time                      `json:"date_created"`
	Expires            int64                          `json:"expires"`
	QuotaMax           int64                          `json:"quota_max"`
	QuotaRenews        int64                          `json:"quota_renews"`
	QuotaRemaining     int64                          `json:"quota_remaining"`
	QuotaRenewalRate   int64                          `json:"quota_renewal_rate"`
	AccessRights       map[string]tykAccessDefinition `json:"access_rights"`
	OrgID              string                         `json:"org_id"`
	OauthClientID      string                         `json:"oauth_client_id"`
	OauthKeys          map[string]string              `json:"oauth_keys"`
	Certificate        string                         `json:"certificate"`
	BasicAuthData      struct {
		Password string `json:"password"`
		Hash     string `json:"hash_type"`
	} `json:"basic_auth_data"`
	JWTData struct {
		Secret string `json:"secret"`
	} `json:"jwt_data"`
	HMACEnabled                   bool     `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool     `json:"enable_http_signature_validation"`
	HmacSecret                    string   `json:"hmac_string"`
	RSACertificateId              string   `json:"rsa_certificate_id"`
	IsInactive                    bool     `json:"is_inactive"`
	ApplyPolicyID                 string   `json:"apply_policy_id"`
	ApplyPolicies                 []string `json:"apply_policies"`
	DataExpires                   int64    `json:"data_expires"`
	Monitor                       struct {
		TriggerLimits []float64 `json:"trigger_limits"`
	} `json:"monitor"`
	EnableDetailRecording   bool                       `json:"enable_detail_recording"`
	EnableDetailedRecording bool                       `json:"enable_detailed_recording"`
	MetaData                map[string]json.RawMessage `json:"meta_data"`
	Tags                    []string                   `json:"tags"`
	Alias                   string                     `json:"alias"`
	LastUpdated             string                     `json:"last_updated"`
	IdExtractorDeadline     int64                      `json:"id_extractor_deadline"`
	SessionLifetime         int64                      `json:"session_lifetime"`
	Smoothing               *tykSmoothing              `json:"smoothing"`
}

type tykPolicy struct {
	MID                           string                         `json:"_id"`
	ID                            string                         `json:"id"`
	Name                          string                         `json:"name"`
	OrgID                         string                         `json:"org_id"`
	Rate                          float64                        `json:"rate"`
	Per                           float64                        `json:"per"`
	QuotaMax                      int64                          `json:"quota_max"`
	QuotaRenewalRate              int64                          `json:"quota_renewal_rate"`
	ThrottleInterval              float64                        `json:"throttle_interval"`
	ThrottleRetryLimit            int                            `json:"throttle_retry_limit"`
	MaxQueryDepth                 int                            `json:"max_query_depth"`
	AccessRights                  map[string]tykAccessDefinition `json:"access_rights"`
	HMACEnabled                   bool                           `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool                           `json:"enable_http_signature_validation"`
	Active                        bool                           `json:"active"`
	IsInactive                    bool                           `json:"is_inactive"`
	Tags                          []string                       `json:"tags"`
	KeyExpiresIn                  int64                          `json:"key_expires_in"`
	Partitions                    struct {
		Quota      bool `json:"quota"`
		RateLimit  bool `json:"rate_limit"`
		Complexity bool `json:"complexity"`
		Acl        bool `json:"acl"`
		PerAPI     bool `json:"per_api"`
	} `json:"partitions"`
	LastUpdated string                     `json:"last_updated"`
	MetaData    map[string]json.RawMessage `json:"meta_data"`
	GraphQL     map[string]struct{}        `json:"graphql_access_rights"`
	Smoothing   *tykSmoothing              `json:"smoothing"`
}

type tykAuthConfig struct {
	AuthHeaderName string `json:"auth_header_name"`
	UseParam       bool   `json:"use_param"`
	ParamName      string `json:"param_name"`
	UseCookie      bool   `json:"use_cookie"`
	CookieName     string `json:"cookie_name"`
	DisableHeader  bool   `json:"disable_header"`
	UseCertificate bool   `json:"use_certificate"`
}

// tykAPIDefinition keeps Turnpike's field order; Tyk's own order differs, but
// only the field set and value formatting matter to readers of an API
// definition.
type tykAPIDefinition struct {
	APIID                          string `json:"api_id"`
	Name                           string `json:"name"`
	OrgID                          string `json:"org_id"`
	Active                         bool   `json:"active"`
	UseKeylessAccess               bool   `json:"use_keyless"`
	UseStandardAuth                bool   `json:"use_standard_auth"`
	UseBasicAuth                   bool   `json:"use_basic_auth"`
	EnableSignatureChecking        bool   `json:"enable_signature_checking"`
	EnableJWT                      bool   `json:"enable_jwt"`
	UseOauth2                      bool   `json:"use_oauth2"`
	UseOpenID                      bool   `json:"use_openid"`
	UseMutualTLSAuth               bool   `json:"use_mutual_tls_auth"`
	UseGoPluginAuth                bool   `json:"use_go_plugin_auth"`
	EnableCoProcessAuth            bool   `json:"enable_coprocess_auth"`
	CustomPluginAuthEnabled        bool   `json:"custom_plugin_auth_enabled"`
	BaseIdentityProvidedBy         string `json:"base_identity_provided_by"`
	CustomMiddlewareBundle         string `json:"custom_middleware_bundle"`
	CustomMiddlewareBundleDisabled bool   `json:"custom_middleware_bundle_disabled"`
	BasicAuth                      struct {
		DisableCaching     bool   `json:"disable_caching"`
		CacheTTL           int    `json:"cache_ttl"`
		ExtractFromBody    bool   `json:"extract_from_body"`
		BodyUserRegexp     string `json:"body_user_regexp"`
		BodyPasswordRegexp string `json:"body_password_regexp"`
	} `json:"basic_auth"`
	HmacAllowedClockSkew       float64           `json:"hmac_allowed_clock_skew"`
	HmacAllowedAlgorithms      []string          `json:"hmac_allowed_algorithms"`
	ClientCertificates         []string          `json:"client_certificates"`
	JWTSigningMethod           string            `json:"jwt_signing_method"`
	JWTSource                  string            `json:"jwt_source"`
	JWTIdentityBaseField       string            `json:"jwt_identity_base_field"`
	JWTClientIDBaseField       string            `json:"jwt_client_base_field"`
	JWTPolicyFieldName         string            `json:"jwt_policy_field_name"`
	JWTDefaultPolicies         []string          `json:"jwt_default_policies"`
	JWTScopeToPolicyMapping    map[string]string `json:"jwt_scope_to_policy_mapping"`
	JWTScopeClaimName          string            `json:"jwt_scope_claim_name"`
	JWTSkipKid                 bool              `json:"jwt_skip_kid"`
	JWTIssuedAtValidationSkew  uint64            `json:"jwt_issued_at_validation_skew"`
	JWTExpiresAtValidationSkew uint64            `json:"jwt_expires_at_validation_skew"`
	JWTNotBeforeValidationSkew uint64            `json:"jwt_not_before_validation_skew"`
	OpenIDOptions              *tykOpenIDOptions `json:"openid_options,omitempty"` // Tyk always writes it; Turnpike only when set
	Scopes                     *tykScopes        `json:"scopes,omitempty"`         // likewise
	Domain                     string            `json:"domain"`
	Proxy                      struct {
		ListenPath      string `json:"listen_path"`
		TargetURL       string `json:"target_url"`
		StripListenPath bool   `json:"strip_listen_path"`
	} `json:"proxy"`
	Auth          tykAuthConfig            `json:"auth"`
	AuthConfigs   map[string]tykAuthConfig `json:"auth_configs"`
	StripAuthData bool                     `json:"strip_auth_data"`
	VersionData   struct {
		NotVersioned      bool   `json:"not_versioned"`
		DefaultVersion    string `json:"default_version"`
		FallbackToDefault bool   `json:"fallback_to_default"`
		Versions          map[string]struct {
			Name             string `json:"name"`
			Expires          string `json:"expires"`
			UseExtendedPaths bool   `json:"use_extended_paths"`
			ExtendedPaths    struct {
				Cached                  []string                 `json:"cache,omitempty"`
				AdvanceCacheConfig      []tykCacheMeta           `json:"advance_cache_config,omitempty"`
				TransformHeader         []tykHeaderInjectionMeta `json:"transform_headers,omitempty"`
				TransformResponseHeader []tykHeaderInjectionMeta `json:"transform_response_headers,omitempty"`
				Transform               []tykTemplateMeta        `json:"transform,omitempty"`
				TransformResponse       []tykTemplateMeta        `json:"transform_response,omitempty"`
			} `json:"extended_paths"`
			GlobalHeaders                 map[string]string `json:"global_headers"`
			GlobalHeadersRemove           []string          `json:"global_headers_remove"`
			GlobalHeadersDisabled         bool              `json:"global_headers_disabled"`
			GlobalResponseHeaders         map[string]string `json:"global_response_headers"`
			GlobalResponseHeadersRemove   []string          `json:"global_response_headers_remove"`
			GlobalResponseHeadersDisabled bool              `json:"global_response_headers_disabled"`
		} `json:"versions"`
	} `json:"version_data"`
	VersionDefinition struct {
		Location          string `json:"location"`
		Key               string `json:"key"`
		StripPath         bool   `json:"strip_path"`
		FallbackToDefault bool   `json:"fallback_to_default"`
	} `json:"definition"`
	SessionLifetime      int64 `json:"session_lifetime"`
	DontSetQuotaOnCreate bool  `json:"dont_set_quota_on_create"`
	DisableRateLimit     bool  `json:"disable_rate_limit"`
	DisableQuota         bool  `json:"disable_quota"`
	GlobalRateLimit      struct {
		Disabled bool    `json:"disabled"`
		Rate     float64 `json:"rate"`
		Per      float64 `json:"per"`
	} `json:"global_rate_limit"`
	Oauth2Meta struct {
		AllowedAccessTypes     []string `json:"allowed_access_types"`
		AllowedAuthorizeTypes  []string `json:"allowed_authorize_types"`
		AuthorizeLoginRedirect string   `json:"auth_login_redirect"`
	} `json:"oauth_meta"`
	CacheOptions struct {
		CacheTimeout               int64    `json:"cache_timeout"`
		EnableCache                bool     `json:"enable_cache"`
		CacheAllSafeRequests       bool     `json:"cache_all_safe_requests"`
		CacheOnlyResponseCodes     []int    `json:"cache_response_codes"`
		EnableUpstreamCacheControl bool     `json:"enable_upstream_cache_control"`
		CacheControlTTLHeader      string   `json:"cache_control_ttl_header"`
		CacheByHeaders             []string `json:"cache_by_headers"`
	} `json:"cache_options"`
	ResponseProcessors []struct {
		Name    string `json:"name"`
		Options struct {
			AddHeaders    map[string]string `json:"add_headers"`
			RemoveHeaders []string          `json:"remove_headers"`
		} `json:"options"`
	} `json:"response_processors"`
	EnableBatchRequestSupport bool `json:"enable_batch_request_support"`
	EnableContextVars         bool `json:"enable_context_vars"`
}

type tykTemplateMeta struct {
	Disabled     bool `json:"disabled"`
	TemplateData struct {
		Input          string `json:"input_type"`
		Mode           string `json:"template_mode"`
		EnableSession  bool   `json:"enable_session"`
		TemplateSource string `json:"template_source"`
	} `json:"template_data"`
	Path   string `json:"path"`
	Method string `json:"method"`
}

type tykCacheMeta struct {
	Disabled               bool   `json:"disabled"`
	Method                 string `json:"method"`
	Path                   string `json:"path"`
	CacheKeyRegex          string `json:"cache_key_regex"`
	CacheOnlyResponseCodes []int  `json:"cache_response_codes"`
	Timeout                int64  `json:"timeout"`
}

type tykHeaderInjectionMeta struct {
	Disabled      bool              `json:"disabled"`
	DeleteHeaders []string          `json:"delete_headers"`
	AddHeaders    map[string]string `json:"add_headers"`
	Path          string            `json:"path"`
	Method        string            `json:"method"`
	ActOnResponse bool              `json:"act_on"`
}

type tykOpenIDOptions struct {
	Providers []struct {
		Issuer    string            `json:"issuer"`
		ClientIDs map[string]string `json:"client_ids"`
	} `json:"providers"`
	SegregateByClient bool `json:"segregate_by_client"`
}

type tykScopeClaim struct {
	ScopeClaimName string            `json:"scope_claim_name,omitempty"`
	ScopeToPolicy  map[string]string `json:"scope_to_policy,omitempty"`
}

type tykScopes struct {
	JWT  tykScopeClaim `json:"jwt,omitempty"`
	OIDC tykScopeClaim `json:"oidc,omitempty"`
}
