package snapshot

import (
	"maps"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// Tyk loads a policy into memory only when its "active" flag is true, but
// modern clients omit the field. Turnpike therefore reads a policy without
// "active" (or with null) as active, and one with "active": false as not
// loaded: it is still stored and shown by the Gateway API, but it is left out
// of the policy set keys are evaluated against, here and in the filters, so a
// key using it behaves as with a missing policy. model.Policy.Active cannot
// tell an absent field from false, so the field's presence is read here,
// from the document, before decoding.

// DecodePolicy decodes one policy document; without "active" it is active.
func DecodePolicy(data []byte) (*model.Policy, error) {
	v, err := fastjson.ParseBytes(data)
	if err != nil {
		return model.DecodePolicy(data) // for the decoder's message
	}
	defaultActive(v)
	return model.DecodePolicy(v.MarshalTo(nil))
}

// DecodePolicies decodes a policies file (an object keyed by id, or an
// array); a policy without "active" is active.
func DecodePolicies(data []byte) (map[string]*model.Policy, error) {
	v, err := fastjson.ParseBytes(data)
	if err != nil {
		return model.DecodePolicies(data)
	}
	switch v.Type() {
	case fastjson.TypeObject:
		v.GetObject().Visit(func(_ []byte, p *fastjson.Value) { defaultActive(p) })
	case fastjson.TypeArray:
		for _, p := range v.GetArray() {
			defaultActive(p)
		}
	}
	return model.DecodePolicies(v.MarshalTo(nil))
}

func defaultActive(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		return
	}
	if a := o.Get("active"); a == nil || a.Type() == fastjson.TypeNull {
		o.Set("active", new(fastjson.Arena).NewTrue())
	}
}

// splitActive separates the policies that are loaded from those that are
// not ("active": false).
func splitActive(all map[string]*model.Policy) (active, inactive map[string]*model.Policy) {
	active = maps.Clone(all)
	inactive = map[string]*model.Policy{}
	for id, p := range all {
		if !p.Active {
			inactive[id] = p
			delete(active, id)
		}
	}
	return active, inactive
}
