package plugin

import (
	"errors"
	"strconv"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/valyala/fastjson"
)

// snapshot is the configuration every decision reads: policies, API
// definitions and org sessions from the sidecar's sync feed, plus the
// static API definitions of the plugin configuration. It is replaced, never
// modified, so a request holds a consistent view.
type snapshot struct {
	// seq numbers the snapshots this VM has used; effective sessions are
	// cached per seq, so a new snapshot re-applies policies once per key.
	seq      uint64
	version  string
	policies policy.Map
	orgs     map[string]*model.OrgSession
	routes   *route.Table
	// apiBuckets holds the shared-data key of every API with a
	// global_rate_limit, so a request does not build it.
	apiBuckets map[*model.APIDefinition]string
}

// syncResponse is one answer of GET /turnpike/v1/sync.
type syncResponse struct {
	version string
	cursor  string
	reset   bool
	more    bool
	keys    []string
	// hasSnapshot: the answer carries a snapshot (the version changed).
	hasSnapshot bool
	policies    policy.Map
	apis        []*model.APIDefinition
	orgs        map[string]*model.OrgSession
}

// parseSync decodes a sync answer. A malformed snapshot rejects the whole
// answer: applying half a policy set could grant access that the full set
// denies.
func parseSync(body []byte) (*syncResponse, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, errors.New("sync: invalid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("sync: answer is not an object")
	}
	r := &syncResponse{
		version: string(v.GetStringBytes("version")),
		cursor:  string(v.GetStringBytes("cursor")),
		reset:   v.GetBool("reset"),
		more:    v.GetBool("more"),
	}
	for i, k := range v.GetArray("keys") {
		b, err := k.StringBytes()
		if err != nil {
			return nil, errors.New("sync: keys[" + strconv.Itoa(i) + "] is not a string")
		}
		r.keys = append(r.keys, string(b))
	}
	snap := v.Get("snapshot")
	if snap == nil || snap.Type() == fastjson.TypeNull {
		return r, nil
	}
	r.hasSnapshot = true
	r.policies = policy.Map{}
	if o := snap.GetObject("policies"); o != nil {
		o.Visit(func(k []byte, pv *fastjson.Value) {
			if err != nil {
				return
			}
			var pol *model.Policy
			pol, err = model.PolicyFromValue(pv)
			if err != nil {
				err = errors.New("sync: policy " + strconv.Quote(string(k)) + ": " + err.Error())
				return
			}
			if pol.ID == "" {
				pol.ID = string(k)
			}
			r.policies[string(k)] = pol
		})
		if err != nil {
			return nil, err
		}
	}
	for i, av := range snap.GetArray("apis") {
		api, err := model.APIDefinitionFromValue(av)
		if err != nil {
			return nil, errors.New("sync: apis[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		r.apis = append(r.apis, api)
	}
	if o := snap.GetObject("orgs"); o != nil {
		r.orgs = map[string]*model.OrgSession{}
		o.Visit(func(k []byte, ov *fastjson.Value) {
			if err != nil {
				return
			}
			var org *model.OrgSession
			org, err = model.SessionFromValue(ov)
			if err != nil {
				err = errors.New("sync: org " + strconv.Quote(string(k)) + ": " + err.Error())
				return
			}
			r.orgs[string(k)] = org
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// newSnapshot combines a sync snapshot with the static API definitions; the
// sidecar's definition wins for an api_id both define.
func newSnapshot(seq uint64, r *syncResponse, static []*model.APIDefinition) *snapshot {
	apis := make([]*model.APIDefinition, 0, len(static)+len(r.apis))
	synced := make(map[string]bool, len(r.apis))
	for _, a := range r.apis {
		synced[a.APIID] = true
		apis = append(apis, a)
	}
	for _, a := range static {
		if !synced[a.APIID] {
			apis = append(apis, a)
		}
	}
	buckets := map[*model.APIDefinition]string{}
	for _, a := range apis {
		if g := a.GlobalRateLimit; !g.Disabled && g.Rate > 0 && g.Per > 0 {
			buckets[a] = shm.APIBucketKey(a.APIID)
		}
	}
	return &snapshot{
		seq:        seq,
		version:    r.version,
		policies:   r.policies,
		orgs:       r.orgs,
		routes:     route.New(apis),
		apiBuckets: buckets,
	}
}
