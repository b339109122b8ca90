package gatewayapi

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/turnpike-dev/turnpike/shared/quota"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// POST /tyk/keys, POST /tyk/keys/create: the key is generated.
func (a *API) createGeneratedKey(w http.ResponseWriter, r *http.Request) {
	key, err := keys.Generate(a.d.Rand)
	if err != nil {
		a.d.Logger.Error("key generation failed", "error", err)
		writeError(w, http.StatusInternalServerError, msgKeyFailed)
		return
	}
	a.writeKey(w, r, key, keys.Hash(key), nil, false, "added")
}

// POST /tyk/keys/{keyID}: create or import a key chosen by the caller.
func (a *API) createCustomKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("keyID")
	if err := keys.ValidCustom(key); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid custom key: "+err.Error())
		return
	}
	a.writeKey(w, r, key, keys.Hash(key), nil, false, "added")
}

// PUT /tyk/keys/{keyID}[?hashed=1][&suppress_reset=1]
func (a *API) updateKey(w http.ResponseWriter, r *http.Request) {
	id, hash := a.keyHash(r)
	old, ok := a.loadSession(w, r, hash, msgKeyNotFoundPut)
	if !ok {
		return
	}
	a.writeKey(w, r, id, hash, old, r.URL.Query().Get("suppress_reset") == "1", "modified")
}

// POST /tyk/keys/preview: the session as POST /tyk/keys would create it
// (checked, policies applied, dates and quota windows set); nothing is
// stored and no key is generated.
func (a *API) previewKey(w http.ResponseWriter, r *http.Request) {
	s, _, _, ok := a.prepareKey(w, r, nil, false)
	if !ok {
		return
	}
	writeRaw(w, http.StatusOK, append(s.AppendJSON(nil), '\n'))
}

// writeKey stores a prepared session and resets its quota counters unless
// suppressed. old is the stored session on update.
func (a *API) writeKey(w http.ResponseWriter, r *http.Request, id, hash string, old *model.Session, suppressReset bool, action string) {
	s, snap, reset, ok := a.prepareKey(w, r, old, suppressReset)
	if !ok {
		return
	}
	var counters []string
	if reset {
		counters = quotaKeys(hash, s, old)
	}
	err := a.d.Store.PutSession(r.Context(), hash, s.AppendJSON(nil), lifetime(s, snap), counters)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	a.d.Logger.Info("key stored", "key_hash", hash, "action", action, "quota_reset", reset)
	writeValue(w, http.StatusOK, modified{Key: id, Status: "ok", Action: action, KeyHash: hash})
}

// prepareKey validates a session body, applies policies and sets dates and
// quota windows as a create (old == nil) or update stores them, with the
// snapshot it used; reset says whether the quota counters are to be reset. It answers errors itself.
func (a *API) prepareKey(w http.ResponseWriter, r *http.Request, old *model.Session, suppressReset bool) (s *model.Session, snap *snapshot.Snapshot, reset, ok bool) {
	body, ok := a.readBody(w, r)
	if !ok {
		return nil, nil, false, false
	}
	s, err := model.DecodeSession(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return nil, nil, false, false
	}
	snap = a.d.Snapshots.Current()
	ids := s.PolicyIDs()
	for _, pid := range ids {
		if _, ok := snap.Policy(pid); !ok {
			writeError(w, http.StatusBadRequest, msgKeyFailed+` Policy not found: "`+pid+`"`)
			return nil, nil, false, false
		}
	}
	if err := validateSession(s); err != nil {
		writeError(w, http.StatusBadRequest, msgKeyFailed+" "+err.Error())
		return nil, nil, false, false
	}
	if err := policy.Apply(s, snap, nil); err != nil {
		writeError(w, http.StatusBadRequest, msgKeyFailed+" "+err.Error())
		return nil, nil, false, false
	}
	if len(s.AccessRights) == 0 && !a.d.AllowMasterKeys {
		writeError(w, http.StatusBadRequest, msgNoAccessRights)
		return nil, nil, false, false
	}
	now := a.d.Now()
	a.stamp(s, old, ids, snap, now)
	if suppressReset && old != nil {
		keepWindows(s, old)
	} else if !dontResetQuota(s, snap) {
		reset = true
		startWindows(s, now)
	}
	return s, snap, reset, true
}

// stamp sets the creation, expiry and update times (Tyk §7.2).
func (a *API) stamp(s, old *model.Session, ids []string, snap *snapshot.Snapshot, now time.Time) {
	if old != nil {
		s.DateCreated = old.DateCreated
		if s.Expires > 1 && s.Expires < now.Unix() {
			s.Expires = old.Expires // an expiry in the past is ignored
		}
		return
	}
	s.DateCreated = now.UTC().Format(time.RFC3339)
	if s.Expires > 1 && s.Expires < now.Unix() {
		s.Expires = 0
	}
	var expiresIn int64
	for _, pid := range ids {
		if p, ok := snap.Policy(pid); ok {
			expiresIn = max(expiresIn, p.KeyExpiresIn)
		}
	}
	if expiresIn > 0 {
		s.Expires = now.Unix() + expiresIn
	}
}

// GET /tyk/keys/{keyID}[?hashed=1]: the session with policies applied and
// the live quota.
func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	_, hash := a.keyHash(r)
	s, ok := a.loadSession(w, r, hash, msgKeyNotFound)
	if !ok {
		return
	}
	applied := s.Clone()
	// Like Tyk, an apply error (e.g. a deleted policy) still shows the
	// stored session.
	if err := policy.Apply(applied, a.d.Snapshots.Current(), nil); err == nil {
		s = applied
	}
	if err := a.liveQuota(r, hash, s); err != nil {
		a.storageError(w, r, err)
		return
	}
	s.BasicAuthData.Password = ""
	writeRaw(w, http.StatusOK, append(s.AppendJSON(nil), '\n'))
}

// liveQuota fills quota_remaining and quota_renews, at the root and in
// every access right with its own limit, from the counters.
func (a *API) liveQuota(r *http.Request, hash string, s *model.Session) error {
	var limited []string
	counters := []string{store.QuotaKey("", hash)}
	for _, id := range slices.Sorted(maps.Keys(s.AccessRights)) {
		if ad := s.AccessRights[id]; !ad.Limit.IsEmpty() {
			limited = append(limited, id)
			counters = append(counters, store.QuotaKey(ad.AllowanceScope, hash))
		}
	}
	now := a.d.Now().Unix()
	states, err := a.d.Store.Counters(r.Context(), now, counters...)
	if err != nil {
		return err
	}
	s.QuotaRemaining, s.QuotaRenews = live(states[0], s.QuotaMax, s.QuotaRenewalRate, now, s.QuotaRenews)
	for i, id := range limited {
		ad := s.AccessRights[id]
		l := &ad.Limit
		l.QuotaRemaining, l.QuotaRenews = live(states[i+1], l.QuotaMax, l.QuotaRenewalRate, now, l.QuotaRenews)
		s.AccessRights[id] = ad
	}
	return nil
}

// live is the remaining quota and renewal time of one counter. An unlimited
// quota shows its quota_max as remaining.
func live(st quota.State, quotaMax, rate, now, renews int64) (remaining, renewsAt int64) {
	if quotaMax <= 0 {
		return quotaMax, renews
	}
	p := quota.Peek(st, quotaMax, rate, now)
	if p.ResetAt > 0 {
		renews = p.ResetAt
	}
	return p.Remaining, renews
}

// DELETE /tyk/keys/{keyID}[?hashed=1]: the key and its quota counters.
func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) {
	id, hash := a.keyHash(r)
	var counters []string
	data, _, err := a.d.Store.Session(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, msgKeyNotFoundDel)
		return
	case err != nil:
		a.storageError(w, r, err)
		return
	}
	if s, err := model.DecodeSession(data); err == nil {
		applied := s.Clone()
		if policy.Apply(applied, a.d.Snapshots.Current(), nil) != nil {
			applied = nil
		}
		counters = quotaKeys(hash, s, applied)
	} else {
		counters = []string{store.QuotaKey("", hash)}
	}
	found, err := a.d.Store.DeleteSession(r.Context(), hash, counters)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	if !found { // deleted concurrently
		writeError(w, http.StatusNotFound, msgKeyNotFoundDel)
		return
	}
	a.d.Logger.Info("key deleted", "key_hash", hash)
	writeOK(w, id, "deleted")
}

// GET /tyk/keys: the hashes of all keys (keys are only stored hashed).
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	hashes, err := a.d.Store.SessionHashes(r.Context())
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	slices.Sort(hashes)
	writeKeyList(w, hashes)
}

// keyHash returns the id as given in the path and the hash to look up.
func (a *API) keyHash(r *http.Request) (id, hash string) {
	id = r.PathValue("keyID")
	if r.URL.Query().Get("hashed") != "" {
		return id, id
	}
	return id, keys.Hash(id)
}

func (a *API) loadSession(w http.ResponseWriter, r *http.Request, hash, notFound string) (*model.Session, bool) {
	if !keys.IsHash(hash) {
		writeError(w, http.StatusNotFound, notFound)
		return nil, false
	}
	data, _, err := a.d.Store.Session(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, notFound)
		return nil, false
	case err != nil:
		a.storageError(w, r, err)
		return nil, false
	}
	s, err := model.DecodeSession(data)
	if err != nil {
		a.d.Logger.Error("stored session does not decode", "key_hash", hash, "error", err)
		writeError(w, http.StatusInternalServerError, "Stored session is corrupt: "+err.Error())
		return nil, false
	}
	return s, true
}

// quotaKeys lists every counter of a key: the root one and one per
// allowance scope found in any of the given sessions (before and after
// policies, so a reset or delete also catches counters of scopes the key
// just lost).
func quotaKeys(hash string, sessions ...*model.Session) []string {
	seen := map[string]bool{"": true}
	out := []string{store.QuotaKey("", hash)}
	for _, s := range sessions {
		if s == nil {
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(s.AccessRights)) {
			if sc := s.AccessRights[id].AllowanceScope; !seen[sc] {
				seen[sc] = true
				out = append(out, store.QuotaKey(sc, hash))
			}
		}
	}
	return out
}

// startWindows records, as Tyk does on create/update without
// suppress_reset, when the quota windows would renew and the update time.
func startWindows(s *model.Session, now time.Time) {
	s.LastUpdated = strconv.FormatInt(now.Unix(), 10)
	if s.QuotaRenewalRate > 0 {
		s.QuotaRenews = now.Unix() + s.QuotaRenewalRate
	}
	for id, ad := range s.AccessRights {
		if ad.Limit.QuotaRenewalRate > 0 {
			ad.Limit.QuotaRenews = now.Unix() + ad.Limit.QuotaRenewalRate
			s.AccessRights[id] = ad
		}
	}
}

// keepWindows preserves renewals and update times on suppress_reset.
func keepWindows(s, old *model.Session) {
	s.QuotaRenews, s.LastUpdated = old.QuotaRenews, old.LastUpdated
	for id, ad := range s.AccessRights {
		if prev, ok := old.AccessRights[id]; ok {
			ad.Limit.QuotaRenews = prev.Limit.QuotaRenews
			s.AccessRights[id] = ad
		}
	}
}

// dontResetQuota: an API with dont_set_quota_on_create in the key's access
// rights suppresses the reset (Tyk §5.4).
func dontResetQuota(s *model.Session, snap *snapshot.Snapshot) bool {
	for id := range s.AccessRights {
		if api, ok := snap.APIs[id]; ok && api.DontSetQuotaOnCreate {
			return true
		}
	}
	return false
}

// lifetime is the Redis TTL of a session (Tyk §7.7): its own
// session_lifetime, else the largest of its APIs', else none.
func lifetime(s *model.Session, snap *snapshot.Snapshot) time.Duration {
	secs := s.SessionLifetime
	if secs <= 0 {
		for id := range s.AccessRights {
			if api, ok := snap.APIs[id]; ok {
				secs = max(secs, api.SessionLifetime)
			}
		}
	}
	if secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}
