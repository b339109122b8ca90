package oauth

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/valyala/fastjson"
)

// Field is one form parameter.
type Field struct{ Name, Value string }

// Form is a request's parameters in order: the body's first, then the
// query's, as Go's Request.ParseForm merges them for Tyk.
type Form []Field

// Get returns the first value of name ("" when absent), as url.Values.Get.
func (f Form) Get(name string) string {
	for _, p := range f {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// set replaces every value of name with v.
func (f Form) set(name, v string) Form {
	out := f[:0:0]
	for _, p := range f {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return append(out, Field{name, v})
}

var errBadEscape = errors.New("invalid URL escape")

// ParseForm decodes application/x-www-form-urlencoded data (a body or a
// query string) as url.ParseQuery does: pairs split at '&', '+' is a space,
// empty pairs are skipped, a ';' or a bad %-escape is an error (the other
// pairs are kept).
func ParseForm(s string) (Form, error) {
	var f Form
	var err error
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if strings.Contains(pair, ";") {
			err = errors.New("invalid semicolon separator in query")
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, e1 := unescape(k)
		v, e2 := unescape(v)
		if e1 != nil || e2 != nil {
			err = errBadEscape
			continue
		}
		f = append(f, Field{k, v})
	}
	return f, err
}

// unescape undoes form encoding: %XX and '+'.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", errBadEscape
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Request is a request to an OAuth endpoint as both sides see it.
type Request struct {
	Method        string
	Authorization string // the Authorization header
	Params        Form
}

// ParseRequest reads a request's parameters as Tyk does: a body of type
// application/x-www-form-urlencoded is a form (on POST, PUT and PATCH, as
// Go's ParseForm), followed by the query's; a body of type exactly
// application/json is an object of strings whose members replace the
// parameters of the same name (Tyk's JSONToFormValues). A malformed form
// is an error (osin's invalid_request); a JSON body that is not an object
// of strings is ignored, as Tyk ignores it.
func ParseRequest(method, authorization, contentType, query string, body []byte) (Request, error) {
	r := Request{Method: method, Authorization: authorization}
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	var err error
	if mediaType == "application/x-www-form-urlencoded" && (method == "POST" || method == "PUT" || method == "PATCH") {
		r.Params, err = ParseForm(string(body))
	}
	q, qerr := ParseForm(query)
	r.Params = append(r.Params, q...)
	if err == nil {
		err = qerr
	}
	if contentType == "application/json" {
		r.Params = mergeJSON(r.Params, body)
	}
	return r, err
}

func mergeJSON(f Form, body []byte) Form {
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return f
	}
	o, err := v.Object()
	if err != nil {
		return f
	}
	var vals []Field
	ok := true
	o.Visit(func(k []byte, v *fastjson.Value) {
		s, err := v.StringBytes()
		if err != nil {
			ok = false
			return
		}
		vals = append(vals, Field{string(k), string(s)})
	})
	if !ok { // Tyk decodes into map[string]string: one non-string fails it all
		return f
	}
	for _, p := range vals {
		f = f.set(p.Name, p.Value)
	}
	return f
}

// ParseBasic reads HTTP Basic client credentials as osin's CheckBasicAuth:
// no header is (false, nil); the scheme must be exactly "Basic", the rest
// standard base64 of "id:secret".
func ParseBasic(authorization string) (id, secret string, present bool, err error) {
	if authorization == "" {
		return "", "", false, nil
	}
	scheme, rest, ok := strings.Cut(authorization, " ")
	if !ok || scheme != "Basic" {
		return "", "", true, errors.New("invalid authorization header")
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", "", true, err
	}
	id, secret, ok = strings.Cut(string(b), ":")
	if !ok {
		return "", "", true, errors.New("invalid authorization message")
	}
	return id, secret, true, nil
}

// AppendBasic appends the Authorization value of client credentials.
func AppendBasic(dst []byte, id, secret string) []byte {
	dst = append(dst, "Basic "...)
	return base64.StdEncoding.AppendEncode(dst, []byte(id+":"+secret))
}
