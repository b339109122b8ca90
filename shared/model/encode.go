package model

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The encoders write Tyk's classic (≤5.11) JSON: what Go's encoding/json
// makes of Tyk's structs, byte for byte. Sessions can also be written in the
// compact form of Tyk 5.12 (AppendCompactJSON, see form). The classic form:
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

// form is how an object writes zero values.
type form uint8

const (
	// classic is Tyk ≤5.11: every member present, nil maps, slices and
	// pointers as null.
	classic form = iota
	// compact is Tyk 5.12's omitzero: a member whose value is zero (false,
	// 0, "", a nil map, slice or pointer, a value struct all of whose members
	// are zero) is left out. Empty non-nil maps and slices and non-nil
	// pointers are kept: the decoders tell them from nil. A missing member
	// decodes as its zero value, so both forms decode to the same value.
	compact
)

// object writes the members of one JSON object in one form; objects nested
// in it (open, inner) inherit the form. Keys passed to key are the fixed
// ASCII names of model fields and need no escaping.
type object struct {
	b    []byte
	n    int // members written
	form form
	// start is where the member holding this object begins in b, so close
	// can take back a value struct that turned out to be zero.
	start int
}

func beginObject(dst []byte, f form) object {
	return object{b: append(dst, '{'), form: f}
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

// omit reports whether a member whose value is zero is left out.
func (o *object) omit(zero bool) bool {
	return zero && o.form == compact
}

// inner begins an object value at the end of dst, in o's form.
func (o *object) inner(dst []byte) object {
	return beginObject(dst, o.form)
}

// open begins member k, a value struct; close ends it. In the compact form
// a struct none of whose members was written is zero, and close takes the
// member back, key and all.
func (o *object) open(k string) object {
	start := len(o.b)
	o.key(k)
	c := o.inner(o.b)
	c.start = start
	return c
}

func (o *object) close(c object) {
	if o.omit(c.n == 0) {
		o.b = c.b[:c.start]
		o.n--
		return
	}
	o.b = c.end()
}

// null writes member k of a nil map, slice or pointer.
func (o *object) null(k string) {
	if o.omit(true) {
		return
	}
	o.key(k)
	o.b = append(o.b, "null"...)
}

func (o *object) str(k, v string) {
	if o.omit(v == "") {
		return
	}
	o.key(k)
	o.b = AppendString(o.b, v)
}

func (o *object) bool(k string, v bool) {
	if o.omit(!v) {
		return
	}
	o.key(k)
	o.b = appendBool(o.b, v)
}

func (o *object) int(k string, v int64) {
	if o.omit(v == 0) {
		return
	}
	o.key(k)
	o.b = appendInt(o.b, v)
}

// float writes member k. -0 counts as non-zero: it decodes as -0, not as
// the 0 of a missing member.
func (o *object) float(k string, v float64) {
	if o.omit(v == 0 && !math.Signbit(v)) {
		return
	}
	o.key(k)
	o.b = appendFloat(o.b, v)
}

func (o *object) strings(k string, v []string) {
	if v == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendSlice(o.b, v, AppendString)
}

func (o *object) floats(k string, v []float64) {
	if v == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendSlice(o.b, v, appendFloat)
}

// stringMap and rawMap write maps whose values are data: every entry is
// kept, whatever its value.
func (o *object) stringMap(k string, m map[string]string) {
	if m == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendMap(o.b, m, AppendString)
}

func (o *object) rawMap(k string, m map[string]RawValue) {
	if m == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendMap(o.b, m, appendRaw)
}

// The struct writers (encode_gen.go, one per model struct) fill o, an empty
// object, with the members of one value and return it. They take and return
// o, and take their value, by value rather than by pointer because objects
// and objectMap call them through a func value: a pointer would make every
// element escape to the heap.

// objects writes member k, an array of structs each written by members
// (which takes an empty object in o's form and returns it filled).
// Elements are kept even when zero: they are positions.
func objects[T any](o *object, k string, s []T, members func(object, T) object) {
	if s == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendSlice(o.b, s, func(dst []byte, v T) []byte {
		e := members(o.inner(dst), v)
		return e.end()
	})
}

// objectMap writes member k, a map of structs each written by members.
// Entries are kept even when zero: their keys are data.
func objectMap[T any](o *object, k string, m map[string]T, members func(object, T) object) {
	if m == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = appendMap(o.b, m, func(dst []byte, v T) []byte {
		e := members(o.inner(dst), v)
		return e.end()
	})
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
