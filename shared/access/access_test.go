package access

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func plainAPI() *model.APIDefinition {
	return &model.APIDefinition{
		APIID: "api1", OrgID: "org1",
		Proxy:       model.Proxy{ListenPath: "/api1/"},
		VersionData: model.VersionData{NotVersioned: true, Versions: map[string]model.VersionInfo{"Default": {Name: "Default"}}},
	}
}

func versionedAPI() *model.APIDefinition {
	return &model.APIDefinition{
		APIID: "vapi", OrgID: "org1",
		Proxy: model.Proxy{ListenPath: "/v/"},
		VersionData: model.VersionData{
			DefaultVersion: "v2",
			Versions: map[string]model.VersionInfo{
				"v1":     {Name: "v1"},
				"v2":     {Name: "v2", Expires: "-1"},
				"old":    {Name: "old", Expires: "2020-01-01 00:00"},
				"edge":   {Name: "edge", Expires: "2025-06-01 12:00"},
				"future": {Name: "future", Expires: "2999-01-01 00:00"},
				"bad":    {Name: "bad", Expires: "tomorrow"},
			},
		},
	}
}

func TestCheckVersion(t *testing.T) {
	noDefault := versionedAPI()
	noDefault.VersionData.DefaultVersion = ""
	fallback := versionedAPI()
	fallback.VersionData.FallbackToDefault = true
	fallbackNoDefault := versionedAPI()
	fallbackNoDefault.VersionData.FallbackToDefault = true
	fallbackNoDefault.VersionData.DefaultVersion = "gone"

	tests := []struct {
		name      string
		api       *model.APIDefinition
		requested string
		at        time.Time
		version   string
		want      Decision
	}{
		{"unversioned ignores the version", plainAPI(), "zzz", now, "", allow},
		{"named version", versionedAPI(), "v1", now, "v1", allow},
		{"no version uses the default", versionedAPI(), "", now, "v2", allow},
		{"no version and no default", noDefault, "", now, "", Decision{ReasonVersionNotFound, 403, "Version information not found"}},
		{"unknown version", versionedAPI(), "v9", now, "v9", Decision{ReasonVersionDoesNotExist, 403, "This API version does not seem to exist"}},
		{"unknown version falls back", fallback, "v9", now, "v2", allow},
		{"fallback to a missing default", fallbackNoDefault, "v9", now, "v9", Decision{ReasonVersionDoesNotExist, 403, "This API version does not seem to exist"}},
		{"expired version", versionedAPI(), "old", now, "old", Decision{ReasonVersionExpired, 403, "Api Version has expired, please check documentation or contact administrator"}},
		{"expires exactly now", versionedAPI(), "edge", now, "edge", denyVersionExpired},
		{"expires in a nanosecond", versionedAPI(), "edge", now.Add(-time.Nanosecond), "edge", allow},
		{"expires in the future", versionedAPI(), "future", now, "future", allow},
		{"unparseable expiry fails closed", versionedAPI(), "bad", now, "bad", denyVersionExpired},
		{"no API", nil, "v1", now, "", Decision{ReasonAPIDisallowed, 403, "Access to this API has been disallowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, d := CheckVersion(tt.api, tt.requested, tt.at)
			if version != tt.version || d != tt.want {
				t.Fatalf("CheckVersion = %q, %+v; want %q, %+v", version, d, tt.version, tt.want)
			}
		})
	}
}

func TestCheckSessionKeyState(t *testing.T) {
	tests := []struct {
		name string
		s    *model.Session
		at   time.Time
		want Decision
	}{
		{"no session", nil, now, Decision{ReasonSessionMissing, 400, "Session state is missing or unset! Please make sure that auth headers are properly applied"}},
		{"inactive", &model.Session{IsInactive: true}, now, Decision{ReasonKeyInactive, 403, "Key is inactive, please renew"}},
		{"inactive wins over expired", &model.Session{IsInactive: true, Expires: 1}, now, denyKeyInactive},
		{"expired", &model.Session{Expires: now.Unix() - 1}, now, Decision{ReasonKeyExpired, 401, "Key has expired, please renew"}},
		{"expires this very second", &model.Session{Expires: now.Unix()}, now, allow},
		{"a nanosecond after expiry", &model.Session{Expires: now.Unix()}, now.Add(time.Nanosecond), denyKeyExpired},
		{"expires 0 never expires", &model.Session{Expires: 0}, now, allow},
		{"expires -1 never expires", &model.Session{Expires: -1}, now, allow},
		{"expires 1 is 1970", &model.Session{Expires: 1}, now, denyKeyExpired},
		{"expired wins over access rights", &model.Session{Expires: 1, AccessRights: map[string]model.AccessDefinition{"other": {}}}, now, denyKeyExpired},
	}
	c := NewChecker(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := c.CheckSession(tt.s, plainAPI(), Request{Method: "GET", Path: "/api1/x"}, tt.at); d != tt.want {
				t.Fatalf("CheckSession = %+v, want %+v", d, tt.want)
			}
		})
	}
}

func TestCheckSessionAccessRights(t *testing.T) {
	rights := func(ads ...model.AccessDefinition) *model.Session {
		s := &model.Session{AccessRights: map[string]model.AccessDefinition{}}
		for _, ad := range ads {
			s.AccessRights[ad.APIID] = ad
		}
		return s
	}
	fallback := versionedAPI()
	fallback.VersionData.FallbackToDefault = true

	tests := []struct {
		name string
		s    *model.Session
		api  *model.APIDefinition
		r    Request
		want Decision
	}{
		{"master key", &model.Session{}, plainAPI(), Request{Method: "GET", Path: "/api1/x"}, allow},
		{"master key, versioned API", &model.Session{}, versionedAPI(), Request{Method: "GET", Path: "/v/x", Version: "v1"}, allow},
		{"API not granted", rights(model.AccessDefinition{APIID: "other"}), plainAPI(), Request{Method: "GET", Path: "/api1/x"}, Decision{ReasonAPIDisallowed, 403, "Access to this API has been disallowed"}},
		{"API granted", rights(model.AccessDefinition{APIID: "api1"}), plainAPI(), Request{Method: "GET", Path: "/api1/x"}, allow},
		{"unversioned API ignores versions", rights(model.AccessDefinition{APIID: "api1", Versions: []string{"nope"}}), plainAPI(), Request{Method: "GET", Path: "/api1/x", Version: "v7"}, allow},
		{"version granted", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v1"}}), versionedAPI(), Request{Method: "GET", Path: "/v/x", Version: "v1"}, allow},
		{"version not granted", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v1"}}), versionedAPI(), Request{Method: "GET", Path: "/v/x", Version: "v2"}, Decision{ReasonVersionDisallowed, 403, "Access to this API has been disallowed"}},
		{"default version not granted", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v1"}}), versionedAPI(), Request{Method: "GET", Path: "/v/x"}, denyVersion},
		{"default version granted", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v2"}}), versionedAPI(), Request{Method: "GET", Path: "/v/x"}, allow},
		{"fallback resolves to the default for the key too", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v2"}}), fallback, Request{Method: "GET", Path: "/v/x", Version: "v9"}, allow},
		{"unresolvable version", rights(model.AccessDefinition{APIID: "vapi", Versions: []string{"v9"}}), versionedAPI(), Request{Method: "GET", Path: "/v/x", Version: "v9"}, denyVersionNotExist},
		{"no API definition", rights(model.AccessDefinition{APIID: "api1"}), nil, Request{}, denyAPI},
	}
	c := NewChecker(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := c.CheckSession(tt.s, tt.api, tt.r, now); d != tt.want {
				t.Fatalf("CheckSession = %+v, want %+v", d, tt.want)
			}
		})
	}
}

func TestAllowedURLs(t *testing.T) {
	specs := []model.AccessSpec{
		{URL: "/users", Methods: []string{"GET"}},
		{URL: "/users/{id}", Methods: []string{"DELETE"}},
		{URL: "/files/*", Methods: []string{"PUT"}},
		{URL: "/broken/(", Methods: []string{"GET"}},
		{URL: "/api1/full", Methods: []string{"GET"}},
	}
	legacy := NewChecker(Options{})
	prefix := NewChecker(Options{PrefixMatching: true})
	both := NewChecker(Options{PrefixMatching: true, SuffixMatching: true})

	tests := []struct {
		method, path         string
		legacy, prefix, both bool
	}{
		{"GET", "/api1/users", true, true, true},
		{"GET", "/api1/users/1", true, true, false},      // "/user" also allows "/users/1" unless suffix-anchored
		{"GET", "/api1/admin/users", true, false, false}, // legacy searches anywhere in the path
		{"get", "/api1/users", false, false, false},      // methods are case-sensitive
		{"POST", "/api1/users", false, false, false},     // method not listed
		{"DELETE", "/api1/users/42", true, true, true},   // {id} -> ([^/]+)
		{"DELETE", "/api1/users/", false, false, false},  // a placeholder needs a segment
		{"DELETE", "/api1/users/4/x", true, true, false}, // unanchored end
		{"PUT", "/api1/files/a/b.txt", true, true, true}, // "/*" -> "/.*"
		{"GET", "/api1/broken/(", false, false, false},   // a bad pattern matches nothing
		{"GET", "/api1/full", true, true, true},          // prefix mode also tries the full path
		{"GET", "/elsewhere/api1/full", true, false, false},
	}
	s := &model.Session{AccessRights: map[string]model.AccessDefinition{"api1": {APIID: "api1", AllowedURLs: specs}}}
	for _, tt := range tests {
		for _, mode := range []struct {
			name string
			c    *Checker
			want bool
		}{{"legacy", legacy, tt.legacy}, {"prefix", prefix, tt.prefix}, {"prefix+suffix", both, tt.both}} {
			d := mode.c.CheckSession(s, plainAPI(), Request{Method: tt.method, Path: tt.path}, now)
			want := allow
			if !mode.want {
				want = Decision{ReasonResourceDisallowed, 403, "Access to this resource has been disallowed"}
			}
			if d != want {
				t.Errorf("%s %s %s: %+v, want %+v", mode.name, tt.method, tt.path, d, want)
			}
		}
	}
}

func TestCheckOrder(t *testing.T) {
	// Each step fixes the previous failure and exposes the next check:
	// version (VersionCheck precedes authentication), inactive, expired,
	// API version rights, allowed_urls.
	urls := []model.AccessSpec{{URL: "^/nothing$", Methods: []string{"GET"}}}
	s := &model.Session{
		IsInactive:   true,
		Expires:      1,
		AccessRights: map[string]model.AccessDefinition{"vapi": {APIID: "vapi", Versions: []string{"v1"}, AllowedURLs: urls}},
	}
	steps := []struct {
		version string
		fix     func()
		want    Reason
	}{
		{"v9", func() {}, ReasonVersionDoesNotExist},
		{"v2", func() {}, ReasonKeyInactive},
		{"v2", func() { s.IsInactive = false }, ReasonKeyExpired},
		{"v2", func() { s.Expires = 0 }, ReasonVersionDisallowed},
		{"v2", func() {
			s.AccessRights["vapi"] = model.AccessDefinition{APIID: "vapi", Versions: []string{"v2"}, AllowedURLs: urls}
		}, ReasonResourceDisallowed},
		{"v2", func() { s.AccessRights["vapi"] = model.AccessDefinition{APIID: "vapi", Versions: []string{"v2"}} }, Allowed},
	}
	c := NewChecker(Options{})
	for i, st := range steps {
		st.fix()
		d := c.Check(s, versionedAPI(), Request{Method: "GET", Path: "/v/x", Version: st.version}, now)
		if d.Reason != st.want {
			t.Fatalf("step %d: %v (%+v), want %v", i, d.Reason, d, st.want)
		}
	}
}

func TestPreparePattern(t *testing.T) {
	tests := []struct {
		in             string
		prefix, suffix bool
		want           string
	}{
		{"/users/{id}", false, false, "/users/([^/]+)"},
		{"/a/{x}/b/{y}", false, false, "/a/([^/]+)/b/([^/]+)"},
		{"/a{2,3}", false, false, "/a([^/]+)"}, // balanced braces are a mux template, as in Tyk
		{"/a{2", false, false, "/a{2"},
		{"{}", false, false, "{}"},
		{"{{a}}", false, false, "([^/]+)}"},
		{"{a}{b}", false, false, "([^/]+)([^/]+)"},
		{"/files/*", false, false, "/files/.*"},
		{"/a/*/b", false, false, "/a/[^/]+/b"},
		{"/users", true, false, "^/users"},
		{"/users", false, true, "/users$"},
		{"/users", true, true, "^/users$"},
		{"^/x$", true, true, "^/x$"},
		{"users", true, false, "users"},
		{"/users/{id}", true, true, "^/users/([^/]+)$"},
	}
	for _, tt := range tests {
		if got := PreparePattern(tt.in, tt.prefix, tt.suffix); got != tt.want {
			t.Errorf("PreparePattern(%q, %v, %v) = %q, want %q", tt.in, tt.prefix, tt.suffix, got, tt.want)
		}
	}
}

func TestStripListenPath(t *testing.T) {
	tests := []struct{ listenPath, path, want string }{
		{"/api1/", "/api1/users", "/users"},
		{"/api1", "/api1/users", "/users"},
		{"/api1/", "/api1/", "/"},
		{"/api1/", "/api1", "/api1"},
		{"/api1/", "/other/x", "/other/x"},
		{"/", "/users", "/users"},
		{"", "/users", "/users"},
		{"/orgs/{org}/", "/orgs/acme/users", "/users"},
		{"/{ver:v[0-9]+}/", "/v2/users", "/users"},
		{"/{ver:v[0-9]+}/", "/vx/users", "/vx/users"},
	}
	c := NewChecker(Options{})
	for _, tt := range tests {
		api := &model.APIDefinition{Proxy: model.Proxy{ListenPath: tt.listenPath}}
		if got := c.stripListenPath(api, tt.path); got != tt.want {
			t.Errorf("stripListenPath(%q, %q) = %q, want %q", tt.listenPath, tt.path, got, tt.want)
		}
	}
}

func TestEffectiveLimit(t *testing.T) {
	root := model.Session{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600}
	withRights := func(ad model.AccessDefinition) *model.Session {
		s := root
		s.AccessRights = map[string]model.AccessDefinition{ad.APIID: ad}
		return &s
	}
	endpoints := []model.Endpoint{
		{Path: "/users/{id}", Methods: []model.EndpointMethod{{Name: "GET", Limit: model.RateLimit{Rate: 5, Per: 1}}, {Name: "post", Limit: model.RateLimit{Rate: 1, Per: 60}}}},
		{Path: "/bad/(", Methods: []model.EndpointMethod{{Name: "GET", Limit: model.RateLimit{Rate: 1, Per: 1}}}},
	}
	perAPI := model.APILimit{Rate: 100, Per: 60, QuotaMax: 50, QuotaRenewalRate: 86400}

	tests := []struct {
		name         string
		s            *model.Session
		method, path string
		want         Limit
		ok           bool
	}{
		{"master key uses root", &root, "GET", "/api1/x", Limit{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600}, true},
		{"empty limit falls back to root, keeps scope", withRights(model.AccessDefinition{APIID: "api1", AllowanceScope: "p1"}), "GET", "/api1/x",
			Limit{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600, Scope: "p1"}, true},
		{"per-API limit", withRights(model.AccessDefinition{APIID: "api1", Limit: perAPI, AllowanceScope: "api1"}), "GET", "/api1/x",
			Limit{Rate: 100, Per: 60, QuotaMax: 50, QuotaRenewalRate: 86400, Scope: "api1"}, true},
		{"endpoint limit replaces the rate only", withRights(model.AccessDefinition{APIID: "api1", Limit: perAPI, Endpoints: endpoints}), "GET", "/api1/users/7",
			Limit{Rate: 5, Per: 1, QuotaMax: 50, QuotaRenewalRate: 86400, EndpointKey: "cd8cae3555f4a6fe"}, true},
		{"endpoint methods are case-insensitive", withRights(model.AccessDefinition{APIID: "api1", Endpoints: endpoints}), "POST", "/api1/users/7",
			Limit{Rate: 1, Per: 60, QuotaMax: 1000, QuotaRenewalRate: 3600, EndpointKey: "c3353267d688828e"}, true},
		{"endpoint method not listed", withRights(model.AccessDefinition{APIID: "api1", Endpoints: endpoints}), "PUT", "/api1/users/7",
			Limit{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600}, true},
		{"endpoint path does not match", withRights(model.AccessDefinition{APIID: "api1", Endpoints: endpoints}), "GET", "/api1/users/",
			Limit{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600}, true},
		{"bad endpoint pattern is skipped", withRights(model.AccessDefinition{APIID: "api1", Endpoints: endpoints}), "GET", "/api1/bad/(",
			Limit{Rate: 10, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600}, true},
		{"API not granted", withRights(model.AccessDefinition{APIID: "other"}), "GET", "/api1/x", Limit{}, false},
		{"no session", nil, "GET", "/api1/x", Limit{}, false},
	}
	c := NewChecker(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.EffectiveLimit(tt.s, plainAPI(), tt.method, tt.path)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("EffectiveLimit = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := c.EffectiveLimit(&root, nil, "GET", "/"); ok {
		t.Error("EffectiveLimit with no API: ok")
	}
}

func TestEffectiveLimitPrefixMatching(t *testing.T) {
	s := &model.Session{AccessRights: map[string]model.AccessDefinition{"api1": {APIID: "api1", Endpoints: []model.Endpoint{
		{Path: "/users", Methods: []model.EndpointMethod{{Name: "GET", Limit: model.RateLimit{Rate: 2, Per: 1}}}},
	}}}}
	tests := []struct {
		opts Options
		path string
		rate float64
	}{
		{Options{}, "/api1/users/1", 2},
		{Options{}, "/api1/admin/users", 2},
		{Options{PrefixMatching: true}, "/api1/users/1", 2},
		{Options{PrefixMatching: true}, "/api1/admin/users", 0},
		{Options{PrefixMatching: true, SuffixMatching: true}, "/api1/users/1", 0},
		{Options{PrefixMatching: true, SuffixMatching: true}, "/api1/users", 2},
	}
	for _, tt := range tests {
		got, _ := NewChecker(tt.opts).EffectiveLimit(s, plainAPI(), "GET", tt.path)
		if got.Rate != tt.rate {
			t.Errorf("%+v %s: rate %v, want %v", tt.opts, tt.path, got.Rate, tt.rate)
		}
	}
}

func TestLimitPredicates(t *testing.T) {
	tests := []struct {
		l           Limit
		rate, quota bool
	}{
		{Limit{Rate: 1, Per: 1, QuotaMax: 1}, true, true},
		{Limit{Rate: 0, Per: 1, QuotaMax: 0}, false, false},
		{Limit{Rate: -1, Per: 1, QuotaMax: -1}, false, false},
		{Limit{Rate: 5, Per: 0}, false, false},
	}
	for _, tt := range tests {
		if tt.l.RateLimited() != tt.rate || tt.l.QuotaEnforced() != tt.quota {
			t.Errorf("%+v: RateLimited=%v QuotaEnforced=%v", tt.l, tt.l.RateLimited(), tt.l.QuotaEnforced())
		}
	}
}

func TestCheckOrg(t *testing.T) {
	if d := CheckOrg(nil); !d.Allowed() {
		t.Errorf("no org session: %+v", d)
	}
	if d := CheckOrg(&model.OrgSession{}); !d.Allowed() {
		t.Errorf("active org: %+v", d)
	}
	want := Decision{ReasonOrgInactive, 403, "this organisation access has been disabled, please contact your API administrator"}
	if d := CheckOrg(&model.OrgSession{IsInactive: true}); d != want {
		t.Errorf("inactive org: %+v, want %+v", d, want)
	}
	org := &model.OrgSession{Rate: 100, Per: 60, QuotaMax: 1e6, QuotaRenewalRate: 2592000}
	if got := OrgLimit(org); got != (Limit{Rate: 100, Per: 60, QuotaMax: 1e6, QuotaRenewalRate: 2592000}) {
		t.Errorf("OrgLimit = %+v", got)
	}
	if got := OrgLimit(nil); got.RateLimited() || got.QuotaEnforced() {
		t.Errorf("OrgLimit(nil) = %+v", got)
	}
}

func TestDecisionZeroValueDenies(t *testing.T) {
	var d Decision
	if d.Allowed() {
		t.Fatal("zero Decision allows")
	}
	for r := ReasonUnset; r <= ReasonOrgInactive; r++ {
		if s := r.String(); s == "" || s == "unknown" {
			t.Errorf("Reason(%d) has no name", r)
		}
	}
	if Reason(200).String() != "unknown" {
		t.Error("out-of-range reason")
	}
}

func TestCacheIsBoundedAndConcurrent(t *testing.T) {
	c := NewChecker(Options{CacheSize: 4})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := (g + i) % 10
				s := &model.Session{AccessRights: map[string]model.AccessDefinition{"api1": {APIID: "api1", AllowedURLs: []model.AccessSpec{
					{URL: fmt.Sprintf("/p%d/", n), Methods: []string{"GET"}},
				}}}}
				d := c.CheckSession(s, plainAPI(), Request{Method: "GET", Path: fmt.Sprintf("/api1/p%d/x", n)}, now)
				if !d.Allowed() {
					t.Errorf("pattern %d denied: %+v", n, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.cache.Len(); n > 4 {
		t.Fatalf("cache holds %d patterns, bound 4", n)
	}
	if n := c.patterns.Len(); n > 4 {
		t.Fatalf("cache of stored patterns holds %d, bound 4", n)
	}
}

func TestValidateAccessRights(t *testing.T) {
	ok := map[string]model.AccessDefinition{
		"a": {AllowedURLs: []model.AccessSpec{{URL: "/users/{id}"}, {URL: "^/x$"}, {URL: "/a{2,3}"}}, Endpoints: []model.Endpoint{{Path: "/files/*"}}},
	}
	if err := ValidateAccessRights(ok); err != nil {
		t.Fatalf("valid rights: %v", err)
	}
	if err := ValidateAccessRights(nil); err != nil {
		t.Fatalf("nil rights: %v", err)
	}
	bad := map[string]model.AccessDefinition{
		"zeta":  {AllowedURLs: []model.AccessSpec{{URL: "/ok"}, {URL: "/users/("}}},
		"alpha": {Endpoints: []model.Endpoint{{Path: "/x["}}},
	}
	err := ValidateAccessRights(bad)
	want := "access_rights[\"alpha\"].endpoints: invalid pattern \"/x[\": error parsing regexp: missing closing ]: `[`\n" +
		"access_rights[\"zeta\"].allowed_urls: invalid pattern \"/users/(\": error parsing regexp: missing closing ): `/users/(`"
	if err == nil || err.Error() != want {
		t.Fatalf("ValidateAccessRights error:\n%v\nwant:\n%s", err, want)
	}
	var pe *PatternError
	if !errors.As(err, &pe) || pe.APIID != "alpha" || pe.Field != "endpoints" || pe.Pattern != "/x[" {
		t.Fatalf("errors.As PatternError = %+v", pe)
	}

	perr := ValidatePolicy(&model.Policy{ID: "gold", AccessRights: bad})
	if perr == nil || !strings.HasPrefix(perr.Error(), `policy "gold": access_rights["alpha"]`) || !errors.As(perr, &pe) {
		t.Fatalf("ValidatePolicy = %v", perr)
	}
	if err := ValidatePolicy(&model.Policy{ID: "ok", AccessRights: ok}); err != nil {
		t.Fatalf("ValidatePolicy(valid) = %v", err)
	}
	if err := ValidatePolicy(nil); err == nil {
		t.Fatal("ValidatePolicy(nil) = nil")
	}
}

func TestValidateAPI(t *testing.T) {
	api := versionedAPI()
	api.VersionData.DefaultVersion = "v3"
	api.Proxy.ListenPath = "/{v:[}/"
	want := "api \"vapi\": version \"bad\": expires \"tomorrow\" is not of the form \"2006-01-02 15:04\"\n" +
		"api \"vapi\": default_version \"v3\" is not among the versions\n" +
		"api \"vapi\": listen_path \"/{v:[}/\": error parsing regexp: missing closing ]: `[)/`"
	if err := ValidateAPI(api); err == nil || err.Error() != want {
		t.Fatalf("ValidateAPI error:\n%v\nwant:\n%s", err, want)
	}
	good := versionedAPI()
	delete(good.VersionData.Versions, "bad")
	for _, a := range []*model.APIDefinition{good, plainAPI()} {
		if err := ValidateAPI(a); err != nil {
			t.Fatalf("ValidateAPI(%s) = %v", a.APIID, err)
		}
	}
	if ValidateAPI(nil) == nil {
		t.Fatal("ValidateAPI(nil) = nil")
	}
}
