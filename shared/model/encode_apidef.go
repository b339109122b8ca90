package model

// AppendJSON appends the API definition's Turnpike subset as a Tyk classic
// API definition. The auth config is written both as auth_configs.authToken,
// which Tyk reads, and as the deprecated auth, which older tools read;
// fallback_to_default both in definition (where Tyk has it) and in
// version_data.
func (a *APIDefinition) AppendJSON(dst []byte) []byte {
	o := beginObject(dst)
	o.str("api_id", a.APIID)
	o.str("name", a.Name)
	o.str("org_id", a.OrgID)
	o.bool("active", a.Active)
	o.bool("use_keyless", a.UseKeylessAccess)
	o.str("domain", a.Domain)
	o.key("proxy")
	proxy := beginObject(o.b)
	proxy.str("listen_path", a.Proxy.ListenPath)
	proxy.str("target_url", a.Proxy.TargetURL)
	proxy.bool("strip_listen_path", a.Proxy.StripListenPath)
	o.b = proxy.end()
	o.key("auth")
	o.b = appendAuthConfig(o.b, &a.Auth)
	o.key("auth_configs")
	configs := beginObject(o.b)
	configs.key("authToken")
	configs.b = appendAuthConfig(configs.b, &a.Auth)
	o.b = configs.end()
	o.bool("strip_auth_data", a.StripAuthData)
	o.key("version_data")
	vd := beginObject(o.b)
	vd.bool("not_versioned", a.VersionData.NotVersioned)
	vd.str("default_version", a.VersionData.DefaultVersion)
	vd.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	vd.key("versions")
	vd.b = appendMap(vd.b, a.VersionData.Versions, appendVersionInfo)
	o.b = vd.end()
	o.key("definition")
	def := beginObject(o.b)
	def.str("location", a.VersionDefinition.Location)
	def.str("key", a.VersionDefinition.Key)
	def.bool("strip_path", a.VersionDefinition.StripPath)
	def.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	o.b = def.end()
	o.int("session_lifetime", a.SessionLifetime)
	o.bool("dont_set_quota_on_create", a.DontSetQuotaOnCreate)
	o.bool("disable_rate_limit", a.DisableRateLimit)
	o.bool("disable_quota", a.DisableQuota)
	o.key("global_rate_limit")
	grl := beginObject(o.b)
	grl.bool("disabled", a.GlobalRateLimit.Disabled)
	grl.float("rate", a.GlobalRateLimit.Rate)
	grl.float("per", a.GlobalRateLimit.Per)
	o.b = grl.end()
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a *APIDefinition) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(nil), nil
}

func appendAuthConfig(dst []byte, c *AuthConfig) []byte {
	o := beginObject(dst)
	o.str("auth_header_name", c.AuthHeaderName)
	o.bool("use_param", c.UseParam)
	o.str("param_name", c.ParamName)
	o.bool("use_cookie", c.UseCookie)
	o.str("cookie_name", c.CookieName)
	o.bool("disable_header", c.DisableHeader)
	return o.end()
}

func appendVersionInfo(dst []byte, v VersionInfo) []byte {
	o := beginObject(dst)
	o.str("name", v.Name)
	o.str("expires", v.Expires)
	return o.end()
}
