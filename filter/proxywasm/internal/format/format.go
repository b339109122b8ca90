// Package format is a small, allocation-conscious subset of fmt.Sprintf for
// code running in the proxy-wasm VM. It exists because fmt links package os,
// and any Go wasip1 module linking os crashes on Envoy builds whose host
// returns ENOSYS from poll_oneoff (see the proxywasm package documentation).
//
// Supported verbs: %v %s %q %d %x %X %t %f %g %e and %%, with a width, the
// flags '-' (pad right), '0' (zero-pad numbers) and '+' (sign numbers), and a
// precision for %f, %g and %e; '#' and ' ' are accepted and ignored. Operands may be
// nil, string, []byte, error, fmt.Stringer-like values (String() string),
// bool, all integer and float kinds. Mismatches are reported inline the way
// fmt does (%!d(string=x), %!d(MISSING), %!(EXTRA ...)), never by panicking.
package format

import (
	"reflect"
	"strconv"
	"unicode/utf8"
)

type stringer interface{ String() string }

// Sprintf formats according to a format specifier; see the package comment
// for what is supported.
func Sprintf(format string, args ...any) string {
	b := make([]byte, 0, len(format)+16*len(args))
	return string(Append(b, format, args...))
}

// Append is Sprintf appending to b.
func Append(b []byte, format string, args ...any) []byte {
	argi := 0
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			j := i + 1
			for j < len(format) && format[j] != '%' {
				j++
			}
			b = append(b, format[i:j]...)
			i = j
			continue
		}
		i++
		var sp spec
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				sp.minus = true
			case '0':
				sp.zero = true
			case '+':
				sp.plus = true
			case '#', ' ':
			default:
				break flags
			}
		}
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			if sp.width < 1000 {
				sp.width = sp.width*10 + int(format[i]-'0')
			}
			i++
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			prec = 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				if prec < 1000 {
					prec = prec*10 + int(format[i]-'0')
				}
				i++
			}
		}
		if i >= len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if argi >= len(args) {
			b = append(b, "%!"...)
			b = utf8.AppendRune(b, verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		start := len(b)
		b = appendArg(b, verb, prec, args[argi])
		b = sp.apply(b, start, args[argi])
		argi++
	}
	if argi < len(args) {
		b = append(b, "%!(EXTRA "...)
		for k, a := range args[argi:] {
			if k > 0 {
				b = append(b, ", "...)
			}
			b = appendTypeName(b, a)
			b = append(b, '=')
			b = appendArg(b, 'v', -1, a)
		}
		b = append(b, ')')
	}
	return b
}

// Value formats one value as %v would.
func Value(v any) string {
	return string(appendArg(nil, 'v', -1, v))
}

// spec holds the flags and width of one verb.
type spec struct {
	width             int
	minus, zero, plus bool
}

// apply post-processes the operand text b[start:]: sign, then padding to the
// width. Working on the finished text keeps the per-type code flag-free.
func (sp spec) apply(b []byte, start int, arg any) []byte {
	numeric := isNumber(arg) && len(b) > start && b[start] != '%'
	if sp.plus && numeric && b[start] != '-' && b[start] != '+' {
		b = append(b, 0)
		copy(b[start+1:], b[start:])
		b[start] = '+'
	}
	pad := sp.width - utf8.RuneCount(b[start:])
	if pad <= 0 {
		return b
	}
	if sp.minus {
		for ; pad > 0; pad-- {
			b = append(b, ' ')
		}
		return b
	}
	fill, at := byte(' '), start
	if sp.zero && numeric {
		fill = '0'
		if b[start] == '-' || b[start] == '+' {
			at++ // zeros go between the sign and the digits
		}
	}
	n := len(b)
	for k := 0; k < pad; k++ {
		b = append(b, 0)
	}
	copy(b[at+pad:], b[at:n])
	for k := at; k < at+pad; k++ {
		b[k] = fill
	}
	return b
}

func isNumber(arg any) bool {
	switch arg.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr, float32, float64:
		return true
	}
	return false
}

func appendArg(b []byte, verb rune, prec int, arg any) []byte {
	switch a := arg.(type) {
	case nil:
		if verb == 'v' {
			return append(b, "<nil>"...)
		}
	case string:
		return appendString(b, verb, a, arg)
	case []byte:
		return appendString(b, verb, string(a), arg)
	case error:
		return appendString(b, verb, safeCall(a.Error), arg)
	case stringer:
		return appendString(b, verb, safeCall(a.String), arg)
	case bool:
		if verb == 'v' || verb == 't' {
			return strconv.AppendBool(b, a)
		}
	case int:
		return appendInt(b, verb, int64(a), arg)
	case int8:
		return appendInt(b, verb, int64(a), arg)
	case int16:
		return appendInt(b, verb, int64(a), arg)
	case int32:
		return appendInt(b, verb, int64(a), arg)
	case int64:
		return appendInt(b, verb, a, arg)
	case uint:
		return appendUint(b, verb, uint64(a), arg)
	case uint8:
		return appendUint(b, verb, uint64(a), arg)
	case uint16:
		return appendUint(b, verb, uint64(a), arg)
	case uint32:
		return appendUint(b, verb, uint64(a), arg)
	case uint64:
		return appendUint(b, verb, a, arg)
	case uintptr:
		return appendUint(b, verb, uint64(a), arg)
	case float32:
		return appendFloat(b, verb, prec, float64(a), 32, arg)
	case float64:
		return appendFloat(b, verb, prec, a, 64, arg)
	}
	return appendBadVerb(b, verb, arg)
}

// safeCall runs an Error or String method. Like fmt, it turns a panic in
// the method (typically a nil receiver) into text: formatting a log line must
// not take the VM down.
func safeCall(method func() string) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = "%!(PANIC in Error/String method)"
		}
	}()
	return method()
}

func appendString(b []byte, verb rune, s string, arg any) []byte {
	switch verb {
	case 'v', 's':
		return append(b, s...)
	case 'q':
		return strconv.AppendQuote(b, s)
	case 'x':
		return appendHex(b, s, "0123456789abcdef")
	case 'X':
		return appendHex(b, s, "0123456789ABCDEF")
	}
	return appendBadVerb(b, verb, arg)
}

func appendHex(b []byte, s string, digits string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, digits[s[i]>>4], digits[s[i]&0xf])
	}
	return b
}

func appendInt(b []byte, verb rune, v int64, arg any) []byte {
	switch verb {
	case 'v', 'd':
		return strconv.AppendInt(b, v, 10)
	case 'x', 'X':
		if v < 0 {
			b = append(b, '-')
			return appendUint(b, verb, uint64(-v), arg)
		}
		return appendUint(b, verb, uint64(v), arg)
	}
	return appendBadVerb(b, verb, arg)
}

func appendUint(b []byte, verb rune, v uint64, arg any) []byte {
	switch verb {
	case 'v', 'd':
		return strconv.AppendUint(b, v, 10)
	case 'x':
		return strconv.AppendUint(b, v, 16)
	case 'X':
		start := len(b)
		b = strconv.AppendUint(b, v, 16)
		for i := start; i < len(b); i++ {
			if b[i] >= 'a' {
				b[i] -= 'a' - 'A'
			}
		}
		return b
	}
	return appendBadVerb(b, verb, arg)
}

func appendFloat(b []byte, verb rune, prec int, v float64, bits int, arg any) []byte {
	switch verb {
	case 'v', 'g':
		return strconv.AppendFloat(b, v, 'g', prec, bits)
	case 'f', 'e':
		if prec < 0 {
			prec = 6
		}
		return strconv.AppendFloat(b, v, byte(verb), prec, bits)
	}
	return appendBadVerb(b, verb, arg)
}

// appendBadVerb writes fmt's notation for a verb that does not fit its
// operand, e.g. %!d(string=hi).
func appendBadVerb(b []byte, verb rune, arg any) []byte {
	b = append(b, "%!"...)
	b = utf8.AppendRune(b, verb)
	b = append(b, '(')
	if arg == nil {
		b = append(b, "<nil>"...)
	} else {
		b = appendTypeName(b, arg)
		b = append(b, '=')
		b = appendPlain(b, arg)
	}
	return append(b, ')')
}

// appendPlain formats arg with %v when it is a supported operand, otherwise
// with a placeholder; it never recurses into appendBadVerb.
func appendPlain(b []byte, arg any) []byte {
	switch arg.(type) {
	case string, []byte, error, stringer, bool, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, uintptr, float32, float64:
		return appendArg(b, 'v', -1, arg)
	}
	return append(b, '?')
}

func appendTypeName(b []byte, arg any) []byte {
	if arg == nil {
		return append(b, "<nil>"...)
	}
	return append(b, reflect.TypeOf(arg).String()...)
}
