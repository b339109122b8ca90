// Package access makes Tyk's per-request access decision for a key whose
// policies have already been applied: key state, API and version access
// rights, allowed_urls, and which rate limit and quota apply (Tyk
// semantics §1.2, §3.7, §4.1, §6.3, §6.4).
//
// The checks run in the order of Tyk's middleware chain:
//
//	VersionCheck (CheckVersion; API-level, before authentication)
//	  … authentication (the caller's key lookup) …
//	KeyExpired: inactive (403) before expired (401), as Tyk checks them
//	AccessRightsCheck: API in access_rights, then its versions (403)
//	GranularAccess: allowed_urls (403)
//	RateLimitAndQuotaCheck: EffectiveLimit feeds shared/ratelimit and shared/quota
//
// A session with empty access_rights is a "master key": allowed on every
// API, version and path, with its root limits.
//
// Regular expressions come from stored data, so a Checker compiles each
// one once and caches it. A bad pattern is a load-time error (see
// ValidateAccessRights); if one slips through, it never matches, so it can
// only deny, and nothing panics.
package access

import (
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/turnpike-dev/turnpike/shared/cache"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// DefaultCacheSize is the number of compiled patterns a Checker keeps when
// Options.CacheSize is not set.
const DefaultCacheSize = 1024

// Options configure path matching (Tyk's http_server_options) and the
// pattern cache.
type Options struct {
	// PrefixMatching anchors patterns that start with "/" with "^" and tests
	// allowed_urls against both the path with the listen path stripped and
	// the full path (enable_path_prefix_matching). Without it a pattern is
	// searched for anywhere in the full request path, Tyk's legacy
	// default, where "/user" also allows "/users/1" and "/admin/user".
	PrefixMatching bool
	// SuffixMatching anchors patterns with "$" (enable_path_suffix_matching).
	SuffixMatching bool
	// CacheSize bounds the compiled-pattern cache; <= 0 means DefaultCacheSize.
	CacheSize int
}

// Request is what the checks need to know about an HTTP request.
type Request struct {
	Method  string // compared case-sensitively with allowed_urls methods, as in Tyk
	Path    string // URL path as received (listen path included), without the query
	Version string // the API version name the request carries; "" if none
}

// Checker makes access decisions. It is safe for concurrent use.
type Checker struct {
	opts Options

	mu    sync.Mutex
	cache *cache.LRU[compiled]
	// patterns caches the same regexes by the pattern as stored (an
	// allowed_urls url or an endpoint path) rather than as prepared: the
	// options are fixed per Checker, so the raw text determines the regex,
	// and a request need not prepare (allocate) every pattern it tests.
	patterns *cache.LRU[compiled]
}

// compiled is a cache entry: a regex, or why it does not compile (cached
// too, so a bad pattern is not recompiled on every request).
type compiled struct {
	re  *regexp.Regexp
	err error
}

// NewChecker returns a Checker with the given options.
func NewChecker(opts Options) *Checker {
	size := opts.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Checker{opts: opts, cache: cache.New[compiled](size), patterns: cache.New[compiled](size)}
}

// pattern returns the compiled form of a stored pattern, prepared with
// PreparePattern and this Checker's options.
func (c *Checker) pattern(raw string) (*regexp.Regexp, error) {
	c.mu.Lock()
	e, ok := c.patterns.Get(raw, 0)
	c.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	re, err := c.regexp(PreparePattern(raw, c.opts.PrefixMatching, c.opts.SuffixMatching))
	c.mu.Lock()
	c.patterns.Put(raw, compiled{re, err}, cache.NoDeadline)
	c.mu.Unlock()
	return re, err
}

// regexp returns the compiled form of an already prepared pattern.
func (c *Checker) regexp(pattern string) (*regexp.Regexp, error) {
	c.mu.Lock()
	e, ok := c.cache.Get(pattern, 0)
	c.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	// Compile outside the lock; a concurrent duplicate compile is harmless.
	re, err := regexp.Compile(pattern)
	c.mu.Lock()
	c.cache.Put(pattern, compiled{re, err}, cache.NoDeadline)
	c.mu.Unlock()
	return re, err
}

// stripListenPath removes the API's listen path from path (Tyk's
// StripListenPath), keeping a leading "/".
func (c *Checker) stripListenPath(api *model.APIDefinition, path string) string {
	lp := api.Proxy.ListenPath
	if pattern := listenPathPattern(lp); pattern != "" {
		re, err := c.regexp(pattern)
		if err != nil {
			return path
		}
		return ensureSlash(re.ReplaceAllString(path, ""))
	}
	if len(path) >= len(lp) && path[:len(lp)] == lp {
		return ensureSlash(path[len(lp):])
	}
	return ensureSlash(path)
}

// Check runs every check in Tyk's order: CheckVersion, then CheckSession.
// Use it when the session is already known; a filter that must answer
// version errors before authentication errors calls the two separately.
func (c *Checker) Check(s *model.Session, api *model.APIDefinition, r Request, now time.Time) Decision {
	if _, d := CheckVersion(api, r.Version, now); !d.Allowed() {
		return d
	}
	return c.CheckSession(s, api, r, now)
}

// CheckSession runs the key-dependent checks (KeyExpired,
// AccessRightsCheck, GranularAccess) for an effective session:
//
//   - no session: 400 MsgSessionMissing;
//   - is_inactive: 403 MsgKeyInactive;
//   - expires >= 1 and now after it: 401 MsgKeyExpired;
//   - non-empty access_rights without the API: 403 MsgAPIDisallowed;
//   - versioned API whose resolved version (see CheckVersion; an unknown
//     version with fallback_to_default resolves to the default) is not in
//     the entry's versions: 403 MsgAPIDisallowed;
//   - non-empty allowed_urls and no entry whose methods contain the
//     method and whose pattern matches: 403 MsgResourceDisallowed.
//
// A request whose version cannot be resolved at all is denied with the
// CheckVersion error, in case the caller skipped that check.
func (c *Checker) CheckSession(s *model.Session, api *model.APIDefinition, r Request, now time.Time) Decision {
	if s == nil {
		return denySessionMissing
	}
	apiID := ""
	if api != nil {
		apiID = api.APIID
	}
	g := GrantFor(s, apiID)
	return c.CheckGrant(&g, api, r, now)
}

// urlAllowed is Tyk's GranularAccess match: the method must be listed
// exactly, and the pattern must match the full path (legacy) or, with
// prefix matching, the stripped or the full path.
func (c *Checker) urlAllowed(api *model.APIDefinition, specs []model.AccessSpec, r Request) bool {
	stripped := ""
	if c.opts.PrefixMatching {
		stripped = c.stripListenPath(api, r.Path)
	}
	for _, spec := range specs {
		if !slices.Contains(spec.Methods, r.Method) {
			continue
		}
		re, err := c.pattern(spec.URL)
		if err != nil {
			continue // a pattern that does not compile matches nothing
		}
		if c.opts.PrefixMatching && re.MatchString(stripped) || re.MatchString(r.Path) {
			return true
		}
	}
	return false
}

// CheckOrg is Tyk's OrganizationMonitor state check (enforce_org_quotas):
// an inactive organisation gets 403 MsgOrgInactive. A nil org session
// means the organisation has none, and Tyk then skips the check. The
// organisation's rate and quota use OrgLimit with shared/ratelimit and
// shared/quota, answering 403 MsgOrgRateLimited / MsgOrgQuotaExceeded.
func CheckOrg(org *model.OrgSession) Decision {
	if org != nil && org.IsInactive {
		return denyOrgInactive
	}
	return allow
}
