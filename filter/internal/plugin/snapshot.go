package plugin

import (
	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/turnpike-dev/turnpike/shared/wire"
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
	// methods is the auth method of every API, chosen once per snapshot.
	methods map[*model.APIDefinition]auth.Method
	// rules are the compiled per-path settings of each API (paths.go),
	// built on an API's first request.
	rules map[*model.APIDefinition]*apiRules
	// cacheGens are the APIs' response cache generations (respcache.go).
	cacheGens map[string]int64
	// untracked are the APIs with do_not_track: no analytics records.
	untracked map[string]bool
}

// newSnapshot combines a sync snapshot with the static API definitions; the
// sidecar's definition wins for an api_id both define.
func newSnapshot(seq uint64, version string, s *wire.Snapshot, static []*model.APIDefinition) *snapshot {
	apis := make([]*model.APIDefinition, 0, len(static)+len(s.APIs))
	synced := make(map[string]bool, len(s.APIs))
	for _, a := range s.APIs {
		synced[a.APIID] = true
		apis = append(apis, a)
	}
	for _, a := range static {
		if !synced[a.APIID] {
			apis = append(apis, a)
		}
	}
	buckets := map[*model.APIDefinition]string{}
	methods := make(map[*model.APIDefinition]auth.Method, len(apis))
	for _, a := range apis {
		methods[a] = auth.For(a)
		if g := a.GlobalRateLimit; !g.Disabled && g.Rate > 0 && g.Per > 0 {
			buckets[a] = shm.APIBucketKey(a.APIID)
		}
	}
	return &snapshot{
		seq:        seq,
		version:    version,
		policies:   s.Policies,
		orgs:       s.Orgs,
		routes:     route.New(apis),
		apiBuckets: buckets,
		methods:    methods,
		cacheGens:  s.CacheGenerations,
		untracked:  s.Untracked,
	}
}
