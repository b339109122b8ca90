package model

// BaseIdentities maps the values of base_identity_provided_by (Tyk's
// apidef.AuthTypeEnum) to the switch of the auth method each names, as
// AuthMethods spells them. "custom_auth" (plugins) is absent: Turnpike runs
// none.
var BaseIdentities = map[string]string{
	"auth_token":      "use_standard_auth",
	"basic_auth_user": "use_basic_auth",
	"hmac_key":        "enable_signature_checking",
	"jwt_claim":       "enable_jwt",
	"oauth_key":       "use_oauth2",
	"oidc_user":       "use_openid",
}
