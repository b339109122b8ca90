//go:build !wasip1

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/quota"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// fakeSidecar serves the sidecar's Filter API (.helpers/FILTER_API.md) from
// memory: sessions, a change feed with Redis-stream-style cursors, a
// snapshot and quota counters with the shared/quota rules under one lock
// (what the real sidecar's Lua script does atomically in Redis). Tests
// drive the filter through it and inspect what the filter asked.
type fakeSidecar struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	sessions map[string]string // key hash -> session JSON
	policies map[string]string // id -> policy JSON
	apis     []string
	seq      int64    // last change-feed entry
	changes  []string // changes[i] = hash changed at entry i+1
	quotas   map[string]quota.State
	cfgVer   int
	jwks     map[string]string // api_id -> JWKS document (snapshot "jwks")

	oauthClients map[string]string // OAuth client id -> secret
	oauthSession string            // the session of minted access tokens
	oauthCalls   atomic.Int64
	orgs         map[string]string // org id -> org session JSON
	// enforceOrgs is the sidecar's --enforce-org-quotas.
	enforceOrgs bool
	// cacheGens are the response cache generations (DELETE /tyk/cache).
	cacheGens map[string]int64

	down         atomic.Bool // answer every request with 503
	lookups      atomic.Int64
	quotaCalls   atomic.Int64
	releaseCalls atomic.Int64
	syncs        atomic.Int64
	lookupGate   chan struct{} // when set, lookups wait for it to be closed
	lookupsByKey sync.Map      // hash -> *atomic.Int64
	jwtWrites    atomic.Int64  // POST /turnpike/v1/jwt-sessions/
	jwksRefresh  atomic.Value  // last jwks_refresh of a sync poll (string)
	// analyticsBatches counts POST /turnpike/v1/analytics calls.
	analyticsBatches atomic.Int64
}

func newFakeSidecar(t testing.TB) *fakeSidecar {
	f := &fakeSidecar{
		t: t, token: "test-token",
		sessions: map[string]string{}, policies: map[string]string{}, quotas: map[string]quota.State{},
		oauthClients: map[string]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSidecar) cursor() string { return "1700000000000-" + strconv.FormatInt(f.seq, 10) }

// putKey stores a session for a raw key and records the change.
func (f *fakeSidecar) putKey(key, sessionJSON string) string {
	return f.changeKey(key, func(h string) { f.sessions[h] = sessionJSON })
}

func (f *fakeSidecar) deleteKey(key string) {
	f.changeKey(key, func(h string) { delete(f.sessions, h) })
}

// changeKey applies change to the session of key under the lock and appends
// the key's hash to the change feed, as every session write in the real
// sidecar does.
func (f *fakeSidecar) changeKey(key string, change func(hash string)) string {
	h := keys.Hash(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	change(h)
	f.seq++
	f.changes = append(f.changes, h)
	return h
}

func (f *fakeSidecar) putPolicy(id, policyJSON string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[id] = policyJSON
	f.cfgVer++
}

// putOrg stores an org session and bumps the config version.
func (f *fakeSidecar) putOrg(id, orgJSON string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orgs == nil {
		f.orgs = map[string]string{}
	}
	f.orgs[id] = orgJSON
	f.cfgVer++
}

func (f *fakeSidecar) putAPI(apiJSON string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apis = append(f.apis, apiJSON)
	f.cfgVer++
}

// invalidateCache is DELETE /tyk/cache/{apiID}: the API's cache
// generation goes up in the next snapshot.
func (f *fakeSidecar) invalidateCache(apiID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cacheGens == nil {
		f.cacheGens = map[string]int64{}
	}
	f.cacheGens[apiID]++
	f.cfgVer++
}

func (f *fakeSidecar) lookupsOf(key string) int64 {
	v, ok := f.lookupsByKey.Load(keys.Hash(key))
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// writeError answers with the Filter API's error shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (f *fakeSidecar) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if f.down.Load() {
		w.Header().Set("Retry-After", "1")
		writeError(w, 503, "storage unavailable")
		return
	}
	if r.Header.Get("X-Turnpike-Filter-Token") != f.token {
		writeError(w, 403, "invalid filter token")
		return
	}
	switch {
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/turnpike/v1/sessions/"):
		f.serveLookup(w, strings.TrimPrefix(r.URL.Path, "/turnpike/v1/sessions/"))
	case r.Method == "GET" && r.URL.Path == "/turnpike/v1/sync":
		if ids := r.URL.Query().Get("jwks_refresh"); ids != "" {
			f.jwksRefresh.Store(ids)
		}
		f.serveSync(w, r.URL.Query().Get("cursor"), r.URL.Query().Get("version"))
	case r.Method == "POST" && r.URL.Path == "/turnpike/v1/quota":
		f.serveQuota(w, r)
	case r.Method == "POST" && r.URL.Path == wire.PathOAuth:
		f.serveOAuth(w, r)
	case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/turnpike/v1/jwt-sessions/"):
		f.serveJWTSession(w, r)
	case r.Method == "POST" && r.URL.Path == "/turnpike/v1/quota/release":
		f.serveRelease(w, r)
	case r.Method == "POST" && r.URL.Path == "/turnpike/v1/analytics":
		f.analyticsBatches.Add(1)
		_, _ = w.Write([]byte("{}"))
	default:
		writeError(w, 404, "not found")
	}
}

func (f *fakeSidecar) serveLookup(w http.ResponseWriter, hash string) {
	f.lookups.Add(1)
	c, _ := f.lookupsByKey.LoadOrStore(hash, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if g := f.lookupGate; g != nil {
		<-g
	}
	if !keys.IsHash(hash) {
		writeError(w, 400, "bad key hash")
		return
	}
	f.mu.Lock()
	s, ok := f.sessions[hash]
	cur := f.cursor()
	f.mu.Unlock()
	if !ok {
		writeError(w, 404, "key not found")
		return
	}
	w.Header().Set("X-Turnpike-Cursor", cur)
	_, _ = w.Write([]byte(s))
}

func (f *fakeSidecar) serveSync(w http.ResponseWriter, cursor, version string) {
	f.syncs.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]any{"cursor": f.cursor(), "reset": false, "more": false, "keys": []string{}}
	if cursor != "" {
		_, seqText, _ := strings.Cut(cursor, "-")
		from, err := strconv.ParseInt(seqText, 10, 64)
		if err != nil || from > f.seq {
			out["reset"] = true
		} else {
			seen := map[string]bool{}
			ks := []string{}
			for _, h := range f.changes[from:] {
				if !seen[h] {
					seen[h] = true
					ks = append(ks, h)
				}
			}
			out["keys"] = ks
		}
	}
	if f.enforceOrgs {
		out["enforce_org_quotas"] = true
	}
	ver := "v" + strconv.Itoa(f.cfgVer)
	out["version"] = ver
	if version != ver {
		pols := map[string]json.RawMessage{}
		for id, p := range f.policies {
			pols[id] = json.RawMessage(p)
		}
		apis := []json.RawMessage{}
		for _, a := range f.apis {
			apis = append(apis, json.RawMessage(a))
		}
		orgs := map[string]json.RawMessage{}
		for id, o := range f.orgs {
			orgs[id] = json.RawMessage(o)
		}
		snap := map[string]any{"policies": pols, "apis": apis, "orgs": orgs}
		if len(f.jwks) > 0 {
			sets := map[string]json.RawMessage{}
			for id, doc := range f.jwks {
				sets[id] = json.RawMessage(doc)
			}
			snap["jwks"] = sets
		}
		if len(f.cacheGens) > 0 {
			snap["cache_generations"] = f.cacheGens
		}
		out["snapshot"] = snap
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeSidecar) serveQuota(w http.ResponseWriter, r *http.Request) {
	f.quotaCalls.Add(1)
	body, _ := io.ReadAll(r.Body)
	req, err := wire.DecodeQuotaRequest(body)
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	counter := fakeCounter(req)
	units := req.Units
	f.mu.Lock()
	now := time.Now().Unix()
	if req.Lease && req.QuotaMax > 0 {
		// shared/quota.LeaseUnits, as the sidecar's script cuts a lease.
		left := quota.Peek(f.quotas[counter], req.QuotaMax, req.QuotaRenewalRate, now).Remaining
		units = max(quota.LeaseUnits(units, left), 1)
	}
	res, next := quota.Reserve(f.quotas[counter], req.QuotaMax, req.QuotaRenewalRate, now, units)
	f.quotas[counter] = next
	f.mu.Unlock()
	resp := wire.QuotaResponse{Granted: res.Granted, Remaining: res.Remaining, Reset: res.ResetAt, QuotaMax: req.QuotaMax}
	if req.Lease && req.QuotaMax > 0 && req.QuotaRenewalRate > 0 {
		resp.WindowID, resp.WindowMS = res.ResetAt, max(res.ResetAt-now, 0)*1000
	}
	_, _ = w.Write(wire.AppendQuotaResponse(nil, resp))
}

// serveRelease gives back units into the window they came from.
func (f *fakeSidecar) serveRelease(w http.ResponseWriter, r *http.Request) {
	f.releaseCalls.Add(1)
	body, _ := io.ReadAll(r.Body)
	req, err := wire.DecodeQuotaRequest(body)
	if err == nil {
		err = req.ValidateRelease()
	}
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	counter := fakeCounter(req)
	f.mu.Lock()
	st := f.quotas[counter]
	n := int64(0)
	if st.WindowEnd == req.WindowID && st.WindowEnd > time.Now().Unix() {
		n = min(req.Units, st.Used)
		st.Used -= n
		f.quotas[counter] = st
	}
	f.mu.Unlock()
	_, _ = w.Write(wire.AppendReleaseResponse(nil, n))
}

// used is what the counter of a key's quota has granted.
func (f *fakeSidecar) used(key string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quotas["quota-"+keys.Hash(key)].Used
}

func fakeCounter(req wire.QuotaRequest) string {
	switch {
	case req.OrgID != "":
		return "quota-" + req.OrgID
	case req.Scope != "":
		return "quota-" + req.Scope + "-" + req.KeyHash
	}
	return "quota-" + req.KeyHash
}

// serveOAuth is a minimal authorization server: client_credentials mints a
// key (tok-<n>) with oauthSession, revoke deletes one; other requests are
// answered invalid_request. The real one is sidecar/internal/oauth.
func (f *fakeSidecar) serveOAuth(w http.ResponseWriter, r *http.Request) {
	f.oauthCalls.Add(1)
	body, _ := io.ReadAll(r.Body)
	req, err := wire.DecodeOAuthRequest(body)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	form, _ := oa.ParseRequest(req.Method, req.Authorization, req.ContentType, req.Query, []byte(req.Body))
	res := wire.OAuthResponse{Status: oa.ErrorStatus, Body: string(oa.AppendError(nil, oa.Err(oa.ErrInvalidRequest)))}
	switch req.Endpoint {
	case oa.EndpointToken:
		id, secret, _, _ := oa.ParseBasic(req.Authorization)
		f.mu.Lock()
		want, ok := f.oauthClients[id]
		n := f.seq
		f.mu.Unlock()
		if !ok || want != secret {
			res.Body = string(oa.AppendError(nil, oa.Err(oa.ErrUnauthorizedClient)))
			break
		}
		token := "tok-" + strconv.FormatInt(n+1, 10)
		f.putKey(token, f.oauthSession)
		res = wire.OAuthResponse{Status: 200, Body: string(oa.AppendToken(nil, oa.Token{AccessToken: token, ExpiresIn: 3600}))}
	case oa.EndpointRevoke:
		f.deleteKey(form.Params.Get("token"))
		res = wire.OAuthResponse{Status: 200, Body: string(oa.AppendStatus(nil, "ok", oa.MsgTokenRevoked))}
	}
	_, _ = w.Write(wire.AppendOAuthResponse(nil, res))
}

// putJWKS sets the key set of a JWT API in the snapshot.
func (f *fakeSidecar) putJWKS(apiID, doc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jwks == nil {
		f.jwks = map[string]string{}
	}
	f.jwks[apiID] = doc
	f.cfgVer++
}

// serveJWTSession stores a session a filter built from a JWT: unless one
// is stored (first write wins), or in any case with replace=1; answers
// like a lookup.
func (f *fakeSidecar) serveJWTSession(w http.ResponseWriter, r *http.Request) {
	f.jwtWrites.Add(1)
	hash := strings.TrimPrefix(r.URL.Path, "/turnpike/v1/jwt-sessions/")
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !keys.IsHash(hash) {
		writeError(w, 400, "bad request")
		return
	}
	f.mu.Lock()
	if _, ok := f.sessions[hash]; !ok || r.URL.Query().Get("replace") == "1" {
		f.sessions[hash] = string(body)
		f.seq++
		f.changes = append(f.changes, hash)
	}
	s, cur := f.sessions[hash], f.cursor()
	f.mu.Unlock()
	w.Header().Set("X-Turnpike-Cursor", cur)
	_, _ = w.Write([]byte(s))
}

// deleteHash deletes the session stored under a key hash.
func (f *fakeSidecar) deleteHash(hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, hash)
	f.seq++
	f.changes = append(f.changes, hash)
}
