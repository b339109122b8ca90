package model

import "maps"

// AppendJSON appends the API definition's Turnpike subset as a Tyk classic
// API definition.
func (a *APIDefinition) AppendJSON(dst []byte) []byte {
	o := apiDefinition(beginObject(dst, classic), a)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a *APIDefinition) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(nil), nil
}

// apiDefinitionAuth writes the deprecated auth, which older tools read; Tyk
// reads auth_configs.authToken (apiDefinitionAuthConfigs).
func apiDefinitionAuth(o object, a *APIDefinition) object {
	o.close(authConfig(o.open("auth"), a.Auth))
	return o
}

// apiDefinitionAuthConfigs writes auth_configs: AuthConfigs with Auth as
// its authToken entry, which is therefore always present.
func apiDefinitionAuthConfigs(o object, a *APIDefinition) object {
	configs := make(map[string]AuthConfig, len(a.AuthConfigs)+1)
	maps.Copy(configs, a.AuthConfigs)
	configs["authToken"] = a.Auth
	objectMap(&o, "auth_configs", configs, authConfig)
	return o
}

// apiDefinitionVersionDefinition writes definition with the
// fallback_to_default the model keeps in VersionData, where Tyk has it.
func apiDefinitionVersionDefinition(o object, a *APIDefinition) object {
	def := versionDefinition(o.open("definition"), &a.VersionDefinition)
	def.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	o.close(def)
	return o
}

// apiDefinitionOpenIDOptions writes openid_options when the definition has
// it, and nothing otherwise: definitions without OpenID Connect keep the
// classic form they had before Turnpike read the member.
func apiDefinitionOpenIDOptions(o object, a *APIDefinition) object {
	if a.OpenIDOptions != nil {
		o.close(openIDOptions(o.open("openid_options"), a.OpenIDOptions))
	}
	return o
}

// apiDefinitionScopes writes scopes when the definition has it.
func apiDefinitionScopes(o object, a *APIDefinition) object {
	if a.Scopes != nil {
		o.close(scopes(o.open("scopes"), a.Scopes))
	}
	return o
}
