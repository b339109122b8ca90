package plugin

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// The per-path settings of an API version that the response cache and the
// header transforms apply (extended_paths.cache, advance_cache_config,
// transform_headers, transform_response_headers), compiled once per API
// and snapshot rather than per request.

// versionRules are one version's compiled settings.
type versionRules struct {
	info        model.VersionInfo
	cachePaths  []cachePath
	reqHeaders  []headerRule
	respHeaders []headerRule
	// reqGlobal are global_headers_remove and global_headers (none when
	// disabled); respStatic the response transforms every response gets:
	// global_response_headers_remove and global_response_headers, then
	// the header_injector processors (none when disabled). Built once, so
	// a request that only has these allocates nothing for them.
	reqGlobal  []headerOp
	respStatic []headerOp
	// reqBody and respBody are the body transforms (transform_body.go).
	reqBody, respBody []bodyRule
}

// cachePath is a cached path: method "" means every safe method (the
// extended_paths.cache list); codes and timeout override cache_options.
type cachePath struct {
	re      *regexp.Regexp
	method  string
	codes   []float64
	timeout int64
}

// headerRule is a per-path header transform; Tyk matches its method
// exactly.
type headerRule struct {
	re     *regexp.Regexp
	method string
	ops    []headerOp // delete_headers, then add_headers
}

// apiRules holds an API's compiled rules by version name; noVersion
// applies when the request's version has none (only the processors).
type apiRules struct {
	versions  map[string]*versionRules
	noVersion *versionRules
	// unversioned: the API is not versioned, so every request uses the
	// rules in fixed (found once here instead of two string-keyed map
	// lookups per request).
	unversioned bool
	fixed       *versionRules
}

// rules returns the compiled rules of the version a request of api uses,
// or nil when the API has none. requested is the version the request
// names (route.Version).
func (h *httpContext) rules() *versionRules {
	// Asked on the request and again on the response: looked up once.
	if !h.vrDone {
		h.vr, h.vrDone = h.lookupRules(), true
	}
	return h.vr
}

func (h *httpContext) lookupRules() *versionRules {
	snap := h.root.snap
	if snap.rules == nil {
		snap.rules = map[*model.APIDefinition]*apiRules{}
	}
	ar, ok := snap.rules[h.api]
	if !ok {
		ar = compileRules(h.api)
		snap.rules[h.api] = ar
	}
	if len(ar.versions) == 0 {
		return ar.noVersion
	}
	if ar.unversioned {
		return ar.fixed
	}
	if vr := ar.versions[versionName(h.api, h.versionRequested())]; vr != nil {
		return vr
	}
	return ar.noVersion
}

// versionRequested is the version the request names; keyless requests
// skip the version step, so it is read here for them.
func (h *httpContext) versionRequested() string {
	if h.version == "" && h.api.UseKeylessAccess {
		return route.Version(h.api, h.host.RequestHeader, h.path)
	}
	return h.version
}

// versionName is the version whose settings apply: an unversioned API uses
// its one version ("Default" when it has several); a versioned API the
// version requested, else the default, as access.CheckVersion resolves it.
func versionName(api *model.APIDefinition, requested string) string {
	vd := &api.VersionData
	if vd.NotVersioned {
		if _, ok := vd.Versions["Default"]; ok || len(vd.Versions) != 1 {
			return "Default"
		}
		for name := range vd.Versions {
			return name
		}
	}
	if requested == "" {
		return vd.DefaultVersion
	}
	if _, ok := vd.Versions[requested]; !ok && vd.FallbackToDefault {
		return vd.DefaultVersion
	}
	return requested
}

func compileRules(api *model.APIDefinition) *apiRules {
	var procs []headerOp
	for _, p := range api.ResponseProcessors {
		if p.Name == "header_injector" {
			procs = appendOps(procs, lowerAll(p.Options.RemoveHeaders), sortedHeaders(p.Options.AddHeaders))
		}
	}
	out := &apiRules{versions: map[string]*versionRules{}}
	if len(procs) > 0 {
		out.noVersion = &versionRules{respStatic: procs}
	}
	for name, v := range api.VersionData.Versions {
		vr := &versionRules{info: v}
		if !v.GlobalHeadersDisabled {
			vr.reqGlobal = appendOps(nil, lowerAll(v.GlobalHeadersRemove), sortedHeaders(v.GlobalHeaders))
		}
		if !v.GlobalResponseHeadersDisabled {
			vr.respStatic = appendOps(nil, lowerAll(v.GlobalResponseHeadersRemove), sortedHeaders(v.GlobalResponseHeaders))
			vr.respStatic = append(vr.respStatic, procs...)
		}
		if v.UseExtendedPaths {
			ep := &v.ExtendedPaths
			for _, p := range ep.Cached {
				if re := compilePath(p); re != nil {
					vr.cachePaths = append(vr.cachePaths, cachePath{re: re})
				}
			}
			for _, c := range ep.AdvanceCacheConfig {
				if re := compilePath(c.Path); re != nil && !c.Disabled {
					vr.cachePaths = append(vr.cachePaths, cachePath{re: re, method: c.Method,
						codes: c.CacheOnlyResponseCodes, timeout: c.Timeout})
				}
			}
			vr.reqHeaders = compileHeaderRules(ep.TransformHeader)
			vr.respHeaders = compileHeaderRules(ep.TransformResponseHeader)
			vr.reqBody = compileBodyRules(api, ep.Transform, true)
			vr.respBody = compileBodyRules(api, ep.TransformResponse, false)
		}
		out.versions[name] = vr
	}
	if api.VersionData.NotVersioned {
		// versionName ignores the requested version of an unversioned API.
		out.unversioned, out.fixed = true, out.noVersion
		if vr := out.versions[versionName(api, "")]; vr != nil {
			out.fixed = vr
		}
	}
	return out
}

func compileHeaderRules(metas []model.HeaderInjectionMeta) []headerRule {
	var out []headerRule
	for _, m := range metas {
		re := compilePath(m.Path)
		if re == nil || m.Disabled || (len(m.AddHeaders) == 0 && len(m.DeleteHeaders) == 0) {
			continue
		}
		out = append(out, headerRule{re: re, method: m.Method, ops: appendOps(nil, lowerAll(m.DeleteHeaders), sortedHeaders(m.AddHeaders))})
	}
	return out
}

// compilePath compiles an extended path as Tyk does (no prefix or suffix
// anchoring: the pattern may match anywhere); nil if it does not compile,
// which matches nothing.
func compilePath(p string) *regexp.Regexp {
	re, err := regexp.Compile(access.PreparePattern(p, false, false))
	if err != nil {
		return nil
	}
	return re
}

// matchPath is Tyk's URLSpec.matchesPath: the path without the listen
// path, then the full path.
func matchPath(re *regexp.Regexp, api *model.APIDefinition, path string) bool {
	p := route.PathOnly(path)
	if lp := api.Proxy.ListenPath; lp != "/" && strings.HasPrefix(p, lp) {
		stripped := p[len(lp):]
		if !strings.HasPrefix(stripped, "/") {
			stripped = "/" + stripped
		}
		if re.MatchString(stripped) {
			return true
		}
	}
	return re.MatchString(p)
}

func lowerAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// sortedHeaders is a header map as lower-case pairs in name order, so the
// result does not depend on map iteration.
func sortedHeaders(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, [2]string{strings.ToLower(k), m[k]})
	}
	return out
}
