package model

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// DecodePolicy decodes one Tyk policy (a policy_path file, a REST API body).
func DecodePolicy(data []byte) (*Policy, error) {
	return decodeBytes(data, (*decoder).policy)
}

// PolicyFromValue decodes a policy embedded in a larger parsed document, such
// as the custom policies in a session's meta_data.
func PolicyFromValue(v *fastjson.Value) (*Policy, error) {
	return decodeValue(v, (*decoder).policy)
}

// DecodePolicies decodes a set of policies keyed by id, in either of Tyk's
// two shapes:
//   - an object keyed by id (policies.json / policy_record_name); the key
//     replaces the inner id, as in Tyk 5.12+;
//   - an array (RPC and dashboard payloads); a policy without id is keyed by
//     its _id, as Tyk does for dashboard policies.
//
// A policy that would end up without id, or two policies with one id, is an
// error: Tyk would silently keep one, and which one is an accident of order.
func DecodePolicies(data []byte) (map[string]*Policy, error) {
	return decodeBytes(data, (*decoder).policies)
}

// UnmarshalJSON implements json.Unmarshaler with DecodePolicy.
func (p *Policy) UnmarshalJSON(data []byte) error {
	out, err := DecodePolicy(data)
	if err == nil {
		*p = *out
	}
	return err
}

func (d *decoder) policies(v *fastjson.Value) map[string]*Policy {
	out := make(map[string]*Policy)
	add := func(p *Policy) {
		if _, dup := out[p.ID]; dup {
			d.fail("duplicate policy id " + strconv.Quote(p.ID))
		}
		out[p.ID] = p
	}
	switch v.Type() {
	case fastjson.TypeNull:
	case fastjson.TypeArray:
		d.elements(v, func(v *fastjson.Value) {
			p := d.policy(v)
			if p.ID == "" {
				p.ID = p.MID
			}
			if p.ID == "" {
				d.fail("policy has neither id nor _id")
			}
			add(p)
		})
	case fastjson.TypeObject:
		d.fields(v, func(key []byte, v *fastjson.Value) {
			p := d.policy(v)
			p.ID = validUTF8(key)
			add(p)
		})
	default:
		d.wrongType("an object or an array", v)
	}
	return out
}

// objectID reads a policy's Mongo _id. Tyk decodes it into an ObjectID and
// fails the whole document on anything but "" or 24 hex digits; the value is
// kept in the lower-case form Tyk writes back.
func (d *decoder) objectID(v *fastjson.Value) string {
	s := d.str(v)
	if s == "" {
		return ""
	}
	if len(s) != 24 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		d.fail(`expected "" or 24 hex digits, got ` + strconv.Quote(s))
		return ""
	}
	return strings.ToLower(s)
}
