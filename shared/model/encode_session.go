package model

// AppendJSON appends the session in Tyk's classic form (every field present),
// the form Tyk ≤5.11 stores in Redis and returns from the Gateway API.
func (s *Session) AppendJSON(dst []byte) []byte {
	o := beginObject(dst)
	o.int("last_check", s.LastCheck)
	o.float("allowance", s.Allowance)
	o.float("rate", s.Rate)
	o.float("per", s.Per)
	o.float("throttle_interval", s.ThrottleInterval)
	o.int("throttle_retry_limit", int64(s.ThrottleRetryLimit))
	o.int("max_query_depth", int64(s.MaxQueryDepth))
	dateCreated := s.DateCreated
	if dateCreated == "" {
		dateCreated = zeroTime
	}
	o.str("date_created", dateCreated)
	o.int("expires", s.Expires)
	o.int("quota_max", s.QuotaMax)
	o.int("quota_renews", s.QuotaRenews)
	o.int("quota_remaining", s.QuotaRemaining)
	o.int("quota_renewal_rate", s.QuotaRenewalRate)
	o.key("access_rights")
	o.b = appendMap(o.b, s.AccessRights, appendAccessDefinition)
	o.str("org_id", s.OrgID)
	o.str("oauth_client_id", s.OauthClientID)
	o.key("oauth_keys")
	o.b = appendMap(o.b, s.OauthKeys, AppendString)
	o.str("certificate", s.Certificate)
	o.key("basic_auth_data")
	basic := beginObject(o.b)
	basic.str("password", s.BasicAuthData.Password)
	basic.str("hash_type", s.BasicAuthData.HashType)
	o.b = basic.end()
	o.key("jwt_data")
	jwt := beginObject(o.b)
	jwt.str("secret", s.JWTData.Secret)
	o.b = jwt.end()
	o.bool("hmac_enabled", s.HMACEnabled)
	o.bool("enable_http_signature_validation", s.EnableHTTPSignatureValidation)
	o.str("hmac_string", s.HmacSecret)
	o.str("rsa_certificate_id", s.RSACertificateID)
	o.bool("is_inactive", s.IsInactive)
	o.str("apply_policy_id", s.ApplyPolicyID)
	o.strings("apply_policies", s.ApplyPolicies)
	o.int("data_expires", s.DataExpires)
	o.key("monitor")
	monitor := beginObject(o.b)
	monitor.key("trigger_limits")
	monitor.b = appendSlice(monitor.b, s.Monitor.TriggerLimits, appendFloat)
	o.b = monitor.end()
	o.bool("enable_detail_recording", s.EnableDetailRecording)
	o.bool("enable_detailed_recording", s.EnableDetailedRecording)
	o.key("meta_data")
	o.b = appendMap(o.b, s.MetaData, appendRaw)
	o.strings("tags", s.Tags)
	o.str("alias", s.Alias)
	o.str("last_updated", s.LastUpdated)
	o.int("id_extractor_deadline", s.IDExtractorDeadline)
	o.int("session_lifetime", s.SessionLifetime)
	o.key("smoothing")
	o.b = appendSmoothing(o.b, s.Smoothing)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (s *Session) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(nil), nil
}

func appendSmoothing(dst []byte, s *Smoothing) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	o := beginObject(dst)
	o.bool("enabled", s.Enabled)
	o.int("threshold", s.Threshold)
	o.float("trigger", s.Trigger)
	o.int("step", s.Step)
	o.int("delay", s.Delay)
	return o.end()
}

func appendAccessDefinition(dst []byte, a AccessDefinition) []byte {
	o := beginObject(dst)
	o.str("api_name", a.APIName)
	o.str("api_id", a.APIID)
	o.strings("versions", a.Versions)
	o.key("allowed_urls")
	o.b = appendSlice(o.b, a.AllowedURLs, appendAccessSpec)
	o.key("restricted_types")
	o.b = appendSlice(o.b, a.RestrictedTypes, appendGraphQLType)
	o.key("allowed_types")
	o.b = appendSlice(o.b, a.AllowedTypes, appendGraphQLType)
	o.key("limit")
	o.b = appendAPILimit(o.b, &a.Limit)
	o.key("field_access_rights")
	o.b = appendSlice(o.b, a.FieldAccessRights, appendFieldAccess)
	o.bool("disable_introspection", a.DisableIntrospection)
	o.str("allowance_scope", a.AllowanceScope)
	if len(a.Endpoints) > 0 {
		o.key("endpoints")
		o.b = appendSlice(o.b, a.Endpoints, appendEndpoint)
	}
	return o.end()
}

func appendAccessSpec(dst []byte, a AccessSpec) []byte {
	o := beginObject(dst)
	o.str("url", a.URL)
	o.strings("methods", a.Methods)
	return o.end()
}

func appendGraphQLType(dst []byte, t GraphQLType) []byte {
	o := beginObject(dst)
	o.str("name", t.Name)
	o.strings("fields", t.Fields)
	return o.end()
}

func appendFieldAccess(dst []byte, f FieldAccessDefinition) []byte {
	o := beginObject(dst)
	o.str("type_name", f.TypeName)
	o.str("field_name", f.FieldName)
	o.key("limits")
	limits := beginObject(o.b)
	limits.int("max_query_depth", int64(f.Limits.MaxQueryDepth))
	o.b = limits.end()
	return o.end()
}

func appendEndpoint(dst []byte, e Endpoint) []byte {
	o := beginObject(dst)
	o.str("path", e.Path)
	o.key("methods")
	o.b = appendSlice(o.b, e.Methods, appendEndpointMethod)
	return o.end()
}

func appendEndpointMethod(dst []byte, m EndpointMethod) []byte {
	o := beginObject(dst)
	o.str("name", m.Name)
	o.key("limit")
	limit := beginObject(o.b)
	limit.float("rate", m.Limit.Rate)
	limit.float("per", m.Limit.Per)
	o.b = limit.end()
	return o.end()
}

// appendAPILimit writes an access right's limit. SetBy is bookkeeping of the
// policy engine and never leaves the process.
func appendAPILimit(dst []byte, l *APILimit) []byte {
	o := beginObject(dst)
	o.float("rate", l.Rate)
	o.float("per", l.Per)
	o.key("smoothing")
	o.b = appendSmoothing(o.b, l.Smoothing)
	o.float("throttle_interval", l.ThrottleInterval)
	o.int("throttle_retry_limit", int64(l.ThrottleRetryLimit))
	o.int("max_query_depth", int64(l.MaxQueryDepth))
	o.int("quota_max", l.QuotaMax)
	o.int("quota_renews", l.QuotaRenews)
	o.int("quota_remaining", l.QuotaRemaining)
	o.int("quota_renewal_rate", l.QuotaRenewalRate)
	return o.end()
}
