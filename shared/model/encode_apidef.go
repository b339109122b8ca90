package model

// AppendJSON appends the API definition's Turnpike subset as a Tyk classic
// API definition. The auth config is written both as auth_configs.authToken,
// which Tyk reads, and as the deprecated auth, which older tools read;
// fallback_to_default both in definition (where Tyk has it) and in
// version_data.
func (a *APIDefinition) AppendJSON(dst []byte) []byte {
	o := beginObject(dst, classic)
	o.str("api_id", a.APIID)
	o.str("name", a.Name)
	o.str("org_id", a.OrgID)
	o.bool("active", a.Active)
	o.bool("use_keyless", a.UseKeylessAccess)
	o.str("domain", a.Domain)
	proxy := o.open("proxy")
	proxy.str("listen_path", a.Proxy.ListenPath)
	proxy.str("target_url", a.Proxy.TargetURL)
	proxy.bool("strip_listen_path", a.Proxy.StripListenPath)
	o.close(proxy)
	o.close(authConfig(o.open("auth"), &a.Auth))
	configs := o.open("auth_configs")
	configs.close(authConfig(configs.open("authToken"), &a.Auth))
	o.close(configs)
	o.bool("strip_auth_data", a.StripAuthData)
	vd := o.open("version_data")
	vd.bool("not_versioned", a.VersionData.NotVersioned)
	vd.str("default_version", a.VersionData.DefaultVersion)
	vd.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	objectMap(&vd, "versions", a.VersionData.Versions, versionInfo)
	o.close(vd)
	def := o.open("definition")
	def.str("location", a.VersionDefinition.Location)
	def.str("key", a.VersionDefinition.Key)
	def.bool("strip_path", a.VersionDefinition.StripPath)
	def.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	o.close(def)
	o.int("session_lifetime", a.SessionLifetime)
	o.bool("dont_set_quota_on_create", a.DontSetQuotaOnCreate)
	o.bool("disable_rate_limit", a.DisableRateLimit)
	o.bool("disable_quota", a.DisableQuota)
	grl := o.open("global_rate_limit")
	grl.bool("disabled", a.GlobalRateLimit.Disabled)
	grl.float("rate", a.GlobalRateLimit.Rate)
	grl.float("per", a.GlobalRateLimit.Per)
	o.close(grl)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a *APIDefinition) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(nil), nil
}

func authConfig(o object, c *AuthConfig) object {
	o.str("auth_header_name", c.AuthHeaderName)
	o.bool("use_param", c.UseParam)
	o.str("param_name", c.ParamName)
	o.bool("use_cookie", c.UseCookie)
	o.str("cookie_name", c.CookieName)
	o.bool("disable_header", c.DisableHeader)
	return o
}

func versionInfo(o object, v VersionInfo) object {
	o.str("name", v.Name)
	o.str("expires", v.Expires)
	return o
}
