package bodytmpl

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Data is what Tyk hands a template for a JSON body: an empty body is {},
// an object is itself, an array is {"array": [...]}, and any other value
// (a string, number, true, false, null) gives an empty map. err is non-nil
// when the body is not JSON; data is then the empty map Tyk's response
// transform goes on with (its request transform stops instead).
func Data(body []byte) (data map[string]any, err error) {
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	v, err := DecodeJSON(body)
	if err != nil {
		return map[string]any{}, err
	}
	switch v := v.(type) {
	case map[string]any:
		return v, nil
	case []any:
		return map[string]any{"array": v}, nil
	}
	return map[string]any{}, nil
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// DecodeJSON decodes a JSON document as encoding/json.Unmarshal into an
// interface{} does: objects as map[string]any (a repeated key: the last
// wins), arrays as []any, numbers as float64 (out of range: an error),
// invalid UTF-8 in strings replaced by U+FFFD.
func DecodeJSON(b []byte) (any, error) {
	d := decoder{b: b}
	d.space()
	v := d.value(0)
	d.space()
	if d.err == nil && d.i < len(d.b) {
		d.fail("invalid character after top-level value")
	}
	if d.err != nil {
		return nil, d.err
	}
	return v, nil
}

type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New("json: " + msg + " at offset " + strconv.Itoa(d.i))
	}
	d.i = len(d.b)
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) any {
	if depth > maxDepth {
		d.fail("exceeded max depth")
		return nil
	}
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return nil
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		d.space()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return m
		}
		for d.err == nil {
			d.space()
			if d.i >= len(d.b) || d.b[d.i] != '"' {
				d.fail("expected object key")
				return nil
			}
			k := d.str()
			d.space()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				d.fail("expected ':'")
				return nil
			}
			d.i++
			d.space()
			m[k] = d.value(depth + 1)
			d.space()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == '}' {
				d.i++
				return m
			}
			d.fail("expected ',' or '}'")
		}
		return nil
	case c == '[':
		d.i++
		a := []any{}
		d.space()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return a
		}
		for d.err == nil {
			d.space()
			a = append(a, d.value(depth+1))
			d.space()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == ']' {
				d.i++
				return a
			}
			d.fail("expected ',' or ']'")
		}
		return nil
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(d.b)-d.i >= len(lit.text) && string(d.b[d.i:d.i+len(lit.text)]) == lit.text {
			d.i += len(lit.text)
			return lit.v
		}
	}
	d.fail("invalid character")
	return nil
}

func (d *decoder) number() any {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		d.fail("invalid number")
		return nil
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			d.fail("invalid number")
			return nil
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			d.fail("invalid number")
			return nil
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		d.fail("cannot unmarshal number " + string(d.b[start:d.i]) + " into Go value of type float64")
		return nil
	}
	return f
}

// str reads a string at d.i (the opening quote).
func (d *decoder) str() string {
	d.i++
	var out []byte
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(append(out, d.b[start:d.i]...))
			d.i++
			return s
		case c < 0x20:
			d.fail("invalid character in string literal")
			return ""
		case c == '\\':
			out = append(out, d.b[start:d.i]...)
			d.i++
			if d.i >= len(d.b) {
				break
			}
			e := d.b[d.i]
			d.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := d.hex4()
				if r < 0 {
					d.fail("invalid escape in string literal")
					return ""
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						r2 = d.hex4()
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							start = d.i
							continue
						}
						d.i = save
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				d.fail("invalid escape in string literal")
				return ""
			}
			start = d.i
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, d.b[start:d.i]...)
				out = utf8.AppendRune(out, utf8.RuneError)
				d.i++
				start = d.i
				continue
			}
			d.i += size
		}
	}
	d.fail("unexpected end of JSON input")
	return ""
}

func (d *decoder) hex4() rune {
	if len(d.b)-d.i < 4 {
		return -1
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	d.i += 4
	return r
}

// AppendJSON appends v as encoding/json.Marshal writes it (Tyk's
// jsonMarshal): object keys sorted, HTML characters and U+2028/U+2029
// escaped, invalid UTF-8 as \ufffd, floats as ES6 numbers.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil, noValue:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return dst, errors.New("json: unsupported value: " + strconv.FormatFloat(v, 'g', -1, 64))
		}
		f := byte('f')
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			f = 'e'
		}
		dst = strconv.AppendFloat(dst, v, f, -1, 64)
		if n := len(dst); f == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst, nil
	case string:
		return model.AppendString(dst, v), nil
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendJSON(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(model.AppendString(dst, k), ':')
			var err error
			if dst, err = AppendJSON(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, errors.New("json: unsupported type")
}
