// Package filterapi serves the Filter API (/turnpike/v1/), which filter.wasm
// calls with proxy_http_call: session lookup by key hash, the sync feed
// (config snapshot + changed key hashes) and atomic quota reservation. The
// contract is in the sidecar README.
package filterapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/quota"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// MaxSyncKeys bounds the key hashes of one sync response.
const MaxSyncKeys = 1000

// MaxUnits bounds one quota reservation.
const MaxUnits = 10000

// Deps is what the Filter API needs.
type Deps struct {
	Store     *store.Store
	Snapshots *snapshot.Keeper
	Token     string
	Ready     func() error // nil when Redis is reachable and the config loaded
	Logger    *slog.Logger
	// OnQuota, if set, is told each reservation's decision: granted,
	// partial, exhausted or unlimited.
	OnQuota func(decision string)
}

// API is the Filter API handler set.
type API struct{ d Deps }

// New makes the API.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.OnQuota == nil {
		d.OnQuota = func(string) {}
	}
	return &API{d: d}
}

// Register adds the /turnpike/v1/ routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	v1 := http.NewServeMux()
	v1.HandleFunc("GET /turnpike/v1/sessions/{keyHash}", a.session)
	v1.HandleFunc("GET /turnpike/v1/sync", a.sync)
	v1.HandleFunc("POST /turnpike/v1/quota", a.quota)
	v1.HandleFunc("/turnpike/v1/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	mux.Handle("/turnpike/v1/", a.guard(v1))
}

// guard checks the token in constant time, then readiness: the filter must
// see "unavailable" (503), never "key not found", while Redis is down.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keys.Equal(r.Header.Get("X-Turnpike-Filter-Token"), a.d.Token) {
			writeError(w, http.StatusForbidden, "invalid filter token")
			return
		}
		if err := a.d.Ready(); err != nil {
			unavailable(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

// GET /turnpike/v1/sessions/{keyHash}: the stored session (policies not
// applied) and the feed cursor read before it.
func (a *API) session(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("keyHash")
	if !keys.IsHash(hash) {
		writeError(w, http.StatusBadRequest, "key hash must be 64 lower-case hex digits")
		return
	}
	data, cursor, err := a.d.Store.Session(r.Context(), hash)
	if cursor != "" {
		w.Header().Set("X-Turnpike-Cursor", cursor)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "key not found")
	case err != nil:
		a.storageFailed(w, err)
	default:
		writeRaw(w, http.StatusOK, data)
	}
}

type syncResponse struct {
	Version  string          `json:"version"`
	Cursor   string          `json:"cursor"`
	Reset    bool            `json:"reset"`
	More     bool            `json:"more"`
	Keys     []string        `json:"keys"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
}

// vmID is the syntax of a filter VM's id (the sync poll's vm parameter).
var vmID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// GET /turnpike/v1/sync?cursor=&version=[&vm=]
func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// A poll naming its VM records the version the VM holds, for
	// /tyk/reload?block=true. Best effort: tracking must never stop a
	// filter from syncing, so a bad id or a failure only goes untracked.
	if vm := q.Get("vm"); vmID.MatchString(vm) {
		if _, err := a.d.Store.FilterPolled(r.Context(), vm, q.Get("version"), store.FilterTTL, store.MaxFilters); err != nil {
			a.d.Logger.Warn("filter poll not tracked", "error", err)
		}
	}
	// Snapshot first: its version can only be older than the feed page,
	// which makes the filter ask again rather than miss a change.
	snap := a.d.Snapshots.Current()
	ch, err := a.d.Store.ChangesSince(r.Context(), q.Get("cursor"), MaxSyncKeys)
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	resp := syncResponse{Version: snap.Version, Cursor: ch.Cursor, Reset: ch.Reset, More: ch.More, Keys: ch.Keys}
	if resp.Keys == nil {
		resp.Keys = []string{}
	}
	if q.Get("version") != snap.Version {
		resp.Snapshot = snap.JSON
	}
	writeValue(w, http.StatusOK, resp)
}

type quotaRequest struct {
	KeyHash          string `json:"key_hash"`
	OrgID            string `json:"org_id"`
	Scope            string `json:"scope"`
	QuotaMax         int64  `json:"quota_max"`
	QuotaRenewalRate int64  `json:"quota_renewal_rate"`
	Units            int64  `json:"units"`
}

type quotaResponse struct {
	Granted   int64 `json:"granted"`
	Remaining int64 `json:"remaining"`
	Reset     int64 `json:"reset"`
	QuotaMax  int64 `json:"quota_max"`
}

// POST /turnpike/v1/quota
func (a *API) quota(w http.ResponseWriter, r *http.Request) {
	var req quotaRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed quota request: "+err.Error())
		return
	}
	var counter string
	switch {
	case (req.KeyHash == "") == (req.OrgID == ""):
		writeError(w, http.StatusBadRequest, "exactly one of key_hash and org_id is required")
		return
	case req.KeyHash != "" && !keys.IsHash(req.KeyHash):
		writeError(w, http.StatusBadRequest, "key_hash must be 64 lower-case hex digits")
		return
	case req.OrgID != "" && req.Scope != "":
		writeError(w, http.StatusBadRequest, "scope applies to key quotas only")
		return
	case req.Units < 1 || req.Units > MaxUnits:
		writeError(w, http.StatusBadRequest, "units must be between 1 and "+strconv.Itoa(MaxUnits))
		return
	case req.KeyHash != "":
		counter = store.QuotaKey(req.Scope, req.KeyHash)
	default:
		counter = store.QuotaKey("", req.OrgID)
	}
	res, err := a.d.Store.Reserve(r.Context(), counter, req.QuotaMax, req.QuotaRenewalRate, req.Units)
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	a.d.OnQuota(decision(res, req.Units))
	writeValue(w, http.StatusOK, quotaResponse{
		Granted: res.Granted, Remaining: res.Remaining, Reset: res.ResetAt, QuotaMax: req.QuotaMax,
	})
}

func decision(r quota.Result, units int64) string {
	switch {
	case r.Remaining < 0:
		return "unlimited"
	case r.Granted == units:
		return "granted"
	case r.Granted > 0:
		return "partial"
	default:
		return "exhausted"
	}
}

func (a *API) storageFailed(w http.ResponseWriter, err error) {
	a.d.Logger.Warn("filter API storage operation failed", "error", err)
	unavailable(w)
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, "storage unavailable")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeValue(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

func writeValue(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
