package plugin

import (
	"bytes"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// compactSession rewrites a stored session's JSON, which DecodeSession
// accepted, without the members that decode to their zero value anyway:
// null, false, 0 and "" fields, and the value structs that are left empty.
// The sidecar returns Tyk's classic form, every field present (about 1.2 KB
// for a key with one API), and the VM keeps a session as JSON for as long
// as it is cached; compact it is a few hundred bytes. DecodeSession of the
// result equals DecodeSession of the input (FuzzCompactSession): the model
// decoders treat a missing member as null and null as the zero value.
//
// Only struct fields are dropped. meta_data and oauth_keys are maps whose
// values are data, so they are kept whole; access_rights is a map whose
// keys are kept and whose values are structs. An object with a duplicated
// member keeps all its members, because there the last one wins and a
// dropped zero could be the last. On a parse error (which a validated
// input cannot have) the input is returned as is.
func compactSession(data []byte) []byte {
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil || v.Type() != fastjson.TypeObject {
		return bytes.Clone(data)
	}
	return appendStruct(make([]byte, 0, len(data)/2), v, true)
}

// valueStructs are the fields whose type is a struct value (not a pointer,
// map or slice): for them {} and absent decode alike.
var valueStructs = map[string]bool{"basic_auth_data": true, "jwt_data": true, "monitor": true, "limit": true}

// appendStruct writes the object v, whose members are struct fields.
func appendStruct(dst []byte, v *fastjson.Value, root bool) []byte {
	o, _ := v.Object()
	keep := hasDuplicates(o)
	dst = append(dst, '{')
	first := true
	o.Visit(func(k []byte, m *fastjson.Value) {
		if !keep && isZeroJSON(m) && (string(k) != "last_updated" || m.Type() != fastjson.TypeNumber) {
			return // (last_updated decodes a number as its decimal text: 0 is "0")
		}
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, string(k))
		dst = append(dst, ':')
		valStart := len(dst)
		name := string(k)
		switch {
		case root && (name == "meta_data" || name == "oauth_keys"):
			dst = appendWhole(dst, m)
		case root && name == "access_rights" && m.Type() == fastjson.TypeObject:
			dst = appendMapOfStructs(dst, m)
		default:
			dst = appendValue(dst, m)
		}
		if !keep && valueStructs[name] && string(dst[valStart:]) == "{}" {
			dst = dst[:mark] // an empty value struct is its zero value
			return
		}
		first = false
	})
	return append(dst, '}')
}

// appendMapOfStructs writes a map whose keys are data and whose values are
// structs.
func appendMapOfStructs(dst []byte, v *fastjson.Value) []byte {
	o, _ := v.Object()
	dst = append(dst, '{')
	first := true
	o.Visit(func(k []byte, m *fastjson.Value) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = model.AppendString(dst, string(k))
		dst = append(dst, ':')
		dst = appendValue(dst, m)
	})
	return append(dst, '}')
}

// appendValue writes a value inside a struct: objects there are structs,
// arrays keep every element.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		return appendStruct(dst, v, false)
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, e := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		return appendJSONString(dst, v)
	}
	return v.MarshalTo(dst)
}

// appendWhole writes v with every member kept.
func appendWhole(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, m *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = model.AppendString(dst, string(k))
			dst = append(dst, ':')
			dst = appendWhole(dst, m)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, e := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendWhole(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		return appendJSONString(dst, v)
	}
	return v.MarshalTo(dst) // numbers as written, true, false, null
}

// appendJSONString writes a string value. fastjson's own MarshalTo quotes
// strings the Go way (\x00), which is not JSON.
func appendJSONString(dst []byte, v *fastjson.Value) []byte {
	b, _ := v.StringBytes()
	return model.AppendString(dst, string(b))
}

// isZeroJSON reports a member that decodes like a missing one. Only the
// literal 0 counts as a zero number: -0 and 0.0 are kept rather than
// reasoned about.
func isZeroJSON(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNull, fastjson.TypeFalse:
		return true
	case fastjson.TypeNumber:
		var b [1]byte
		out := v.MarshalTo(b[:0])
		return len(out) == 1 && out[0] == '0'
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return len(s) == 0
	}
	return false
}

func hasDuplicates(o *fastjson.Object) bool {
	seen := make(map[string]struct{}, o.Len())
	dup := false
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if _, ok := seen[string(k)]; ok {
			dup = true
		}
		seen[string(k)] = struct{}{}
	})
	return dup
}
