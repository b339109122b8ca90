package model

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// The decoders walk a fastjson tree field by field instead of unmarshalling
// through reflection: it is what runs inside the proxy-wasm VM, where
// encoding/json is slow and large. Their contract, shared by every model type:
//
//   - unknown fields are ignored, JSON null is the zero value of any field;
//   - a duplicated key is decoded once per occurrence, so the last one wins
//     (as with encoding/json);
//   - integer fields also accept floats with an integral value (Tyk writes
//     some as 3600.0 or 1.7e+09) but reject fractions;
//   - strings with invalid UTF-8 get U+FFFD per bad byte (as encoding/json);
//   - the first wrong type stops the decode with a *FieldError naming the path.

// parsers is shared by all Decode* functions; a Parser's values live until the
// parser is reused, so every decoder copies what it keeps.
var parsers fastjson.ParserPool

// decodeBytes decodes the root value of data, which must be strict JSON: the
// grammar Tyk's Go decoder accepts. fastjson's parser alone lets NaN, 01 and
// bad escapes through (also in members the model ignores), so a successful
// parse is followed by validation of the whole document; in that order
// because the parser bounds nesting depth and the validator's recursion does
// not. Numbers then need no check of their own (see numberText).
func decodeBytes[T any](data []byte, decode func(*decoder, *fastjson.Value) T) (T, error) {
	var zero T
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(data)
	if err == nil {
		err = fastjson.ValidateBytes(data)
	}
	if err != nil {
		return zero, errors.New("invalid JSON: " + err.Error())
	}
	return decodeWith(decoder{validated: true}, v, decode)
}

// decodeValue decodes an already parsed value (the *FromValue entry points).
// Its text was never validated: numberText checks each number.
func decodeValue[T any](v *fastjson.Value, decode func(*decoder, *fastjson.Value) T) (T, error) {
	return decodeWith(decoder{}, v, decode)
}

func decodeWith[T any](d decoder, v *fastjson.Value, decode func(*decoder, *fastjson.Value) T) (T, error) {
	if v == nil {
		v = jsonNull
	}
	out := decode(&d, v)
	if d.err != nil {
		var zero T
		return zero, d.err
	}
	return out, nil
}

var jsonNull = fastjson.MustParse("null")

// decoder holds the state of one decode: the first error, the path to the
// value being decoded (rendered only when an error occurs, so a successful
// decode builds no path strings) and a scratch buffer for number literals.
type decoder struct {
	err  error
	path []segment
	num  []byte
	// validated is set when the whole document passed fastjson's validator.
	validated bool
}

// segment is one step of a path: an object key, or an array index when key
// is nil.
type segment struct {
	key   []byte
	index int
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &FieldError{Field: d.pathString(), Msg: msg}
	}
}

func (d *decoder) wrongType(want string, v *fastjson.Value) {
	d.fail("expected " + want + ", got " + typeName(v.Type()))
}

func (d *decoder) pathString() string {
	var b []byte
	for _, s := range d.path {
		switch {
		case s.key == nil:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		case len(b) > 0:
			b = append(b, '.')
			fallthrough
		default:
			b = append(b, s.key...)
		}
	}
	return validUTF8(b)
}

func typeName(t fastjson.Type) string {
	if t == fastjson.TypeTrue || t == fastjson.TypeFalse {
		return "boolean"
	}
	return t.String()
}

// fields calls f for every member of the object v, with the member's key on
// the path. null stands for an absent object; any other type is an error.
func (d *decoder) fields(v *fastjson.Value, f func(key []byte, v *fastjson.Value)) {
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeObject:
	default:
		d.wrongType("an object", v)
		return
	}
	o, _ := v.Object()
	o.Visit(func(key []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		if key == nil {
			key = []byte{} // nil marks an array index in segment
		}
		d.path = append(d.path, segment{key: key})
		f(key, v)
		d.path = d.path[:len(d.path)-1]
	})
}

// elements calls f for every item of the array v, with its index on the
// path. It reports whether v was an array; null is not, without an error.
func (d *decoder) elements(v *fastjson.Value, f func(v *fastjson.Value)) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return false
	case fastjson.TypeArray:
	default:
		d.wrongType("an array", v)
		return false
	}
	items, _ := v.Array()
	for i, item := range items {
		if d.err != nil {
			break
		}
		d.path = append(d.path, segment{index: i})
		f(item)
		d.path = d.path[:len(d.path)-1]
	}
	return true
}

// decodeSlice decodes a JSON array; null gives a nil slice and [] an empty
// one, so encoding gives back what was decoded.
func decodeSlice[T any](d *decoder, v *fastjson.Value, elem func(*decoder, *fastjson.Value) T) []T {
	out := make([]T, 0, len(v.GetArray()))
	if !d.elements(v, func(v *fastjson.Value) { out = append(out, elem(d, v)) }) || d.err != nil {
		return nil
	}
	return out
}

// decodeMap decodes a JSON object with arbitrary keys; null gives a nil map.
func decodeMap[T any](d *decoder, v *fastjson.Value, elem func(*decoder, *fastjson.Value) T) map[string]T {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		d.wrongType("an object", v)
		return nil
	}
	m := make(map[string]T, o.Len())
	d.fields(v, func(key []byte, v *fastjson.Value) {
		m[validUTF8(key)] = elem(d, v)
	})
	return m
}

func (d *decoder) str(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return validUTF8(b)
	case fastjson.TypeNull:
	default:
		d.wrongType("a string", v)
	}
	return ""
}

func (d *decoder) boolean(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse, fastjson.TypeNull:
	default:
		d.wrongType("a boolean", v)
	}
	return false
}

// numberText returns the literal of a JSON number in d's scratch buffer; ok
// is false for null and after an error.
func (d *decoder) numberText(v *fastjson.Value, want string) (lit []byte, ok bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
	case fastjson.TypeNull:
		return nil, false
	default:
		d.wrongType(want, v)
		return nil, false
	}
	d.num = v.MarshalTo(d.num[:0])
	// Values handed to *FromValue skipped decodeBytes' validation, and fastjson
	// parses NaN, Inf and 01 as numbers; after decodeBytes every literal is
	// valid and checking it again would only cost time.
	if !d.validated && fastjson.ValidateBytes(d.num) != nil {
		d.fail("invalid number " + strconv.Quote(string(d.num)))
		return nil, false
	}
	return d.num, true
}

func (d *decoder) f64(v *fastjson.Value) float64 {
	lit, ok := d.numberText(v, "a number")
	if !ok {
		return 0
	}
	// strconv rather than fastjson's parser: it rounds correctly, so the
	// shortest form written by the encoder reads back as the same float.
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		d.fail("number " + string(lit) + " is out of range")
		return 0
	}
	return f
}

func (d *decoder) i64(v *fastjson.Value) int64 {
	lit, ok := d.numberText(v, "an integer")
	if !ok {
		return 0
	}
	if n, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	switch {
	case err != nil || f < math.MinInt64 || f >= math.MaxInt64:
		d.fail("number " + string(lit) + " is out of range for an integer")
	case f != math.Trunc(f):
		d.fail("expected an integer, got " + string(lit))
	default:
		return int64(f)
	}
	return 0
}

func (d *decoder) int(v *fastjson.Value) int {
	n := d.i64(v)
	if int64(int(n)) != n {
		d.fail("number " + strconv.FormatInt(n, 10) + " is out of range for an int")
		return 0
	}
	return int(n)
}

// raw re-encodes any JSON value as compact JSON text (meta_data values).
// Strings are re-escaped by AppendString, so the text is exactly what the
// encoder would write and a decode/encode round trip is byte-stable.
func (d *decoder) raw(v *fastjson.Value) RawValue {
	return d.appendRaw(nil, v)
}

func (d *decoder) appendRaw(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		dst = append(dst, '{')
		n := 0
		d.fields(v, func(key []byte, v *fastjson.Value) {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = AppendString(dst, validUTF8(key))
			dst = append(dst, ':')
			dst = d.appendRaw(dst, v)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		dst = append(dst, '[')
		n := 0
		d.elements(v, func(v *fastjson.Value) {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = d.appendRaw(dst, v)
		})
		return append(dst, ']')
	case fastjson.TypeString:
		return AppendString(dst, d.str(v))
	case fastjson.TypeNumber:
		if lit, ok := d.numberText(v, "a number"); ok {
			return append(dst, lit...)
		}
		return dst
	case fastjson.TypeTrue:
		return append(dst, "true"...)
	case fastjson.TypeFalse:
		return append(dst, "false"...)
	default:
		return append(dst, "null"...)
	}
}

// validUTF8 copies b into a string, replacing each byte that is not part of
// valid UTF-8 with U+FFFD as encoding/json does.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}
