// Package jwttest mints JSON Web Tokens for tests and examples with the
// standard library: HS*, RS*, PS* and ES* signatures, any header and
// claims. It is not linked into the filter.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
)

// Sign returns a compact JWS of claims with header (alg is set from alg,
// typ defaults to JWT) signed with key: a []byte secret for HS*, an
// *rsa.PrivateKey for RS*/PS*, an *ecdsa.PrivateKey for ES*. alg "none"
// gives an unsigned token.
func Sign(alg string, key any, header, claims map[string]any) (string, error) {
	h := map[string]any{"typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = alg
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	sig, err := signature(alg, key, signed)
	if err != nil {
		return "", err
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// MustSign is Sign that panics on error (for tests and fixed examples).
func MustSign(alg string, key any, header, claims map[string]any) string {
	t, err := Sign(alg, key, header, claims)
	if err != nil {
		panic(err)
	}
	return t
}

func hashOf(alg string) (crypto.Hash, func() hash.Hash) {
	switch alg[2:] {
	case "384":
		return crypto.SHA384, sha512.New384
	case "512":
		return crypto.SHA512, sha512.New
	}
	return crypto.SHA256, sha256.New
}

func signature(alg string, key any, signed string) ([]byte, error) {
	if alg == "none" {
		return nil, nil
	}
	if len(alg) != 5 {
		return nil, fmt.Errorf("jwttest: unknown alg %q", alg)
	}
	ch, nh := hashOf(alg)
	d := nh()
	d.Write([]byte(signed))
	digest := d.Sum(nil)
	switch alg[:2] {
	case "HS":
		secret, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("jwttest: %s needs a []byte secret", alg)
		}
		m := hmac.New(nh, secret)
		m.Write([]byte(signed))
		return m.Sum(nil), nil
	case "RS", "PS":
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("jwttest: %s needs an *rsa.PrivateKey", alg)
		}
		if alg[0] == 'P' {
			return rsa.SignPSS(rand.Reader, k, ch, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(nil, k, ch, digest)
	case "ES":
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("jwttest: %s needs an *ecdsa.PrivateKey", alg)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("jwttest: unknown alg %q", alg)
}
