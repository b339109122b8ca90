package wire

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// parsers serves every decoder: a quota answer is decoded per request, and a
// pooled parser reuses its memory. Decoders copy what they keep, since a
// parser's values die with its next use.
var parsers fastjson.ParserPool

// ErrorResponse is the body of every answer that is not StatusOK:
// {"error":"<message>"}.
type ErrorResponse struct {
	Error string
}

// AppendErrorResponse appends {"error":msg}.
func AppendErrorResponse(dst []byte, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = model.AppendString(dst, msg)
	return append(dst, '}')
}

// DecodeErrorResponse decodes an error answer. A body without a string
// "error" field is rejected: the caller then has only the status to go by.
func DecodeErrorResponse(body []byte) (ErrorResponse, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "error answer")
	if err != nil {
		return ErrorResponse{}, err
	}
	e := v.Get("error")
	if e == nil || e.Type() != fastjson.TypeString {
		return ErrorResponse{}, errors.New("error answer: no \"error\" string")
	}
	b, _ := e.StringBytes()
	return ErrorResponse{Error: validUTF8(b)}, nil
}

// parseObject parses body, which must be a JSON object. what names the
// document in errors.
func parseObject(p *fastjson.Parser, body []byte, what string) (*fastjson.Value, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, errors.New(what + ": invalid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New(what + ": not an object")
	}
	return v, nil
}

// intValue reads an integer field: a number without fraction or exponent,
// or null (zero).
func intValue(v *fastjson.Value, name string) (int64, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return 0, nil
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
	}
	return 0, errors.New("field " + strconv.Quote(name) + ": expected an integer")
}

// boolValue reads a boolean field, or null (false).
func boolValue(v *fastjson.Value, name string) (bool, error) {
	switch v.Type() {
	case fastjson.TypeNull, fastjson.TypeFalse:
		return false, nil
	case fastjson.TypeTrue:
		return true, nil
	}
	return false, errors.New("field " + strconv.Quote(name) + ": expected a boolean")
}

// stringValue reads a string field, or null (empty).
func stringValue(v *fastjson.Value, name string) (string, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return "", nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return validUTF8(b), nil
	}
	return "", errors.New("field " + strconv.Quote(name) + ": expected a string")
}

// validUTF8 copies b into a string with each byte that is not valid UTF-8
// replaced by U+FFFD, as encoding/json does and as model.AppendString
// writes it, so a decoded string re-encodes to the same text.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}
