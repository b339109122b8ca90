package auth

import (
	"strings"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Client certificates, read from the host's connection properties (Envoy
// sets them when the listener does TLS; connection.sha256_peer_certificate_digest
// is the lower-case hex SHA-256 of the peer certificate's DER, as Tyk's
// certificate ids hash it).
//
// Two of Tyk's uses:
//   - MTLS, static mutual TLS (use_mutual_tls_auth): the certificate must be
//     one of the API's client_certificates. Tyk checks it before any
//     authentication (CertificateCheckMW) and it names no session, so For
//     puts it in front of the API's methods (Chain.Precheck); with no other
//     switch, the auth token follows, as in Tyk.
//   - CertToken, certificate-bound keys (auth_configs.authToken.use_certificate):
//     the session is the key stored under the org id followed by the
//     certificate's SHA-256, whatever key the request carries.
//
// Not done: certificate authorities in client_certificates (Turnpike has no
// certificate store to read them from) and Tyk's expiry check (Envoy
// exposes no expiry; its TLS validation rejects expired certificates when
// the listener validates client certificates).

// peerDigest is the request's client certificate SHA-256, "" without one.
func peerDigest(req Request) string {
	v, ok := req.Property("connection", "sha256_peer_certificate_digest")
	if !ok {
		return ""
	}
	return strings.ToLower(string(v))
}

// Tyk's messages for client certificates.
const (
	MsgTLSRequired  = "TLS not enabled"
	MsgCertRequired = "Client TLS certificate is required"
	MsgCertNeeded   = "Client certificate required" // certificate-bound keys
)

// MTLS is the static mutual-TLS check of an API.
type MTLS struct {
	allowed map[string]bool // hex SHA-256s
}

// NewMTLS makes the check of api's client_certificates: Tyk certificate
// ids (org id + hex SHA-256) or bare hex SHA-256s; others allow nothing.
func NewMTLS(api *model.APIDefinition) *MTLS {
	m := &MTLS{allowed: map[string]bool{}}
	for _, id := range api.ClientCertificates {
		if d, ok := keys.CertDigest(id); ok {
			m.allowed[d] = true
		}
	}
	return m
}

// Check refuses a request without an allowed client certificate (403, as
// Tyk's CertificateCheckMW).
func (m *MTLS) Check(req Request) *Denial {
	d := peerDigest(req)
	if d == "" {
		if _, tls := req.Property("connection", "tls_version"); !tls {
			return &Denial{access.StatusForbidden, MsgTLSRequired, OutCertRefused}
		}
		return &Denial{access.StatusForbidden, MsgCertRequired, OutCertRefused}
	}
	if !m.allowed[d] {
		return &Denial{access.StatusForbidden, "Certificate with SHA256 " + d + " not allowed", OutCertRefused}
	}
	return nil
}

// OutCertRefused counts requests refused for their client certificate.
const OutCertRefused = "certificate_refused"

// CertToken is the auth token of an API with use_certificate: the client
// certificate is the key.
type CertToken struct {
	org string
}

var (
	denyCertNeeded  = &Denial{access.StatusUnauthorized, MsgCertNeeded, OutMissingKey}
	denyCertUnknown = &Denial{access.StatusUnauthorized, access.MsgAPIDisallowed, OutKeyNotFound}
)

// Identify names the session of the request's client certificate.
func (c CertToken) Identify(req Request, _ string) (Identity, *Denial) {
	d := peerDigest(req)
	if d == "" {
		return Identity{}, denyCertNeeded
	}
	return Identity{Key: c.org + d, Unknown: denyCertUnknown}, nil
}
