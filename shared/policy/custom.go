package policy

import (
	"github.com/valyala/fastjson"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// customPolicies decodes meta_data.policies, Tyk's "custom policies": an
// array of full policy objects that replaces the key's policy ids. Like Tyk,
// anything else under that key (not an array, or an element that does not
// decode as a policy) is not an error: the key's own policies apply instead.
func customPolicies(meta map[string]model.RawValue) (listStore, bool) {
	raw, ok := meta["policies"]
	if !ok {
		return nil, false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeArray {
		return nil, false
	}
	elems, _ := v.Array()
	list := make(listStore, 0, len(elems))
	for _, e := range elems {
		pol, err := model.PolicyFromValue(e)
		if err != nil {
			return nil, false
		}
		list = append(list, pol)
	}
	return list, true
}
