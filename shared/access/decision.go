package access

// Tyk's error messages, spelled exactly as Tyk 5.8 sends them in
// {"error": "<message>"} bodies. The filter and the sidecar use these
// constants so there is one spelling.
const (
	MsgAuthFieldMissing    = "Authorization field missing"
	MsgKeyNotFound         = "Access to this API has been disallowed" // unknown key; same text as MsgAPIDisallowed
	MsgAPIDisallowed       = "Access to this API has been disallowed"
	MsgKeyInactive         = "Key is inactive, please renew"
	MsgKeyExpired          = "Key has expired, please renew"
	MsgResourceDisallowed  = "Access to this resource has been disallowed"
	MsgSessionMissing      = "Session state is missing or unset! Please make sure that auth headers are properly applied"
	MsgVersionNotFound     = "Version information not found"
	MsgVersionDoesNotExist = "This API version does not seem to exist"
	MsgVersionExpired      = "Api Version has expired, please check documentation or contact administrator"
	MsgRateLimited         = "Rate Limit Exceeded"     // 429; Tyk <= 5.3 spelled it "Rate limit exceeded"
	MsgAPIRateLimited      = "API Rate Limit Exceeded" // 429, API-wide global_rate_limit
	MsgQuotaExceeded       = "Quota exceeded"          // 403
	MsgOrgInactive         = "this organisation access has been disabled, please contact your API administrator"
	MsgOrgQuotaExceeded    = "This organisation quota has been exceeded, please contact your API administrator"
	MsgOrgRateLimited      = "This organisation rate limit has been exceeded, please contact your API administrator"
)

// HTTP statuses used by the checks. Declared here rather than imported from
// net/http, which would pull the whole HTTP stack into the wasm filter.
const (
	StatusBadRequest      = 400
	StatusUnauthorized    = 401
	StatusForbidden       = 403
	StatusNotFound        = 404
	StatusTooManyRequests = 429
)

// Reason says why a request was decided the way it was; its String form is
// stable and suitable as a metrics label.
type Reason uint8

// The zero Reason is deliberately not Allowed, so a Decision that was never
// filled in denies.
const (
	ReasonUnset               Reason = iota
	Allowed                          // the request may proceed
	ReasonSessionMissing             // no session was given
	ReasonKeyInactive                // session or one of its policies is inactive
	ReasonKeyExpired                 // session expiry has passed
	ReasonAPIDisallowed              // API not in the key's access rights (or no API)
	ReasonVersionDisallowed          // API version not in the key's access rights
	ReasonResourceDisallowed         // no allowed_urls entry matches
	ReasonVersionNotFound            // versioned API, request names no version and there is no default
	ReasonVersionDoesNotExist        // versioned API, unknown version and no fallback
	ReasonVersionExpired             // the API version's expiry has passed
	ReasonOrgInactive                // the organisation session is inactive
)

var reasonNames = [...]string{
	ReasonUnset:               "unset",
	Allowed:                   "allowed",
	ReasonSessionMissing:      "session_missing",
	ReasonKeyInactive:         "key_inactive",
	ReasonKeyExpired:          "key_expired",
	ReasonAPIDisallowed:       "api_disallowed",
	ReasonVersionDisallowed:   "version_disallowed",
	ReasonResourceDisallowed:  "resource_disallowed",
	ReasonVersionNotFound:     "version_not_found",
	ReasonVersionDoesNotExist: "version_does_not_exist",
	ReasonVersionExpired:      "version_expired",
	ReasonOrgInactive:         "org_inactive",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is the outcome of an access check: Allowed, or the exact status
// and message Tyk would answer with.
type Decision struct {
	Reason  Reason
	Status  int    // HTTP status of the error response; 0 when allowed
	Message string // Tyk's error message; "" when allowed
}

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d.Reason == Allowed }

var (
	allow               = Decision{Reason: Allowed}
	denySessionMissing  = Decision{ReasonSessionMissing, StatusBadRequest, MsgSessionMissing}
	denyKeyInactive     = Decision{ReasonKeyInactive, StatusForbidden, MsgKeyInactive}
	denyKeyExpired      = Decision{ReasonKeyExpired, StatusUnauthorized, MsgKeyExpired}
	denyAPI             = Decision{ReasonAPIDisallowed, StatusForbidden, MsgAPIDisallowed}
	denyVersion         = Decision{ReasonVersionDisallowed, StatusForbidden, MsgAPIDisallowed}
	denyResource        = Decision{ReasonResourceDisallowed, StatusForbidden, MsgResourceDisallowed}
	denyVersionNotFound = Decision{ReasonVersionNotFound, StatusForbidden, MsgVersionNotFound}
	denyVersionNotExist = Decision{ReasonVersionDoesNotExist, StatusForbidden, MsgVersionDoesNotExist}
	denyVersionExpired  = Decision{ReasonVersionExpired, StatusForbidden, MsgVersionExpired}
	denyOrgInactive     = Decision{ReasonOrgInactive, StatusForbidden, MsgOrgInactive}
)
