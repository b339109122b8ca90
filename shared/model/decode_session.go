package model

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// DecodeSession decodes a Tyk session (key) in the classic or the compact
// (5.12+ omitzero) form. The rules shared by all decoders (null, numbers,
// unknown fields, errors) are listed at the top of decode.go; a wrong type
// returns a *FieldError, malformed JSON an "invalid JSON: ..." error.
func DecodeSession(data []byte) (*Session, error) {
	return decodeBytes(data, (*decoder).session)
}

// SessionFromValue decodes a session embedded in a larger parsed document.
// Error paths are relative to v; a nil v (a missing member) decodes as null.
func SessionFromValue(v *fastjson.Value) (*Session, error) {
	return decodeValue(v, (*decoder).session)
}

// UnmarshalJSON implements json.Unmarshaler with DecodeSession.
func (s *Session) UnmarshalJSON(data []byte) error {
	out, err := DecodeSession(data)
	if err == nil {
		*s = *out
	}
	return err
}

// lastUpdated reads Tyk's last_updated, a decimal string of unix seconds that
// some writers emit as a bare number.
func (d *decoder) lastUpdated(v *fastjson.Value) string {
	if v.Type() != fastjson.TypeNumber {
		return d.str(v)
	}
	n := d.i64(v)
	if d.err != nil {
		return ""
	}
	return strconv.FormatInt(n, 10)
}
