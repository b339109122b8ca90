// Package model holds Tyk's access-control data model (sessions, policies,
// access definitions, API definitions) with Tyk's JSON field names, and a
// reflection-free JSON codec that runs inside the proxy-wasm VM.
//
// Field meanings follow Tyk 5.8 (user/session.go and user/policy.go in
// github.com/TykTechnologies/tyk); ../policy/README.md summarises them.
package model

// RawValue is one JSON value kept as its compact JSON text. It is how
// free-form meta_data values travel through the model without reflection.
type RawValue []byte

// Session is a key's state: Tyk's SessionState, stored at apikey-<hash>.
type Session struct {
	LastCheck                     int64
	Allowance                     float64
	Rate                          float64 // requests per Per seconds; <= 0 means unlimited
	Per                           float64 // window in seconds
	ThrottleInterval              float64
	ThrottleRetryLimit            int
	MaxQueryDepth                 int
	DateCreated                   string // RFC 3339; "" encodes as 0001-01-01T00:00:00Z
	Expires                       int64  // unix seconds; < 1 means never
	QuotaMax                      int64  // <= 0 means not enforced
	QuotaRenews                   int64  // unix seconds
	QuotaRemaining                int64
	QuotaRenewalRate              int64 // seconds; <= 0 means never renews
	AccessRights                  map[string]AccessDefinition
	OrgID                         string
	OauthClientID                 string
	OauthKeys                     map[string]string
	Certificate                   string
	BasicAuthData                 BasicAuthData
	JWTData                       JWTData
	HMACEnabled                   bool
	EnableHTTPSignatureValidation bool
	HmacSecret                    string // JSON "hmac_string"
	RSACertificateID              string
	IsInactive                    bool
	ApplyPolicyID                 string // deprecated; used only when ApplyPolicies is empty
	ApplyPolicies                 []string
	DataExpires                   int64
	Monitor                       Monitor
	EnableDetailRecording         bool
	EnableDetailedRecording       bool
	MetaData                      map[string]RawValue
	Tags                          []string
	Alias                         string
	LastUpdated                   string // unix seconds as a decimal string
	IDExtractorDeadline           int64
	SessionLifetime               int64
	Smoothing                     *Smoothing
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
	Password string
	HashType string
}

// JWTData is the per-key JWT secret.
type JWTData struct {
	Secret string
}

// Monitor holds quota-usage trigger thresholds.
type Monitor struct {
	TriggerLimits []float64
}

// Smoothing is Tyk 5.4+ rate-limit smoothing configuration.
type Smoothing struct {
	Enabled   bool
	Threshold int64
	Trigger   float64
	Step      int64
	Delay     int64
}

// AccessDefinition is one entry of access_rights, keyed by API id.
type AccessDefinition struct {
	APIName              string
	APIID                string
	Versions             []string
	AllowedURLs          []AccessSpec
	RestrictedTypes      []GraphQLType
	AllowedTypes         []GraphQLType
	Limit                APILimit
	FieldAccessRights    []FieldAccessDefinition
	DisableIntrospection bool
	AllowanceScope       string // counter namespace for rate and quota
	Endpoints            []Endpoint
}

// AccessSpec is one allowed_urls entry: a path regex and the methods it allows.
type AccessSpec struct {
	URL     string
	Methods []string
}

// GraphQLType is a GraphQL type name and its fields (restricted/allowed types).
type GraphQLType struct {
	Name   string
	Fields []string
}

// FieldAccessDefinition is a GraphQL field-level depth limit.
type FieldAccessDefinition struct {
	TypeName  string
	FieldName string
	Limits    FieldLimits
}

// FieldLimits holds the limits of a GraphQL field.
type FieldLimits struct {
	MaxQueryDepth int
}

// Endpoint is a per-endpoint rate limit (Tyk 5.6+).
type Endpoint struct {
	Path    string
	Methods []EndpointMethod
}

// EndpointMethod is the rate limit of one method of an Endpoint.
type EndpointMethod struct {
	Name  string
	Limit RateLimit
}

// RateLimit is a bare rate: Rate requests per Per seconds.
type RateLimit struct {
	Rate float64
	Per  float64
}

// APILimit is a per-API limit. An empty limit (IsEmpty) means "use the
// session's root values".
type APILimit struct {
	Rate               float64
	Per                float64
	Smoothing          *Smoothing
	ThrottleInterval   float64
	ThrottleRetryLimit int
	MaxQueryDepth      int
	QuotaMax           int64
	QuotaRenews        int64
	QuotaRemaining     int64
	QuotaRenewalRate   int64
	SetBy              string // policy id that set this limit; never serialized
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
	MID                           string // JSON "_id": 24 hex digits or empty
	ID                            string
	Name                          string
	OrgID                         string
	Rate                          float64
	Per                           float64
	QuotaMax                      int64
	QuotaRenewalRate              int64
	ThrottleInterval              float64
	ThrottleRetryLimit            int
	MaxQueryDepth                 int
	AccessRights                  map[string]AccessDefinition
	HMACEnabled                   bool
	EnableHTTPSignatureValidation bool
	Active                        bool
	IsInactive                    bool
	Tags                          []string
	KeyExpiresIn                  int64
	Partitions                    PolicyPartitions
	LastUpdated                   string
	MetaData                      map[string]RawValue
	Smoothing                     *Smoothing
}

// PolicyPartitions selects which aspects a policy governs.
type PolicyPartitions struct {
	Quota      bool
	RateLimit  bool // JSON "rate_limit"
	Complexity bool
	Acl        bool
	PerAPI     bool // JSON "per_api"
}

// IsPartitioned reports whether any of quota, rate_limit, acl, complexity is set.
func (p PolicyPartitions) IsPartitioned() bool {
	return p.Quota || p.RateLimit || p.Acl || p.Complexity
}

// APIDefinition is the subset of a Tyk API definition that Turnpike uses.
type APIDefinition struct {
	APIID                string
	Name                 string
	OrgID                string
	Active               bool
	UseKeylessAccess     bool
	Domain               string // JSON "domain": host to match; "" matches any host
	Proxy                Proxy
	Auth                 AuthConfig // from auth_configs.authToken, falling back to auth
	StripAuthData        bool
	VersionData          VersionData
	VersionDefinition    VersionDefinition // JSON "definition"
	SessionLifetime      int64
	DontSetQuotaOnCreate bool
	DisableRateLimit     bool
	DisableQuota         bool
	GlobalRateLimit      GlobalRateLimit
}

// Proxy is the routing part of an API definition.
type Proxy struct {
	ListenPath      string
	TargetURL       string
	StripListenPath bool
}

// AuthConfig says where a request carries its key.
type AuthConfig struct {
	AuthHeaderName string // default "Authorization"
	UseParam       bool
	ParamName      string // default: the header name
	UseCookie      bool
	CookieName     string // default: the header name
	DisableHeader  bool
}

// VersionData lists an API's versions.
type VersionData struct {
	NotVersioned      bool
	DefaultVersion    string
	FallbackToDefault bool
	Versions          map[string]VersionInfo
}

// VersionInfo is one API version.
type VersionInfo struct {
	Name    string
	Expires string
}

// VersionDefinition says where a request carries its API version.
type VersionDefinition struct {
	Location  string // "header", "url-param" or "url"
	Key       string
	StripPath bool
}

// GlobalRateLimit is an API-wide rate limit.
type GlobalRateLimit struct {
	Rate     float64
	Per      float64
	Disabled bool
}
