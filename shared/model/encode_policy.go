package model

// AppendJSON appends the policy in Tyk's classic form (every field present).
func (p *Policy) AppendJSON(dst []byte) []byte {
	o := beginObject(dst, classic)
	o.str("_id", p.MID)
	o.str("id", p.ID)
	o.str("name", p.Name)
	o.str("org_id", p.OrgID)
	o.float("rate", p.Rate)
	o.float("per", p.Per)
	o.int("quota_max", p.QuotaMax)
	o.int("quota_renewal_rate", p.QuotaRenewalRate)
	o.float("throttle_interval", p.ThrottleInterval)
	o.int("throttle_retry_limit", int64(p.ThrottleRetryLimit))
	o.int("max_query_depth", int64(p.MaxQueryDepth))
	objectMap(&o, "access_rights", p.AccessRights, accessDefinition)
	o.bool("hmac_enabled", p.HMACEnabled)
	o.bool("enable_http_signature_validation", p.EnableHTTPSignatureValidation)
	o.bool("active", p.Active)
	o.bool("is_inactive", p.IsInactive)
	o.strings("tags", p.Tags)
	o.int("key_expires_in", p.KeyExpiresIn)
	parts := o.open("partitions")
	parts.bool("quota", p.Partitions.Quota)
	parts.bool("rate_limit", p.Partitions.RateLimit)
	parts.bool("complexity", p.Partitions.Complexity)
	parts.bool("acl", p.Partitions.Acl)
	parts.bool("per_api", p.Partitions.PerAPI)
	o.close(parts)
	o.str("last_updated", p.LastUpdated)
	o.rawMap("meta_data", p.MetaData)
	// Tyk's unused GraphQL placeholder map, never set by its gateway.
	o.null("graphql_access_rights")
	o.smoothing("smoothing", p.Smoothing)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil), nil
}
