package auth

import (
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/hmacsig"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// HMAC is Tyk's HMAC request signing (enable_signature_checking):
// `Authorization: Signature keyId="...",algorithm="hmac-sha256",
// headers="(request-target) date",signature="..."`. keyId names the
// session; its hmac_string is the secret (the effective session must have
// hmac_enabled, possibly from a policy). Tyk answers every failure with 400
// "Authorization field missing, malformed or invalid"; so does this.
//
// What needs no session is checked before the lookup: the header's form,
// the algorithm (hmac_allowed_algorithms) and the date
// (hmac_allowed_clock_skew), so a stale or malformed request costs no
// sidecar call. RSA signatures are refused (Turnpike checks HMAC only).
type HMAC struct {
	conf       *model.AuthConfig // auth_configs.hmac
	algorithms []string
	skewMS     float64
}

// DenyHMAC is Tyk's answer to every HMAC failure.
var DenyHMAC = &Denial{400, hmacsig.MsgInvalid, OutUnauthorized}

var (
	denyHMACMissing   = &Denial{400, hmacsig.MsgInvalid, OutMissingKey}
	denyHMACMalformed = &Denial{400, hmacsig.MsgInvalid, OutMalformed}
)

// NewHMAC makes the HMAC method of api.
func NewHMAC(api *model.APIDefinition) *HMAC {
	conf := api.AuthConfigs["hmac"]
	return &HMAC{conf: &conf, algorithms: api.HmacAllowedAlgorithms, skewMS: api.HmacAllowedClockSkew}
}

// Identify reads the key id and checks what it can without the secret.
func (m *HMAC) Identify(req Request, path string) (Identity, *Denial) {
	c := Extract(m.conf, req.RequestHeader, path)
	if c.Key == "" {
		return Identity{}, denyHMACMissing
	}
	f, err := hmacsig.Parse(c.Key)
	if err != nil || !hmacsig.Allowed(f.Algorithm, m.algorithms) {
		return Identity{}, denyHMACMalformed
	}
	_, date := hmacsig.DateHeader(req.RequestHeader)
	if !hmacsig.DateOK(date, time.Unix(0, now(req)), m.skewMS) {
		return Identity{}, DenyHMAC
	}
	if len(f.KeyID) < MinKeyLength || len(f.KeyID) > keys.MaxCustomLen {
		return Identity{}, DenyHMAC
	}
	c.Key = ""
	return Identity{Key: f.KeyID, Cred: c, Unknown: DenyHMAC}, nil
}

// Verify checks the signature with the session's secret.
func (m *HMAC) Verify(req Request, path string, id *Identity, s *model.Session) *Denial {
	if s.HmacSecret == "" || !s.HMACEnabled && !s.EnableHTTPSignatureValidation {
		return DenyHMAC
	}
	c := Extract(m.conf, req.RequestHeader, path)
	f, err := hmacsig.Parse(c.Key)
	if err != nil {
		return DenyHMAC
	}
	signed := hmacsig.SigningString(f.Headers, req.RequestHeader(":method"), route.PathOnly(path), req.RequestHeader)
	if !hmacsig.Match(f.Signature, hmacsig.Sign(signed, s.HmacSecret, f.Algorithm)) {
		return DenyHMAC
	}
	return nil
}
