package jwt

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Source is an API's jwt_source, decoded.
type Source struct {
	// URL of a JWKS, when the source is one (plain or base64).
	URL string
	// Data is the decoded source otherwise: the HMAC secret, or the PEM
	// public key (or certificate) for RSA and ECDSA.
	Data []byte
}

// ParseSource decodes jwt_source as Tyk does: an http(s) URL as is, else
// base64 (standard alphabet) of a URL, a secret or a PEM key. "" is the
// one-to-one mode (no source) and returns a zero Source.
func ParseSource(src string) (Source, error) {
	if src == "" {
		return Source{}, nil
	}
	if isURL(src) {
		return Source{URL: src}, nil
	}
	b, err := base64.StdEncoding.DecodeString(src)
	if err != nil {
		return Source{}, errors.New("jwt_source is neither an http(s) URL nor base64: " + err.Error())
	}
	if isURL(string(b)) {
		return Source{URL: string(b)}, nil
	}
	if len(b) == 0 {
		return Source{}, errors.New("jwt_source decodes to nothing")
	}
	return Source{Data: b}, nil
}

// isURL is Tyk's test for a JWKS URL: ^(?i)https?://.
func isURL(s string) bool {
	l := strings.ToLower(s[:min(len(s), 8)])
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}
