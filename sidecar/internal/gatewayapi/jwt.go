package gatewayapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
)

// validateJWT checks the JWT fields of an API definition that enables JWT
// (Tyk §9.1), so a definition the filter could not enforce is refused with
// a message naming the field rather than stored and refused per request.
func validateJWT(api *model.APIDefinition) error {
	if !api.EnableJWT || api.UseKeylessAccess {
		return nil
	}
	field := func(name, msg string) error { return errors.New(`"` + name + `": ` + msg) }
	m, err := jwt.ParseMethod(api.JWTSigningMethod)
	if err != nil {
		return field("jwt_signing_method", err.Error())
	}
	src, err := jwt.ParseSource(api.JWTSource)
	switch {
	case err != nil:
		return field("jwt_source", err.Error())
	case api.JWTSource == "" && m != jwt.HMAC:
		return field("jwt_signing_method", "without jwt_source (one-to-one mode, keys with jwt_data.secret) Turnpike supports hmac only")
	case src.URL != "":
		if m == jwt.HMAC {
			return field("jwt_source", "a JWKS URL needs jwt_signing_method rsa or ecdsa")
		}
		if u, err := url.Parse(src.URL); err != nil || u.Host == "" {
			return field("jwt_source", "not a valid JWKS URL")
		}
	case src.Data != nil && m != jwt.HMAC:
		if _, err := jwks.ParsePEM(src.Data, m); err != nil {
			return field("jwt_source", "unparsable PEM: "+err.Error())
		}
	}
	if api.JWTClientIDBaseField != "" && api.JWTPolicyFieldName == "" {
		return field("jwt_client_base_field", "not supported; use jwt_policy_field_name or jwt_default_policies")
	}
	for name, v := range map[string]int64{"jwt_issued_at_validation_skew": api.JWTIssuedAtValidationSkew,
		"jwt_expires_at_validation_skew": api.JWTExpiresAtValidationSkew,
		"jwt_not_before_validation_skew": api.JWTNotBeforeValidationSkew} {
		if v < 0 {
			return field(name, "must not be negative")
		}
	}
	return nil
}

// DELETE /tyk/cache/jwks and /tyk/cache/jwks/{apiID}: forget fetched JWKS
// key sets (of one API, or all) and fetch them again. Like Tyk, it
// succeeds whether anything was cached or not.
func (a *API) flushJWKS(w http.ResponseWriter, r *http.Request) {
	a.flushJWKSOf(w, r.PathValue("apiID"))
}

// cacheRoute is DELETE /tyk/cache/{apiID}: an API's response cache, or, for
// the path /tyk/cache/jwks, every JWKS key set (Tyk's routes share the
// prefix, and one pattern must serve both).
func (a *API) cacheRoute(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("apiID") == "jwks" {
		a.flushJWKSOf(w, "")
		return
	}
	a.invalidateCache(w, r)
}

// flushJWKSOf forgets the key sets of API id, or of every API for "".
func (a *API) flushJWKSOf(w http.ResponseWriter, id string) {
	if a.d.JWKS != nil {
		if id != "" {
			if api, ok := a.d.Snapshots.Current().APIs[id]; ok {
				if us := snapshot.KeyURLs(api); len(us) > 0 { // none would flush all
					a.d.JWKS.Flush(us...)
				}
			}
		} else {
			a.d.JWKS.Flush()
		}
	}
	writeValue(w, http.StatusOK, statusMessage{Status: "ok", Message: "cache invalidated"})
}
