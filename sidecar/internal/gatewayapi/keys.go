package gatewayapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/hmacsig"
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
	a.writeKey(w, r, key, keys.Hash(key), nil, false, "added", false)
}

// POST /tyk/keys/{keyID}: create or import a key chosen by the caller. A
// key with a basic-auth password is a user: keyID is the user name, and
// the key is stored under the org id followed by it, as Tyk does.
func (a *API) createCustomKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("keyID")
	if err := keys.ValidCustom(key); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid custom key: "+err.Error())
		return
	}
	a.writeKey(w, r, key, keys.Hash(key), nil, false, "added", true)
}

// PUT /tyk/keys/{keyID}[?hashed=1][&suppress_reset=1]
func (a *API) updateKey(w http.ResponseWriter, r *http.Request) {
	id, hash := a.keyHash(r)
	old, ok := a.loadSession(w, r, hash, msgKeyNotFoundPut)
	if !ok {
		return
	}
	a.writeKey(w, r, id, hash, old, r.URL.Query().Get("suppress_reset") == "1", "modified", false)
}

// POST /tyk/keys/preview: the session as POST /tyk/keys would create it
// (checked, policies applied, dates and quota windows set); nothing is
// stored and no key is generated.
func (a *API) previewKey(w http.ResponseWriter, r *http.Request) {
	s, _, _, ok := a.prepareKey(w, r, nil, false)
	if !ok {
		return
	}
	s.BasicAuthData.Password = ""
	writeRaw(w, http.StatusOK, append(s.AppendJSON(nil), '\n'))
}

// writeKey stores a prepared session and resets its quota counters unless
// suppressed. old is the stored session on update; custom says id was
// chosen by the caller (a basic-auth user name then gets the org prefix).
func (a *API) writeKey(w http.ResponseWriter, r *http.Request, id, hash string, old *model.Session, suppressReset bool, action string, custom bool) {
	s, snap, reset, ok := a.prepareKey(w, r, old, suppressReset)
	if !ok {
		return
	}
	if custom && s.BasicAuthData.Password != "" {
		id = basicauth.SessionID(s.OrgID, id)
		hash = keys.Hash(id)
	}
	if !custom && old == nil && s.Certificate != "" {
		// A certificate-bound key (Tyk's /tyk/keys/create): the key is the
		// org id followed by the certificate's SHA-256, which the filter
		// reads from the connection.
		d, ok := keys.CertDigest(s.Certificate)
		if !ok {
			writeError(w, http.StatusBadRequest, msgKeyFailed+` "certificate" must be a certificate id: the org id followed by the hex SHA-256 of the certificate`)
			return
		}
		id = s.OrgID + d
		hash = keys.Hash(id)
		switch _, _, err := a.d.Store.Session(r.Context(), hash); {
		case err == nil:
			writeError(w, http.StatusInternalServerError, "Failed to create key - Key with given certificate already found:"+id)
			return
		case !errors.Is(err, store.ErrNotFound):
			a.storageError(w, r, err)
			return
		}
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
	if err := a.setPassword(s, old); err != nil {
		writeError(w, http.StatusBadRequest, msgKeyFailed+" "+err.Error())
		return nil, nil, false, false
	}
	if err := a.setHMACSecret(s, old); err != nil {
		a.d.Logger.Error("HMAC secret generation failed", "error", err)
		writeError(w, http.StatusInternalServerError, msgKeyFailed)
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

// keyHash returns the key's id and the hash to look up. As in Tyk, with an
// organisation (org_id, or the org of the API api_id names) or
// username=true, the id is first tried as a basic-auth user name of that
// organisation (basicauth.SessionID), then as given.
func (a *API) keyHash(r *http.Request) (id, hash string) {
	id = r.PathValue("keyID")
	q := r.URL.Query()
	if q.Get("hashed") != "" {
		return id, id
	}
	org := q.Get("org_id")
	if apiID := q.Get("api_id"); apiID != "" {
		if api, ok := a.d.Snapshots.Current().APIs[apiID]; ok {
			org = api.OrgID
		}
	}
	if user := basicauth.SessionID(org, id); user != id && (org != "" || q.Get("username") == "true") {
		if _, _, err := a.d.Store.Session(r.Context(), keys.Hash(user)); err == nil {
			return user, keys.Hash(user)
		}
	}
	return id, keys.Hash(id)
}

// setPassword stores a basic-auth password as a bcrypt hash (Tyk's default
// and cost), or in clear when the caller asks with hash_type "plain" and
// the operator allows it (--allow-plain-passwords). Like Tyk, an update
// without a password, or with the stored hash sent back, keeps the stored
// one; any other hash_type a client sends is ignored (Tyk's gateway
// decides the hashing, not the request).
func (a *API) setPassword(s, old *model.Session) error {
	d := &s.BasicAuthData
	if old != nil && old.BasicAuthData.Password != "" && (d.Password == "" || d.Password == old.BasicAuthData.Password) {
		*d = old.BasicAuthData
		return nil
	}
	if d.Password == "" {
		return nil
	}
	if d.HashType == basicauth.PlainRequest {
		if !a.d.AllowPlainPasswords {
			return errors.New(`basic_auth_data.hash_type "plain" is refused: passwords are stored as bcrypt hashes unless the sidecar runs with --allow-plain-passwords`)
		}
		d.HashType = basicauth.HashPlain
		return nil
	}
	h, err := basicauth.Hash(d.Password)
	if err != nil {
		return fmt.Errorf("basic_auth_data.password: %w", err)
	}
	d.Password, d.HashType = h, basicauth.HashBcrypt
	return nil
}

// setHMACSecret gives a key with hmac_enabled and no hmac_string a secret
// made as Tyk makes it; an update without one keeps the stored secret.
func (a *API) setHMACSecret(s, old *model.Session) error {
	if !s.HMACEnabled || s.HmacSecret != "" {
		return nil
	}
	if old != nil && old.HmacSecret != "" {
		s.HmacSecret = old.HmacSecret
		return nil
	}
	secret, err := hmacsig.NewSecret(a.d.Rand)
	s.HmacSecret = secret
	return err
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
