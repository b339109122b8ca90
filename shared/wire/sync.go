package wire

import (
	"errors"
	"maps"
	"slices"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// SyncPage is a sync answer without its snapshot: the snapshot version the
// sidecar holds and one page of the key feed.
type SyncPage struct {
	// Version is the hex SHA-256 of the sidecar's snapshot JSON: replicas
	// with equal data report equal versions.
	Version string
	// Cursor is the feed position after Keys; the next call sends it.
	Cursor string
	// Reset: the feed lost track of the caller's cursor (unparsable, too
	// old, from another Redis); every cached session must be dropped.
	Reset bool
	// More: the page is full (MaxSyncKeys); call again at once.
	More bool
	// Keys are hashes of keys created, updated or deleted after the
	// caller's cursor, oldest first.
	Keys []string
	// Orgs (added to v1, "orgs", sent when not empty) are organisations
	// whose quota was reset or whose org session was deleted after the
	// caller's cursor: quota units leased before must not be spent.
	Orgs []string
	// EnforceOrgQuotas (added to v1, "enforce_org_quotas", sent when
	// true): the sidecar's --enforce-org-quotas, which filters follow
	// unless their own configuration says otherwise.
	EnforceOrgQuotas bool
}

// SyncResponse is a decoded sync answer.
type SyncResponse struct {
	SyncPage
	// Snapshot is nil when the caller's version is current.
	Snapshot *Snapshot
}

// Snapshot is the configuration a filter decides with.
type Snapshot struct {
	// Policies by id; never nil in a decoded snapshot. A policy without an
	// id gets its key.
	Policies map[string]*model.Policy
	// APIs in the sidecar's order (by api_id).
	APIs []*model.APIDefinition
	// Orgs are organisation sessions by org id; nil when the answer has no
	// "orgs" object.
	Orgs map[string]*model.OrgSession
	// JWKS are the JWT verification keys of APIs with an RSA or ECDSA
	// jwt_source, by api_id: the key of a PEM source (a set of one key
	// without kid) or the keys the sidecar fetched from a JWKS URL. nil
	// when the answer has no "jwks" object (written only when not empty).
	JWKS map[string]jwt.KeySet
	// CacheGenerations are the response cache generations by api_id of the
	// APIs whose cache was invalidated (DELETE /tyk/cache/{apiID}); an API
	// absent is at generation 0. The filter keys cache entries with them.
	CacheGenerations map[string]int64
	// Untracked holds the api_id of every API whose definition says
	// "do_not_track": true (Tyk's field, read from the definition as
	// stored: model.APIDefinition does not carry it); nil when none does.
	// The filter records no analytics for them.
	Untracked map[string]bool
}

// AppendSyncResponse appends the sync answer
// {"version","cursor","reset","more","keys":[…],"snapshot":…}. snapshot is
// the snapshot document as raw JSON — the sidecar keeps it encoded
// (AppendSnapshot's form) and sends it as is — or nil to omit it. Nil keys
// are written as [].
func AppendSyncResponse(dst []byte, page SyncPage, snapshot []byte) []byte {
	dst = append(dst, `{"version":`...)
	dst = model.AppendString(dst, page.Version)
	dst = append(dst, `,"cursor":`...)
	dst = model.AppendString(dst, page.Cursor)
	dst = append(dst, `,"reset":`...)
	dst = strconv.AppendBool(dst, page.Reset)
	dst = append(dst, `,"more":`...)
	dst = strconv.AppendBool(dst, page.More)
	dst = append(dst, `,"keys":[`...)
	for i, k := range page.Keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, k)
	}
	dst = append(dst, ']')
	if len(page.Orgs) > 0 {
		dst = append(dst, `,"orgs":[`...)
		for i, o := range page.Orgs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = model.AppendString(dst, o)
		}
		dst = append(dst, ']')
	}
	if page.EnforceOrgQuotas {
		dst = append(dst, `,"enforce_org_quotas":true`...)
	}
	if snapshot != nil {
		dst = append(dst, `,"snapshot":`...)
		dst = append(dst, snapshot...)
	}
	return append(dst, '}')
}

// AppendSnapshot appends s as the snapshot document
// {"policies":{id:policy},"apis":[definition…],"orgs":{org_id:session}}
// and, when s has key sets, "jwks":{api_id:JWKS}, and when it has any,
// "cache_generations":{api_id:n}: map keys sorted, every other part
// present (nil as empty), documents in model's classic encoding.
func AppendSnapshot(dst []byte, s *Snapshot) []byte {
	dst = append(dst, `{"policies":{`...)
	for i, id := range slices.Sorted(maps.Keys(s.Policies)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, id)
		dst = append(dst, ':')
		dst = s.Policies[id].AppendJSON(dst)
	}
	dst = append(dst, `},"apis":[`...)
	for i, a := range s.APIs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = a.AppendJSON(dst)
	}
	dst = append(dst, `],"orgs":{`...)
	for i, id := range slices.Sorted(maps.Keys(s.Orgs)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, id)
		dst = append(dst, ':')
		dst = s.Orgs[id].AppendJSON(dst)
	}
	dst = append(dst, '}')
	if len(s.JWKS) > 0 {
		dst = AppendJWKS(dst, s.JWKS)
	}
	if len(s.CacheGenerations) > 0 {
		dst = append(dst, `,"cache_generations":{`...)
		for i, id := range slices.Sorted(maps.Keys(s.CacheGenerations)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = model.AppendString(dst, id)
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, s.CacheGenerations[id], 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// AppendJWKS appends the snapshot member ,"jwks":{api_id:JWKS} (sorted
// by api_id), for a sidecar that builds its snapshot document itself.
func AppendJWKS[V jwt.KeySet | []byte](dst []byte, sets map[string]V) []byte {
	dst = append(dst, `,"jwks":{`...)
	for i, id := range slices.Sorted(maps.Keys(sets)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, id)
		dst = append(dst, ':')
		switch set := any(sets[id]).(type) {
		case jwt.KeySet:
			dst = jwt.AppendKeySet(dst, set)
		case []byte:
			dst = append(dst, set...) // already a JWKS document
		}
	}
	return append(dst, '}')
}

// DecodeSyncResponse decodes a sync answer. A malformed snapshot rejects the
// whole answer: applying half a policy set could grant access that the full
// set denies. Outside the snapshot it is lenient, as a newer sidecar may
// add fields: unknown fields are ignored, and a version, cursor, reset or
// more of another type reads as empty or false.
func DecodeSyncResponse(body []byte) (*SyncResponse, error) {
	// A parser of its own, not a pooled one: a snapshot can be megabytes,
	// which a pooled parser would keep holding for the small answers; a sync
	// answer comes once per interval.
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, errors.New("sync: invalid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("sync: answer is not an object")
	}
	r := &SyncResponse{SyncPage: SyncPage{
		Version: string(v.GetStringBytes("version")),
		Cursor:  string(v.GetStringBytes("cursor")),
		Reset:   v.GetBool("reset"),
		More:    v.GetBool("more"),
	}}
	for i, k := range v.GetArray("keys") {
		b, err := k.StringBytes()
		if err != nil {
			return nil, errors.New("sync: keys[" + strconv.Itoa(i) + "] is not a string")
		}
		r.Keys = append(r.Keys, string(b))
	}
	for _, o := range v.GetArray("orgs") {
		if b, err := o.StringBytes(); err == nil {
			r.Orgs = append(r.Orgs, string(b))
		}
	}
	r.EnforceOrgQuotas = v.GetBool("enforce_org_quotas")
	snap := v.Get("snapshot")
	if snap == nil || snap.Type() == fastjson.TypeNull {
		return r, nil
	}
	if r.Snapshot, err = decodeSnapshot(snap); err != nil {
		return nil, err
	}
	return r, nil
}

func decodeSnapshot(snap *fastjson.Value) (*Snapshot, error) {
	s := &Snapshot{Policies: map[string]*model.Policy{}}
	var err error
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
			s.Policies[string(k)] = pol
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
		s.APIs = append(s.APIs, api)
		if av.GetBool("do_not_track") {
			if s.Untracked == nil {
				s.Untracked = map[string]bool{}
			}
			s.Untracked[api.APIID] = true
		}
	}
	if o := snap.GetObject("orgs"); o != nil {
		s.Orgs = map[string]*model.OrgSession{}
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
			s.Orgs[string(k)] = org
		})
		if err != nil {
			return nil, err
		}
	}
	if o := snap.GetObject("jwks"); o != nil {
		s.JWKS = map[string]jwt.KeySet{}
		o.Visit(func(k []byte, kv *fastjson.Value) {
			if err != nil {
				return
			}
			var ks jwt.KeySet
			if ks, err = jwt.KeySetFromValue(kv); err != nil {
				err = errors.New("sync: jwks " + strconv.Quote(string(k)) + ": " + err.Error())
				return
			}
			s.JWKS[string(k)] = ks
		})
		if err != nil {
			return nil, err
		}
	}
	if o := snap.GetObject("cache_generations"); o != nil {
		s.CacheGenerations = map[string]int64{}
		o.Visit(func(k []byte, gv *fastjson.Value) {
			if n, e := gv.Int64(); e == nil {
				s.CacheGenerations[string(k)] = n
			}
		})
	}
	return s, nil
}
