package model

// AppendJSON appends the session in Tyk's classic form (every field present),
// the form Tyk ≤5.11 stores in Redis and returns from the Gateway API.
func (s *Session) AppendJSON(dst []byte) []byte {
	return s.appendJSON(dst, classic)
}

// AppendCompactJSON appends the session in Tyk 5.12's compact (omitzero)
// form: zero fields and all-zero value structs are left out, so a typical
// key is a fifth of its classic size. DecodeSession of the result equals s
// for every s that DecodeSession produces.
func (s *Session) AppendCompactJSON(dst []byte) []byte {
	return s.appendJSON(dst, compact)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (s *Session) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(nil), nil
}

func (s *Session) appendJSON(dst []byte, f form) []byte {
	o := beginObject(dst, f)
	o.int("last_check", s.LastCheck)
	o.float("allowance", s.Allowance)
	o.float("rate", s.Rate)
	o.float("per", s.Per)
	o.float("throttle_interval", s.ThrottleInterval)
	o.int("throttle_retry_limit", int64(s.ThrottleRetryLimit))
	o.int("max_query_depth", int64(s.MaxQueryDepth))
	dateCreated := s.DateCreated
	if dateCreated == "" && f == classic {
		dateCreated = zeroTime // the compact form leaves an unset date out
	}
	o.str("date_created", dateCreated)
	o.int("expires", s.Expires)
	o.int("quota_max", s.QuotaMax)
	o.int("quota_renews", s.QuotaRenews)
	o.int("quota_remaining", s.QuotaRemaining)
	o.int("quota_renewal_rate", s.QuotaRenewalRate)
	objectMap(&o, "access_rights", s.AccessRights, accessDefinition)
	o.str("org_id", s.OrgID)
	o.str("oauth_client_id", s.OauthClientID)
	o.stringMap("oauth_keys", s.OauthKeys)
	o.str("certificate", s.Certificate)
	basic := o.open("basic_auth_data")
	basic.str("password", s.BasicAuthData.Password)
	basic.str("hash_type", s.BasicAuthData.HashType)
	o.close(basic)
	jwt := o.open("jwt_data")
	jwt.str("secret", s.JWTData.Secret)
	o.close(jwt)
	o.bool("hmac_enabled", s.HMACEnabled)
	o.bool("enable_http_signature_validation", s.EnableHTTPSignatureValidation)
	o.str("hmac_string", s.HmacSecret)
	o.str("rsa_certificate_id", s.RSACertificateID)
	o.bool("is_inactive", s.IsInactive)
	o.str("apply_policy_id", s.ApplyPolicyID)
	o.strings("apply_policies", s.ApplyPolicies)
	o.int("data_expires", s.DataExpires)
	monitor := o.open("monitor")
	monitor.floats("trigger_limits", s.Monitor.TriggerLimits)
	o.close(monitor)
	o.bool("enable_detail_recording", s.EnableDetailRecording)
	o.bool("enable_detailed_recording", s.EnableDetailedRecording)
	o.rawMap("meta_data", s.MetaData)
	o.strings("tags", s.Tags)
	o.str("alias", s.Alias)
	o.str("last_updated", s.LastUpdated)
	o.int("id_extractor_deadline", s.IDExtractorDeadline)
	o.int("session_lifetime", s.SessionLifetime)
	o.smoothing("smoothing", s.Smoothing)
	return o.end()
}

// smoothing writes member k. A non-nil smoothing is kept even when all its
// fields are zero: decoded, {} is a pointer and a missing member is nil.
func (o *object) smoothing(k string, s *Smoothing) {
	if s == nil {
		o.null(k)
		return
	}
	o.key(k)
	sm := o.inner(o.b)
	sm.bool("enabled", s.Enabled)
	sm.int("threshold", s.Threshold)
	sm.float("trigger", s.Trigger)
	sm.int("step", s.Step)
	sm.int("delay", s.Delay)
	o.b = sm.end()
}

// The struct writers below fill o, an empty object, with the members of
// one value and return it. They take and return o by value, not by pointer,
// because objects and objectMap call them through a func value: a pointer
// would make every element's object escape to the heap.

func accessDefinition(o object, a AccessDefinition) object {
	o.str("api_name", a.APIName)
	o.str("api_id", a.APIID)
	o.strings("versions", a.Versions)
	objects(&o, "allowed_urls", a.AllowedURLs, accessSpec)
	objects(&o, "restricted_types", a.RestrictedTypes, graphQLType)
	objects(&o, "allowed_types", a.AllowedTypes, graphQLType)
	o.close(apiLimit(o.open("limit"), &a.Limit))
	objects(&o, "field_access_rights", a.FieldAccessRights, fieldAccess)
	o.bool("disable_introspection", a.DisableIntrospection)
	o.str("allowance_scope", a.AllowanceScope)
	// Tyk tags endpoints omitempty in both forms, and the decoder reads []
	// as nil.
	if len(a.Endpoints) > 0 {
		objects(&o, "endpoints", a.Endpoints, endpoint)
	}
	return o
}

func accessSpec(o object, a AccessSpec) object {
	o.str("url", a.URL)
	o.strings("methods", a.Methods)
	return o
}

func graphQLType(o object, t GraphQLType) object {
	o.str("name", t.Name)
	o.strings("fields", t.Fields)
	return o
}

func fieldAccess(o object, f FieldAccessDefinition) object {
	o.str("type_name", f.TypeName)
	o.str("field_name", f.FieldName)
	limits := o.open("limits")
	limits.int("max_query_depth", int64(f.Limits.MaxQueryDepth))
	o.close(limits)
	return o
}

func endpoint(o object, e Endpoint) object {
	o.str("path", e.Path)
	objects(&o, "methods", e.Methods, endpointMethod)
	return o
}

func endpointMethod(o object, m EndpointMethod) object {
	o.str("name", m.Name)
	limit := o.open("limit")
	limit.float("rate", m.Limit.Rate)
	limit.float("per", m.Limit.Per)
	o.close(limit)
	return o
}

// apiLimit writes an access right's limit. SetBy is bookkeeping of the
// policy engine and never leaves the process.
func apiLimit(o object, l *APILimit) object {
	o.float("rate", l.Rate)
	o.float("per", l.Per)
	o.smoothing("smoothing", l.Smoothing)
	o.float("throttle_interval", l.ThrottleInterval)
	o.int("throttle_retry_limit", int64(l.ThrottleRetryLimit))
	o.int("max_query_depth", int64(l.MaxQueryDepth))
	o.int("quota_max", l.QuotaMax)
	o.int("quota_renews", l.QuotaRenews)
	o.int("quota_remaining", l.QuotaRemaining)
	o.int("quota_renewal_rate", l.QuotaRenewalRate)
	return o
}
