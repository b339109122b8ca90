package model

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The encoders write Tyk's classic (≤5.11) JSON: what Go's encoding/json
// makes of Tyk's structs, byte for byte. So:
//
//   - every field is present, in Tyk's struct order, except access_rights'
//     endpoints, which Tyk tags omitempty;
//   - nil slices and maps, and a nil smoothing, are written as null; non-nil
//     empty ones as [] and {} (the decoders keep that distinction, which is
//     what makes decode(encode(x)) == x);
//   - map keys are sorted, strings are escaped as encoding/json does
//     (including <, >, & and U+2028/U+2029), floats use its formatting;
//   - an empty date_created is written as Go's zero time.
//
// JSON has no NaN or infinity; such floats, which no decoder produces, are
// written as 0.

// AppendString appends s as a JSON string, escaped exactly as Go's
// encoding/json does by default. Invalid UTF-8 bytes become \ufffd.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				// Control characters, and <, >, & so the output is safe to
				// embed in HTML, as encoding/json does.
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// AppendError appends Tyk's default gateway error body (templates/error.json):
// {"error": msg} indented by four spaces, without a trailing newline.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, "{\n    \"error\": "...)
	dst = AppendString(dst, msg)
	return append(dst, "\n}"...)
}

// appendFloat formats f as encoding/json does: the shortest representation
// that reads back as f, in exponent form only for very small or large values.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// strconv writes 1e-07; encoding/json trims it to 1e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

func appendBool(dst []byte, b bool) []byte {
	return strconv.AppendBool(dst, b)
}

func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}

// appendRaw writes a meta_data value. The decoders only produce valid compact
// JSON; an empty value (the zero RawValue) is written as null.
func appendRaw(dst []byte, v RawValue) []byte {
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}

// object writes the members of one JSON object. Keys passed to key are the
// fixed ASCII names of model fields and need no escaping.
type object struct {
	b []byte
	n int
}

func beginObject(dst []byte) object {
	return object{b: append(dst, '{')}
}

func (o *object) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *object) end() []byte {
	return append(o.b, '}')
}

func (o *object) str(k, v string) {
	o.key(k)
	o.b = AppendString(o.b, v)
}

func (o *object) bool(k string, v bool) {
	o.key(k)
	o.b = appendBool(o.b, v)
}

func (o *object) int(k string, v int64) {
	o.key(k)
	o.b = appendInt(o.b, v)
}

func (o *object) float(k string, v float64) {
	o.key(k)
	o.b = appendFloat(o.b, v)
}

func (o *object) strings(k string, v []string) {
	o.key(k)
	o.b = appendSlice(o.b, v, AppendString)
}

// appendSlice writes a JSON array, or null for a nil slice.
func appendSlice[T any](dst []byte, s []T, elem func([]byte, T) []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = elem(dst, v)
	}
	return append(dst, ']')
}

// appendMap writes a JSON object with sorted keys, or null for a nil map.
func appendMap[T any](dst []byte, m map[string]T, val func([]byte, T) []byte) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = val(dst, m[k])
	}
	return append(dst, '}')
}
