//go:build !wasip1

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/quota"
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

	down       atomic.Bool // answer every request with 503
	lookups    atomic.Int64
	quotaCalls atomic.Int64
	syncs      atomic.Int64
	// analyticsBatches counts POST /turnpike/v1/analytics calls.
	analyticsBatches atomic.Int64
	lookupGate       chan struct{} // when set, lookups wait for it to be closed
	lookupsByKey     sync.Map      // hash -> *atomic.Int64
}

func newFakeSidecar(t testing.TB) *fakeSidecar {
	f := &fakeSidecar{
		t: t, token: "test-token",
		sessions: map[string]string{}, policies: map[string]string{}, quotas: map[string]quota.State{},
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

func (f *fakeSidecar) putAPI(apiJSON string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apis = append(f.apis, apiJSON)
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
		f.serveSync(w, r.URL.Query().Get("cursor"), r.URL.Query().Get("version"))
	case r.Method == "POST" && r.URL.Path == "/turnpike/v1/quota":
		f.serveQuota(w, r)
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
		out["snapshot"] = map[string]any{"policies": pols, "apis": apis, "orgs": map[string]any{}}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeSidecar) serveQuota(w http.ResponseWriter, r *http.Request) {
	f.quotaCalls.Add(1)
	var req struct {
		KeyHash          string `json:"key_hash"`
		Scope            string `json:"scope"`
		QuotaMax         int64  `json:"quota_max"`
		QuotaRenewalRate int64  `json:"quota_renewal_rate"`
		Units            int64  `json:"units"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Units < 1 || req.KeyHash == "" {
		writeError(w, 400, "bad request")
		return
	}
	counter := "quota-" + req.KeyHash
	if req.Scope != "" {
		counter = "quota-" + req.Scope + "-" + req.KeyHash
	}
	f.mu.Lock()
	res, next := quota.Reserve(f.quotas[counter], req.QuotaMax, req.QuotaRenewalRate, time.Now().Unix(), req.Units)
	f.quotas[counter] = next
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]int64{
		"granted": res.Granted, "remaining": res.Remaining, "reset": res.ResetAt, "quota_max": req.QuotaMax,
	})
}
