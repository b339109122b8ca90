package model

import "github.com/valyala/fastjson"

// DecodeAPIDefinition decodes the fields Turnpike uses from a Tyk classic API
// definition; everything else in the document is ignored.
func DecodeAPIDefinition(data []byte) (*APIDefinition, error) {
	return decodeBytes(data, (*decoder).apiDefinition)
}

// APIDefinitionFromValue decodes an API definition embedded in a larger
// parsed document.
func APIDefinitionFromValue(v *fastjson.Value) (*APIDefinition, error) {
	return decodeValue(v, (*decoder).apiDefinition)
}

// UnmarshalJSON implements json.Unmarshaler with DecodeAPIDefinition.
func (a *APIDefinition) UnmarshalJSON(data []byte) error {
	out, err := DecodeAPIDefinition(data)
	if err == nil {
		*a = *out
	}
	return err
}

func (d *decoder) apiDefinition(v *fastjson.Value) *APIDefinition {
	a := new(APIDefinition)
	// Tyk reads auth_configs.authToken and falls back to the deprecated auth
	// object; fallback_to_default lives in definition in Tyk but is also
	// accepted in version_data. Both can appear in any order, so they are
	// collected first and combined after the walk.
	var legacyAuth, authToken *AuthConfig
	var fallback bool
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "api_id":
			a.APIID = d.str(v)
		case "name":
			a.Name = d.str(v)
		case "org_id":
			a.OrgID = d.str(v)
		case "active":
			a.Active = d.boolean(v)
		case "use_keyless":
			a.UseKeylessAccess = d.boolean(v)
		case "domain":
			a.Domain = d.str(v)
		case "proxy":
			a.Proxy = d.proxy(v)
		case "auth":
			legacyAuth = d.authConfig(v)
		case "auth_configs":
			d.fields(v, func(key []byte, v *fastjson.Value) {
				if string(key) == "authToken" {
					authToken = d.authConfig(v)
				}
			})
		case "strip_auth_data":
			a.StripAuthData = d.boolean(v)
		case "version_data":
			a.VersionData = d.versionData(v)
		case "definition":
			a.VersionDefinition, fallback = d.versionDefinition(v)
		case "session_lifetime":
			a.SessionLifetime = d.i64(v)
		case "dont_set_quota_on_create":
			a.DontSetQuotaOnCreate = d.boolean(v)
		case "disable_rate_limit":
			a.DisableRateLimit = d.boolean(v)
		case "disable_quota":
			a.DisableQuota = d.boolean(v)
		case "global_rate_limit":
			a.GlobalRateLimit = d.globalRateLimit(v)
		}
	})
	switch {
	case authToken != nil:
		a.Auth = *authToken
	case legacyAuth != nil:
		a.Auth = *legacyAuth
	}
	a.VersionData.FallbackToDefault = a.VersionData.FallbackToDefault || fallback
	return a
}

func (d *decoder) proxy(v *fastjson.Value) (p Proxy) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "listen_path":
			p.ListenPath = d.str(v)
		case "target_url":
			p.TargetURL = d.str(v)
		case "strip_listen_path":
			p.StripListenPath = d.boolean(v)
		}
	})
	return p
}

// authConfig returns nil for null, which counts as an absent config.
func (d *decoder) authConfig(v *fastjson.Value) *AuthConfig {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	c := new(AuthConfig)
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "auth_header_name":
			c.AuthHeaderName = d.str(v)
		case "use_param":
			c.UseParam = d.boolean(v)
		case "param_name":
			c.ParamName = d.str(v)
		case "use_cookie":
			c.UseCookie = d.boolean(v)
		case "cookie_name":
			c.CookieName = d.str(v)
		case "disable_header":
			c.DisableHeader = d.boolean(v)
		}
	})
	return c
}

func (d *decoder) versionData(v *fastjson.Value) (vd VersionData) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "not_versioned":
			vd.NotVersioned = d.boolean(v)
		case "default_version":
			vd.DefaultVersion = d.str(v)
		case "fallback_to_default":
			vd.FallbackToDefault = d.boolean(v)
		case "versions":
			vd.Versions = decodeMap(d, v, (*decoder).versionInfo)
		}
	})
	return vd
}

func (d *decoder) versionInfo(v *fastjson.Value) (vi VersionInfo) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "name":
			vi.Name = d.str(v)
		case "expires":
			vi.Expires = d.str(v)
		}
	})
	return vi
}

func (d *decoder) versionDefinition(v *fastjson.Value) (vd VersionDefinition, fallback bool) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "location":
			vd.Location = d.str(v)
		case "key":
			vd.Key = d.str(v)
		case "strip_path":
			vd.StripPath = d.boolean(v)
		case "fallback_to_default":
			fallback = d.boolean(v)
		}
	})
	return vd, fallback
}

func (d *decoder) globalRateLimit(v *fastjson.Value) (g GlobalRateLimit) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "rate":
			g.Rate = d.f64(v)
		case "per":
			g.Per = d.f64(v)
		case "disabled":
			g.Disabled = d.boolean(v)
		}
	})
	return g
}
