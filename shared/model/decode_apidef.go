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

// apiDefinition is written by hand around the generated apiDefinitionField
// because two of Tyk's members are read from two places each: the key
// source (Auth) from auth_configs.authToken, falling back to the deprecated
// auth object, and fallback_to_default from definition (where Tyk has it) or
// version_data. Either can come first, so they are collected during the
// walk and combined after it. The other auth_configs entries go to
// AuthConfigs.
func (d *decoder) apiDefinition(v *fastjson.Value) *APIDefinition {
	a := new(APIDefinition)
	var legacyAuth, authToken *AuthConfig
	var fallback bool
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "auth":
			legacyAuth = d.authConfig(v)
		case "auth_configs":
			a.AuthConfigs = nil
			d.fields(v, func(key []byte, v *fastjson.Value) {
				c := d.authConfig(v)
				if string(key) == "authToken" {
					authToken = c
					return
				}
				if c == nil {
					c = new(AuthConfig) // null: a zero entry, as Tyk reads it
				}
				if a.AuthConfigs == nil {
					a.AuthConfigs = make(map[string]AuthConfig)
				}
				a.AuthConfigs[validUTF8(key)] = *c
			})
		case "definition":
			a.VersionDefinition, fallback = d.versionDefinition(v)
		case "scopes":
			a.Scopes = nil
			if v.Type() != fastjson.TypeNull {
				sc := new(Scopes)
				d.fields(v, func(key []byte, v *fastjson.Value) { d.scopesField(sc, key, v) })
				a.Scopes = sc
			}
		case "openid_options":
			a.OpenIDOptions = nil
			if v.Type() != fastjson.TypeNull {
				o := new(OpenIDOptions)
				d.fields(v, func(key []byte, v *fastjson.Value) { d.openIDOptionsField(o, key, v) })
				a.OpenIDOptions = o
			}
		default:
			d.apiDefinitionField(a, key, v)
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

// authConfig returns nil for null, which counts as an absent config.
func (d *decoder) authConfig(v *fastjson.Value) *AuthConfig {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	c := new(AuthConfig)
	d.fields(v, func(key []byte, v *fastjson.Value) {
		d.authConfigField(c, key, v)
	})
	return c
}

// versionDefinition also returns the fallback_to_default of the definition
// object, which the model keeps in VersionData.
func (d *decoder) versionDefinition(v *fastjson.Value) (vd VersionDefinition, fallback bool) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		if string(key) == "fallback_to_default" {
			fallback = d.boolean(v)
		} else {
			d.versionDefinitionField(&vd, key, v)
		}
	})
	return vd, fallback
}
