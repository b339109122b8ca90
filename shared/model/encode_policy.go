package model

// AppendJSON appends the policy in Tyk's classic form (every field present).
func (p *Policy) AppendJSON(dst []byte) []byte {
	o := beginObject(dst)
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
	o.key("access_rights")
	o.b = appendMap(o.b, p.AccessRights, appendAccessDefinition)
	o.bool("hmac_enabled", p.HMACEnabled)
	o.bool("enable_http_signature_validation", p.EnableHTTPSignatureValidation)
	o.bool("active", p.Active)
	o.bool("is_inactive", p.IsInactive)
	o.strings("tags", p.Tags)
	o.int("key_expires_in", p.KeyExpiresIn)
	o.key("partitions")
	parts := beginObject(o.b)
	parts.bool("quota", p.Partitions.Quota)
	parts.bool("rate_limit", p.Partitions.RateLimit)
	parts.bool("complexity", p.Partitions.Complexity)
	parts.bool("acl", p.Partitions.Acl)
	parts.bool("per_api", p.Partitions.PerAPI)
	o.b = parts.end()
	o.str("last_updated", p.LastUpdated)
	o.key("meta_data")
	o.b = appendMap(o.b, p.MetaData, appendRaw)
	// Tyk's unused GraphQL placeholder map, never set by its gateway.
	o.key("graphql_access_rights")
	o.b = append(o.b, "null"...)
	o.key("smoothing")
	o.b = appendSmoothing(o.b, p.Smoothing)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil), nil
}
