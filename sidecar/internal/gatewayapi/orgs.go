package gatewayapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// GET /tyk/org/keys
func (a *API) listOrgs(w http.ResponseWriter, r *http.Request) {
	ids, err := a.d.Store.OrgIDs(r.Context())
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	writeKeyList(w, ids)
}

// GET /tyk/org/keys/{orgID}: the org session with its live quota.
func (a *API) getOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("orgID")
	data, err := a.d.Store.Org(r.Context(), org)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgOrgNotFound)
		return
	} else if err != nil {
		a.storageError(w, r, err)
		return
	}
	s, err := model.DecodeSession(data)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Stored org session is corrupt: "+err.Error())
		return
	}
	now := a.d.Now().Unix()
	states, err := a.d.Store.Counters(r.Context(), now, store.QuotaKey("", org))
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	s.QuotaRemaining, s.QuotaRenews = live(states[0], s.QuotaMax, s.QuotaRenewalRate, now, s.QuotaRenews)
	writeRaw(w, http.StatusOK, append(s.AppendJSON(nil), '\n'))
}

// POST|PUT /tyk/org/keys/{orgID}[?reset_quota=1]
func (a *API) putOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("orgID")
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	s, err := model.DecodeSession(body)
	if err == nil {
		err = validateWindows("", s.Per, s.AccessRights)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return
	}
	if s.OrgID == "" {
		s.OrgID = org
	}
	reset := r.URL.Query().Get("reset_quota") == "1"
	if reset && s.QuotaRenewalRate > 0 {
		s.QuotaRenews = a.d.Now().Add(time.Duration(s.QuotaRenewalRate) * time.Second).Unix()
	}
	if _, err := a.d.Store.PutOrg(r.Context(), org, s.AppendJSON(nil), reset); err != nil {
		a.storageError(w, r, err)
		return
	}
	a.reloadAfterWrite(r.Context())
	action := "added"
	if r.Method == http.MethodPut {
		action = "modified"
	}
	a.d.Logger.Info("org session stored", "org_id", org, "action", action, "quota_reset", reset)
	writeOK(w, org, action)
}

// DELETE /tyk/org/keys/{orgID}
func (a *API) deleteOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("orgID")
	found, err := a.d.Store.DeleteOrg(r.Context(), org)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, msgOrgNotFound)
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("org session deleted", "org_id", org)
	writeOK(w, org, "deleted")
}

type healthCheck struct {
	Status      string                  `json:"status"`
	Version     string                  `json:"version"`
	Description string                  `json:"description"`
	Details     map[string]healthDetail `json:"details"`
}

type healthDetail struct {
	Status        string `json:"status"`
	ComponentType string `json:"componentType"`
	Time          string `json:"time"`
	Output        string `json:"output,omitempty"`
}

// GET /hello: Tyk's health document; always 200, status pass or fail.
func (a *API) hello(w http.ResponseWriter, r *http.Request) {
	d := healthDetail{Status: "pass", ComponentType: "datastore", Time: a.d.Now().UTC().Format(time.RFC3339)}
	status := "pass"
	if err := a.d.Store.Ping(r.Context()); err != nil {
		d.Status, d.Output, status = "fail", "Redis is unreachable", "fail"
	}
	writeValue(w, http.StatusOK, healthCheck{
		Status: status, Version: a.d.Version, Description: "Turnpike sidecar",
		Details: map[string]healthDetail{"redis": d},
	})
}

// GET /ready: 200 when Redis answers and the config is loaded, else 503.
// While part of a Redis Cluster fails, 200 with the message saying so.
func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if err := a.d.Ready(); err != nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if a.d.Degraded != nil {
		if problems := a.d.Degraded(); len(problems) > 0 {
			// Still ready: the keys of the healthy slots work, and taking
			// every replica out of service would fail them too.
			writeValue(w, http.StatusOK, statusMessage{Status: "ok", Message: "ready, degraded: " + strings.Join(problems, "; ")})
			return
		}
	}
	writeValue(w, http.StatusOK, statusMessage{Status: "ok", Message: "ready"})
}
