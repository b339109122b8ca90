package policy

import "github.com/turnpike-dev/turnpike/shared/model"

// Store looks up policies by id.
//
// Apply only reads what a Store returns; it never modifies a returned policy,
// so a Store may hand out the same pointers to concurrent callers.
type Store interface {
	Policy(id string) (*model.Policy, bool)
}

// Map is a Store backed by a map (what policies.json decodes into).
type Map map[string]*model.Policy

// Policy returns the policy stored under id. A nil entry counts as missing.
func (m Map) Policy(id string) (*model.Policy, bool) {
	p := m[id]
	return p, p != nil
}

// listStore is the store Tyk builds from custom policies (meta_data.policies):
// an ordered list in which a lookup finds the first policy with that id, so a
// list with a repeated id applies the first of them twice, as Tyk does.
type listStore []*model.Policy

func (l listStore) Policy(id string) (*model.Policy, bool) {
	for _, p := range l {
		if p.ID == id {
			return p, true
		}
	}
	return nil, false
}

// ids lists the policy ids in list order; nil for an empty list, which makes
// a session with `"policies": []` behave like one with no policies at all.
func (l listStore) ids() []string {
	if len(l) == 0 {
		return nil
	}
	ids := make([]string, len(l))
	for i, p := range l {
		ids[i] = p.ID
	}
	return ids
}
