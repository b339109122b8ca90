package model

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

// apiDefinitionAuth writes the key source both as auth_configs.authToken,
// which Tyk reads, and as the deprecated auth, which older tools read.
func apiDefinitionAuth(o object, a *APIDefinition) object {
	o.close(authConfig(o.open("auth"), a.Auth))
	configs := o.open("auth_configs")
	configs.close(authConfig(configs.open("authToken"), a.Auth))
	o.close(configs)
	return o
}

// apiDefinitionVersionDefinition writes definition with the
// fallback_to_default the model keeps in VersionData, where Tyk has it.
func apiDefinitionVersionDefinition(o object, a *APIDefinition) object {
	def := versionDefinition(o.open("definition"), a.VersionDefinition)
	def.bool("fallback_to_default", a.VersionData.FallbackToDefault)
	o.close(def)
	return o
}
