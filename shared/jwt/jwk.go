package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// Key is one verification key of a key set (RFC 7517): an *rsa.PublicKey,
// an *ecdsa.PublicKey or a []byte HMAC secret, with its kid.
type Key struct {
	Kid string
	Key any
}

// KeySet is the keys of a JWKS document.
type KeySet []Key

// Find returns the key for a token: the one with its kid. A set of one
// key without kid (what a static PEM jwt_source becomes) serves every
// token, with a kid or not, as Tyk verifies with a static key whatever the
// kid; a token without kid also gets the only key of any set of one.
func (ks KeySet) Find(kid string, kidSet bool) (any, bool) {
	if len(ks) == 1 && (!kidSet || ks[0].Kid == "") {
		return ks[0].Key, true
	}
	if !kidSet {
		return nil, false
	}
	for _, k := range ks {
		if k.Kid == kid {
			return k.Key, true
		}
	}
	return nil, false
}

// ParseKeySet reads a JWKS document {"keys":[…]}. Keys of types or curves
// it does not know, and private parts, are skipped (a JWKS may publish
// encryption keys too); a known key with bad parameters is an error.
func ParseKeySet(data []byte) (KeySet, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, errors.New("jwks: invalid JSON: " + err.Error())
	}
	return KeySetFromValue(v)
}

// KeySetFromValue is ParseKeySet of a parsed document.
func KeySetFromValue(v *fastjson.Value) (KeySet, error) {
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("jwks: not an object")
	}
	arr := v.Get("keys")
	if arr == nil || arr.Type() != fastjson.TypeArray {
		return nil, errors.New(`jwks: no "keys" array`)
	}
	var ks KeySet
	for i, kv := range arr.GetArray() {
		k, ok, err := parseJWK(kv)
		if err != nil {
			return nil, errors.New("jwks: keys[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		if ok {
			ks = append(ks, k)
		}
	}
	return ks, nil
}

func b64field(v *fastjson.Value, name string) ([]byte, error) {
	s := v.GetStringBytes(name)
	if len(s) == 0 {
		return nil, errors.New(`missing "` + name + `"`)
	}
	b, err := base64.RawURLEncoding.DecodeString(string(s))
	if err != nil {
		return nil, errors.New(`"` + name + `" is not base64url`)
	}
	return b, nil
}

func parseJWK(v *fastjson.Value) (Key, bool, error) {
	k := Key{Kid: string(v.GetStringBytes("kid"))}
	if use := string(v.GetStringBytes("use")); use != "" && use != "sig" {
		return k, false, nil
	}
	switch string(v.GetStringBytes("kty")) {
	case "RSA":
		n, err := b64field(v, "n")
		if err != nil {
			return k, false, err
		}
		e, err := b64field(v, "e")
		if err != nil {
			return k, false, err
		}
		if len(e) > 4 {
			return k, false, errors.New("exponent too large")
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if pub.N.BitLen() < 1024 || exp < 3 || exp%2 == 0 {
			return k, false, errors.New("RSA key too small or with a bad exponent")
		}
		k.Key = pub
	case "EC":
		curve := curveOf(string(v.GetStringBytes("crv")))
		if curve == nil {
			return k, false, nil
		}
		x, err := b64field(v, "x")
		if err != nil {
			return k, false, err
		}
		y, err := b64field(v, "y")
		if err != nil {
			return k, false, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return k, false, errors.New("EC coordinates of the wrong size")
		}
		pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		// Not crypto/ecdh's check: it adds 395 KB to filter.wasm.
		// ecdsa.Verify checks the point again.
		if !curve.IsOnCurve(pub.X, pub.Y) {
			return k, false, errors.New("EC point not on the curve")
		}
		k.Key = pub
	case "oct":
		s, err := b64field(v, "k")
		if err != nil {
			return k, false, err
		}
		k.Key = s
	default:
		return k, false, nil
	}
	return k, true, nil
}

func curveOf(crv string) elliptic.Curve {
	switch crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// AppendKeySet appends ks as a JWKS document, the form the sidecar serves
// key sets to filters in.
func AppendKeySet(dst []byte, ks KeySet) []byte {
	dst = append(dst, `{"keys":[`...)
	for i, k := range ks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"kid":`...)
		dst = model.AppendString(dst, k.Kid)
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			dst = append(dst, `,"kty":"RSA","n":"`...)
			dst = base64.RawURLEncoding.AppendEncode(dst, key.N.Bytes())
			dst = append(dst, `","e":"`...)
			dst = base64.RawURLEncoding.AppendEncode(dst, big.NewInt(int64(key.E)).Bytes())
			dst = append(dst, '"')
		case *ecdsa.PublicKey:
			size := (key.Curve.Params().BitSize + 7) / 8
			dst = append(dst, `,"kty":"EC","crv":`...)
			dst = model.AppendString(dst, key.Curve.Params().Name)
			dst = append(dst, `,"x":"`...)
			dst = base64.RawURLEncoding.AppendEncode(dst, key.X.FillBytes(make([]byte, size)))
			dst = append(dst, `","y":"`...)
			dst = base64.RawURLEncoding.AppendEncode(dst, key.Y.FillBytes(make([]byte, size)))
			dst = append(dst, '"')
		case []byte:
			dst = append(dst, `,"kty":"oct","k":"`...)
			dst = base64.RawURLEncoding.AppendEncode(dst, key)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
