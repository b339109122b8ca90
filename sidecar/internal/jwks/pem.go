// Package jwks gives the filters the public keys of JWT APIs: it parses
// PEM sources (jwt_source with jwt_signing_method rsa or ecdsa) and fetches
// JWKS URLs, and the snapshot carries the keys to the filters as JWKS
// documents (shared/wire). The filter does no PEM parsing or HTTP of its own:
// crypto/x509 would add 370 KB to filter.wasm, and a proxy-wasm VM cannot
// fetch on its own schedule.
package jwks

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"

	"github.com/turnpike-dev/turnpike/shared/jwt"
)

// ParsePEM reads a public key as Tyk's ParseRSAPublicKey does: a PEM block
// (or bare DER) holding a PKIX public key, else a certificate, else (also
// accepted here) a PKCS #1 RSA public key. The key must suit the signing
// method: RSA for rsa, ECDSA for ecdsa.
func ParsePEM(data []byte, m jwt.Method) (any, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		cert, cerr := x509.ParseCertificate(der)
		if cerr == nil {
			key, err = cert.PublicKey, nil
		} else if k, kerr := x509.ParsePKCS1PublicKey(der); kerr == nil {
			key, err = k, nil
		}
	}
	if err != nil {
		return nil, errors.New("not a PEM public key or certificate: " + err.Error())
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if m != jwt.RSA {
			return nil, errors.New("an RSA key, but jwt_signing_method is " + m.String())
		}
		if k.N.BitLen() < 1024 {
			// The filter refuses such a key set (shared/jwt), and Go's
			// crypto/rsa refuses to verify with such a key.
			return nil, errors.New("RSA key smaller than 1024 bits")
		}
	case *ecdsa.PublicKey:
		if m != jwt.ECDSA {
			return nil, errors.New("an ECDSA key, but jwt_signing_method is " + m.String())
		}
	default:
		return nil, errors.New("a key of a type JWT verification does not use")
	}
	return key, nil
}
