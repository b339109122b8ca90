// Package filterapi serves the Filter API (/turnpike/v1/), which filter.wasm
// calls with proxy_http_call: session lookup by key hash, the sync feed
// (config snapshot + changed key hashes) and atomic quota reservation. The
// paths and bodies are shared/wire's, the package the filter decodes them
// with; the contract in prose is in the sidecar README.
package filterapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/quota"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
	"github.com/turnpike-dev/turnpike/sidecar/internal/oauth"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
	"github.com/valyala/fastjson"
)

// MaxSyncKeys bounds the key hashes of one sync response.
const MaxSyncKeys = wire.MaxSyncKeys

// MaxUnits bounds one quota reservation.
const MaxUnits = wire.MaxQuotaUnits

// maxBody bounds a request body; a quota request is about 150 bytes.
const maxBody = 64 << 10

// maxAnalyticsBody bounds an analytics batch: the filter's
// analytics.max_bytes is at most 16 MiB.
const maxAnalyticsBody = 16<<20 + 4096

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
	// OAuth answers the OAuth endpoints the filter relays; nil = 404.
	OAuth *oauth.Server
	// JWKS, if set, refetches key sets a filter reports an unknown kid of.
	JWKS *jwks.Fetcher
	// EnforceOrgQuotas is --enforce-org-quotas, sent to the filters with
	// every sync answer.
	EnforceOrgQuotas bool
	// Analytics stores a batch of request records; nil answers
	// PathAnalytics with 404 (analytics not served).
	Analytics func(ctx context.Context, b *wire.AnalyticsBatch) error
	// QuotaWait, with Replicas > 0, makes every quota grant wait for that
	// many Redis replicas (--quota-wait-replicas, store.ReplicaWait).
	QuotaWait store.ReplicaWait
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
	v1.HandleFunc("GET "+wire.PathSessions+"{keyHash}", a.session)
	v1.HandleFunc("GET "+wire.PathSync, a.sync)
	v1.HandleFunc("POST "+wire.PathQuota, a.quota)
	v1.HandleFunc("POST "+wire.PathOAuth, a.oauth)
	v1.HandleFunc("POST "+wire.PathJWTSessions+"{keyHash}", a.jwtSession)
	v1.HandleFunc("POST "+wire.PathQuotaRelease, a.release)
	if a.d.Analytics != nil {
		v1.HandleFunc("POST "+wire.PathAnalytics, a.analytics)
	}
	v1.HandleFunc(wire.PathPrefix, func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, wire.StatusNotFound, "no such endpoint")
	})
	mux.Handle(wire.PathPrefix, a.guard(v1))
}

// guard checks the token in constant time, then readiness: the filter must
// see "unavailable" (503), never "key not found", while Redis is down.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keys.Equal(r.Header.Get(wire.HeaderToken), a.d.Token) {
			writeError(w, wire.StatusForbidden, "invalid filter token")
			return
		}
		if err := a.d.Ready(); err != nil {
			unavailable(w)
			return
		}
		limit := int64(maxBody)
		if r.URL.Path == wire.PathAnalytics {
			limit = maxAnalyticsBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// GET /turnpike/v1/sessions/{keyHash}: the stored session (policies not
// applied) and the feed cursor read before it.
func (a *API) session(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("keyHash")
	if !keys.IsHash(hash) {
		writeError(w, wire.StatusBadRequest, "key hash must be 64 lower-case hex digits")
		return
	}
	data, cursor, err := a.d.Store.Session(r.Context(), hash)
	if cursor != "" {
		w.Header().Set(wire.HeaderCursor, cursor)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, wire.StatusNotFound, "key not found")
	case err != nil:
		a.storageFailed(w, err)
	default:
		if a.hasOrgSession(r.Context(), data) {
			w.Header().Set(wire.HeaderOrgSession, "1")
		}
		writeRaw(w, wire.StatusOK, data)
	}
}

// hasOrgSession reports whether the session's organisation has an org
// session in the store. The filter then refreshes a snapshot that lacks it:
// an org session created just before the key must apply to the key's first
// request. A failed check says no: the org session then applies from the
// filter's next poll.
func (a *API) hasOrgSession(ctx context.Context, session []byte) bool {
	org := fastjson.GetString(session, "org_id")
	if org == "" {
		return false
	}
	if _, ok := a.d.Snapshots.Current().Orgs[org]; ok {
		return true
	}
	_, err := a.d.Store.Org(ctx, org)
	return err == nil
}

// vmID is the syntax of a filter VM's id (the sync poll's vm parameter).
var vmID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// GET /turnpike/v1/sync?cursor=&version=[&vm=][&fresh=1]
func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	q := wire.SyncQueryFrom(r.URL.Query().Get)
	// A poll naming its VM records the version the VM holds, for
	// /tyk/reload?block=true. Best effort: tracking must never stop a
	// filter from syncing, so a bad id or a failure only goes untracked.
	if vmID.MatchString(q.VM) {
		if _, err := a.d.Store.FilterPolled(r.Context(), q.VM, q.Version, store.FilterTTL, store.MaxFilters); err != nil {
			a.d.Logger.Warn("filter poll not tracked", "error", err)
		}
	}
	if q.Fresh {
		// A request waits for something just written, maybe through
		// another replica: check the store's version now rather than
		// serve the snapshot of the last poll; and for a key its token
		// names (an unknown kid): refetch now, answer with what came.
		a.d.Snapshots.Poll(r.Context())
		a.refreshJWKS(r.Context(), q.JWKSRefresh, a.d.Snapshots.Current(), true)
	}
	// Snapshot first: its version can only be older than the feed page,
	// which makes the filter ask again rather than miss a change.
	snap := a.d.Snapshots.Current()
	if !q.Fresh {
		a.refreshJWKS(r.Context(), q.JWKSRefresh, snap, false)
	}
	ch, err := a.d.Store.ChangesSince(r.Context(), q.Cursor, MaxSyncKeys)
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	page := wire.SyncPage{Version: snap.Version, Cursor: ch.Cursor, Reset: ch.Reset, More: ch.More, Keys: ch.Keys,
		Orgs: ch.Orgs, EnforceOrgQuotas: a.d.EnforceOrgQuotas}
	var snapJSON []byte // sent as stored: encoded once per snapshot, not per call
	if q.Version != snap.Version {
		snapJSON = snap.JSON
	}
	size := 128 + len(snapJSON) + len(page.Keys)*67 // a key: 64 hex digits, quotes, comma
	writeRaw(w, wire.StatusOK, wire.AppendSyncResponse(make([]byte, 0, size), page, snapJSON))
}

// POST /turnpike/v1/quota
func (a *API) quota(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed quota request: "+err.Error())
		return
	}
	req, err := wire.DecodeQuotaRequest(body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed quota request: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, wire.StatusBadRequest, err.Error())
		return
	}
	var g store.Grant
	switch {
	case a.d.QuotaWait.Replicas > 0 && req.Lease:
		g, err = a.d.Store.LeaseWait(r.Context(), counter(req), req.QuotaMax, req.QuotaRenewalRate, req.Units, a.d.QuotaWait)
	case a.d.QuotaWait.Replicas > 0:
		g, err = a.d.Store.ReserveWait(r.Context(), counter(req), req.QuotaMax, req.QuotaRenewalRate, req.Units, a.d.QuotaWait)
	case req.Lease:
		g, err = a.d.Store.Lease(r.Context(), counter(req), req.QuotaMax, req.QuotaRenewalRate, req.Units)
	default:
		g.Result, err = a.d.Store.Reserve(r.Context(), counter(req), req.QuotaMax, req.QuotaRenewalRate, req.Units)
	}
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	a.d.OnQuota(decision(g.Result, req.Units))
	resp := wire.QuotaResponse{Granted: g.Granted, Remaining: g.Remaining, Reset: g.ResetAt, QuotaMax: req.QuotaMax}
	if req.Lease && req.QuotaMax > 0 && req.QuotaRenewalRate > 0 {
		resp.WindowID, resp.WindowMS = g.ResetAt, g.WindowMS
	}
	writeRaw(w, wire.StatusOK, wire.AppendQuotaResponse(make([]byte, 0, 128), resp))
}

// POST /turnpike/v1/quota/release: unspent units of a lease come back.
func (a *API) release(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed release request: "+err.Error())
		return
	}
	req, err := wire.DecodeQuotaRequest(body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed release request: "+err.Error())
		return
	}
	if err := req.ValidateRelease(); err != nil {
		writeError(w, wire.StatusBadRequest, err.Error())
		return
	}
	n, err := a.d.Store.Release(r.Context(), counter(req), req.WindowID, req.Units)
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	a.d.OnQuota("released")
	writeRaw(w, wire.StatusOK, wire.AppendReleaseResponse(make([]byte, 0, 32), n))
}

// counter is the Redis counter a quota request names.
func counter(req wire.QuotaRequest) string {
	if req.KeyHash != "" {
		return store.QuotaKey(req.Scope, req.KeyHash)
	}
	return store.QuotaKey("", req.OrgID)
}

// POST /turnpike/v1/oauth: a request to an OAuth endpoint under an API's
// listen path, relayed by the filter; the answer is the response it sends.
func (a *API) oauth(w http.ResponseWriter, r *http.Request) {
	if a.d.OAuth == nil {
		writeError(w, wire.StatusNotFound, "no such endpoint")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed oauth request: "+err.Error())
		return
	}
	req, err := wire.DecodeOAuthRequest(body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, err.Error())
		return
	}
	res, err := a.d.OAuth.Handle(r.Context(), req)
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	writeRaw(w, wire.StatusOK, wire.AppendOAuthResponse(make([]byte, 0, 64+len(res.Body)+len(res.Location)), res))
}

// POST /turnpike/v1/analytics: a VM's request records. A batch that
// cannot be stored is answered 503; the filter does not retry it.
func (a *API) analytics(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed analytics batch: "+err.Error())
		return
	}
	b, err := wire.DecodeAnalyticsBatch(body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed analytics batch: "+err.Error())
		return
	}
	if err := a.d.Analytics(r.Context(), &b); err != nil {
		a.storageFailed(w, err)
		return
	}
	writeRaw(w, wire.StatusOK, []byte("{}"))
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
	writeError(w, wire.StatusUnavailable, "storage unavailable")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeRaw(w, code, wire.AppendErrorResponse(nil, msg))
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
