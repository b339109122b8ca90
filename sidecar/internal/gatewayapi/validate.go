package gatewayapi

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// policyID is the id syntax Tyk 5.13+ enforces on the policy API.
var policyID = regexp.MustCompile(`^[a-zA-Z0-9.\-_~]+$`)

// validateWindows rejects negative rate windows ("per"): the rate
// arithmetic has no meaning for them, whereas Tyk does define <= 0 for
// rates, quotas, renewal rates ("never renews") and throttling ("off").
// prefix names the object in the message.
func validateWindows(prefix string, per float64, rights map[string]model.AccessDefinition) error {
	if per < 0 {
		return fmt.Errorf("%s\"per\" must not be negative (got %v)", prefix, per)
	}
	for _, id := range slices.Sorted(maps.Keys(rights)) {
		ad := rights[id]
		if ad.Limit.Per < 0 {
			return fmt.Errorf("%saccess_rights[%q].limit.per must not be negative (got %v)", prefix, id, ad.Limit.Per)
		}
		for _, ep := range ad.Endpoints {
			for _, m := range ep.Methods {
				if m.Limit.Per < 0 {
					return fmt.Errorf("%saccess_rights[%q].endpoints[%q].%s: per must not be negative (got %v)",
						prefix, id, ep.Path, m.Name, m.Limit.Per)
				}
			}
		}
	}
	return nil
}

// validateSession rejects what Tyk would store but never enforce sanely:
// invalid allowed_urls patterns and negative windows.
func validateSession(s *model.Session) error {
	if err := access.ValidateAccessRights(s.AccessRights); err != nil {
		return err
	}
	return validateWindows("", s.Per, s.AccessRights)
}

// validatePolicy checks a policy before it is stored.
func validatePolicy(p *model.Policy) error {
	if err := access.ValidatePolicy(p); err != nil {
		return err
	}
	if p.Partitions.PerAPI && p.Partitions.IsPartitioned() {
		return fmt.Errorf("cannot apply policy %s which has per_api and any of partitions set", p.ID)
	}
	return validateWindows(fmt.Sprintf("policy %q: ", p.ID), p.Per, p.AccessRights)
}

// hmacAlgorithms are the algorithms Turnpike checks HMAC signatures with.
var hmacAlgorithms = map[string]bool{"hmac-sha1": true, "hmac-sha256": true, "hmac-sha384": true, "hmac-sha512": true}

// validateAuth rejects authentication settings of an API definition that
// the filter could only turn into denials: a base_identity_provided_by
// Tyk does not know, an HMAC algorithm that is not HMAC.
func validateAuth(api *model.APIDefinition) error {
	if b := api.BaseIdentityProvidedBy; b != "" {
		if _, ok := model.BaseIdentities[b]; !ok {
			return fmt.Errorf("\"base_identity_provided_by\": unknown method %q (want one of auth_token, basic_auth_user, hmac_key, jwt_claim, oauth_key, oidc_user)", b)
		}
	}
	for _, c := range api.ClientCertificates {
		if _, ok := keys.CertDigest(c); !ok {
			return fmt.Errorf("\"client_certificates\": %q is not a certificate id (the org id followed by the hex SHA-256 of the certificate)", c)
		}
	}
	for _, a := range api.HmacAllowedAlgorithms {
		if !hmacAlgorithms[a] {
			return fmt.Errorf("\"hmac_allowed_algorithms\": unsupported algorithm %q (want hmac-sha1, hmac-sha256, hmac-sha384 or hmac-sha512)", a)
		}
	}
	return nil
}
