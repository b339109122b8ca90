// Package jwt parses and verifies JSON Web Tokens the way Tyk's JWT
// authentication does (gateway/mw_jwt.go, Tyk 5.8; summary in
// shared/reference/tyk-semantics.md §9.1), and derives what a token says
// about its session: identity, policies, the session id.
//
// Verification uses only the standard library (crypto/hmac, crypto/rsa with
// PKCS #1 v1.5 and PSS, crypto/ecdsa): a JWT library would add to
// filter.wasm, which links this package. It is pure (no I/O) and builds for
// GOOS=wasip1; the filter verifies in the VM, the sidecar validates API
// definitions and serves key sets with it.
package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"math/big"
	"strings"

	"github.com/valyala/fastjson"
)

// Method is an API's jwt_signing_method: the family of algorithms its
// tokens may use.
type Method uint8

const (
	HMAC  Method = iota // "hmac" (also "", with a warning in Tyk): HS256/384/512
	RSA                 // "rsa": RS256/384/512 and PS256/384/512
	ECDSA               // "ecdsa": ES256/384/512
)

// ParseMethod reads jwt_signing_method. Tyk assumes HMAC when it is empty.
func ParseMethod(s string) (Method, error) {
	switch s {
	case "", "hmac":
		return HMAC, nil
	case "rsa":
		return RSA, nil
	case "ecdsa":
		return ECDSA, nil
	}
	return 0, errors.New(`unknown signing method "` + s + `": want hmac, rsa or ecdsa`)
}

func (m Method) String() string {
	return [...]string{"hmac", "rsa", "ecdsa"}[m]
}

// Errors of verification. Their texts are not Tyk's responses; the caller
// maps them (Tyk answers every one with 403 "Key not authorized", except
// ErrUnexpectedMethod: "Key not authorized: Unexpected signing method").
var (
	ErrMalformed        = errors.New("jwt: malformed token")
	ErrUnexpectedMethod = errors.New("Unexpected signing method")
	ErrUnknownAlg       = errors.New("jwt: signing method (alg) is unavailable")
	ErrSignature        = errors.New("jwt: signature is invalid")
	ErrKey              = errors.New("jwt: key is of the wrong type for the algorithm")
)

// alg is one algorithm of RFC 7518 that Tyk accepts.
type alg struct {
	method Method
	hash   crypto.Hash
	pss    bool
	size   int // ECDSA: bytes of r and of s
}

var algs = map[string]alg{
	"HS256": {HMAC, crypto.SHA256, false, 0},
	"HS384": {HMAC, crypto.SHA384, false, 0},
	"HS512": {HMAC, crypto.SHA512, false, 0},
	"RS256": {RSA, crypto.SHA256, false, 0},
	"RS384": {RSA, crypto.SHA384, false, 0},
	"RS512": {RSA, crypto.SHA512, false, 0},
	"PS256": {RSA, crypto.SHA256, true, 0},
	"PS384": {RSA, crypto.SHA384, true, 0},
	"PS512": {RSA, crypto.SHA512, true, 0},
	"ES256": {ECDSA, crypto.SHA256, false, 32},
	"ES384": {ECDSA, crypto.SHA384, false, 48},
	"ES512": {ECDSA, crypto.SHA512, false, 66},
}

// Token is a parsed, not yet verified, JWT.
type Token struct {
	Alg string
	// Kid is the kid header when it is a string; KidSet says it was.
	Kid    string
	KidSet bool
	// Claims is the payload object.
	Claims *fastjson.Value

	signed string // header.payload, what the signature covers
	sig    []byte
}

// Parse splits and decodes a compact JWS: three base64url parts, a header
// and a payload that are JSON objects. It checks nothing else.
func Parse(token string) (*Token, error) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrMalformed
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, ErrMalformed
	}
	hdr, err := decodeObject(h)
	if err != nil {
		return nil, err
	}
	claims, err := decodeObject(p)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSegment(s)
	if err != nil {
		return nil, ErrMalformed
	}
	t := &Token{Claims: claims, signed: token[:len(h)+1+len(p)], sig: sig}
	t.Alg = string(hdr.GetStringBytes("alg"))
	if k := hdr.Get("kid"); k != nil && k.Type() == fastjson.TypeString {
		t.Kid, t.KidSet = string(k.GetStringBytes()), true
	}
	return t, nil
}

// decodeSegment decodes base64url with or without padding (golang-jwt
// accepts both).
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodeObject(seg string) (*fastjson.Value, error) {
	b, err := decodeSegment(seg)
	if err != nil {
		return nil, ErrMalformed
	}
	// A parser per token: the claims outlive the call (they are read
	// after verification).
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, ErrMalformed
	}
	return v, nil
}

// CheckMethod refuses a token whose alg does not belong to the API's
// signing method: "none", an HMAC alg on an RSA or ECDSA API (the
// key-confusion attack, where the public key is used as an HMAC secret),
// and any alg Tyk does not know.
func (t *Token) CheckMethod(m Method) error {
	a, ok := algs[t.Alg]
	if !ok {
		if t.Alg == "none" {
			return ErrUnexpectedMethod
		}
		return ErrUnknownAlg
	}
	if a.method != m {
		return ErrUnexpectedMethod
	}
	return nil
}

// Verify checks the signature with key: a []byte HMAC secret, an
// *rsa.PublicKey or an *ecdsa.PublicKey, as the token's alg requires. Call
// CheckMethod first: Verify trusts alg to name the method.
func (t *Token) Verify(key any) error {
	a, ok := algs[t.Alg]
	if !ok {
		return ErrUnknownAlg
	}
	switch a.method {
	case HMAC:
		secret, ok := key.([]byte)
		// An empty secret would let anyone sign: refused, not verified.
		if !ok || len(secret) == 0 {
			return ErrKey
		}
		mac := hmac.New(newHash(a.hash), secret)
		mac.Write([]byte(t.signed))
		if !hmac.Equal(mac.Sum(nil), t.sig) {
			return ErrSignature
		}
		return nil
	case RSA:
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return ErrKey
		}
		d := digest(a.hash, t.signed)
		var err error
		if a.pss {
			// golang-jwt verifies PSS with an automatic salt length.
			err = rsa.VerifyPSS(pub, a.hash, d, t.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(pub, a.hash, d, t.sig)
		}
		if err != nil {
			return ErrSignature
		}
		return nil
	default:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || (pub.Curve.Params().BitSize+7)/8 != a.size {
			return ErrKey
		}
		// JWS ECDSA signatures are r||s, each of the curve's size.
		if len(t.sig) != 2*a.size {
			return ErrSignature
		}
		r := new(big.Int).SetBytes(t.sig[:a.size])
		s := new(big.Int).SetBytes(t.sig[a.size:])
		if !ecdsa.Verify(pub, digest(a.hash, t.signed), r, s) {
			return ErrSignature
		}
		return nil
	}
}

func newHash(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	}
	return sha256.New
}

func digest(h crypto.Hash, s string) []byte {
	d := newHash(h)()
	d.Write([]byte(s))
	return d.Sum(nil)
}
