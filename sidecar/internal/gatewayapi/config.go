package gatewayapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// Policies and API definitions are served from this replica's snapshot
// (reloaded right after each local write, and within a poll interval of a
// write through another replica) and written to Redis.

const msgPolicyFromFile = "Policies are read from the policies file (--policies); edit that file instead"

// GET /tyk/policies
func (a *API) listPolicies(w http.ResponseWriter, _ *http.Request) {
	writeJSONArray(w, a.d.Snapshots.Current().SortedPolicies())
}

// GET /tyk/policies/{polID}
func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := a.d.Snapshots.Current().StoredPolicy(r.PathValue("polID"))
	if !ok {
		writeError(w, http.StatusNotFound, msgPolicyNotFound)
		return
	}
	writeRaw(w, http.StatusOK, append(p.AppendJSON(nil), '\n'))
}

// POST /tyk/policies, POST /tyk/policies/{polID}
func (a *API) createPolicy(w http.ResponseWriter, r *http.Request) {
	a.writePolicy(w, r, "added")
}

// PUT /tyk/policies/{polID}
func (a *API) updatePolicy(w http.ResponseWriter, r *http.Request) {
	a.writePolicy(w, r, "modified")
}

func (a *API) writePolicy(w http.ResponseWriter, r *http.Request, action string) {
	if a.d.Snapshots.FileSource() {
		writeError(w, http.StatusInternalServerError, msgPolicyFromFile)
		return
	}
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	p, err := snapshot.DecodePolicy(body) // stored with "active": true when the body omits it
	if err != nil {
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return
	}
	if pathID := r.PathValue("polID"); pathID != "" {
		if p.ID == "" {
			p.ID = pathID
		} else if p.ID != pathID {
			writeError(w, http.StatusBadRequest, msgPolicyIDChanged)
			return
		}
	}
	switch {
	case p.ID == "":
		writeError(w, http.StatusBadRequest, msgPolicyNoID)
		return
	case !policyID.MatchString(p.ID):
		writeError(w, http.StatusBadRequest, msgPolicyBadID)
		return
	}
	if err := validatePolicy(p); err != nil {
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return
	}
	if _, err := a.d.Store.Put(r.Context(), store.Policies, p.ID, p.AppendJSON(nil)); err != nil {
		a.storageError(w, r, err)
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("policy stored", "policy_id", p.ID, "action", action)
	writeOK(w, p.ID, action)
}

// DELETE /tyk/policies/{polID}
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request) {
	if a.d.Snapshots.FileSource() {
		writeError(w, http.StatusInternalServerError, msgPolicyFromFile)
		return
	}
	id := r.PathValue("polID")
	found, err := a.d.Store.Delete(r.Context(), store.Policies, id)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusInternalServerError, msgDeleteFailed) // Tyk's answer for a missing policy
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("policy deleted", "policy_id", id)
	writeOK(w, id, "deleted")
}

// GET /tyk/apis: the definitions as they were sent.
func (a *API) listAPIs(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, append(a.d.Snapshots.Current().AppendAPIDocs(nil), '\n'))
}

// GET /tyk/apis/{apiID}: the definition as it was sent (with its api_id).
func (a *API) getAPI(w http.ResponseWriter, r *http.Request) {
	b, ok := a.d.Snapshots.Current().AppendAPIDoc(nil, r.PathValue("apiID"))
	if !ok {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	}
	writeRaw(w, http.StatusOK, append(b, '\n'))
}

// POST /tyk/apis: an empty api_id gets a generated one, as in Tyk.
func (a *API) createAPI(w http.ResponseWriter, r *http.Request) {
	doc, ok := a.readAPI(w, r)
	if !ok {
		return
	}
	id := doc.id
	if id == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
		id = hex.EncodeToString(b[:])
	}
	a.storeAPI(w, r, doc, id, "added")
}

// PUT /tyk/apis/{apiID}
func (a *API) updateAPI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("apiID")
	doc, ok := a.readAPI(w, r)
	if !ok {
		return
	}
	if doc.id != "" && doc.id != id {
		writeError(w, http.StatusBadRequest, msgAPIIDChanged)
		return
	}
	if a.appsMode() {
		if _, ok := a.d.Snapshots.Current().APIs[id]; !ok {
			writeError(w, http.StatusNotFound, msgAPINotFound)
			return
		}
	} else if _, err := a.d.Store.Get(r.Context(), store.APIs, id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	} else if err != nil {
		a.storageError(w, r, err)
		return
	}
	a.storeAPI(w, r, doc, id, "modified")
}

// readAPI reads and checks an API definition body.
func (a *API) readAPI(w http.ResponseWriter, r *http.Request) (*apiDoc, bool) {
	body, ok := a.readBody(w, r)
	if !ok {
		return nil, false
	}
	doc, err := parseAPI(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return doc, true
}

// storeAPI stores the document as sent, with api_id set to id.
func (a *API) storeAPI(w http.ResponseWriter, r *http.Request, doc *apiDoc, id, action string) {
	data, err := doc.withID(id)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.appsMode() {
		a.writeAppFile(w, r, id, data, action)
		return
	}
	if _, err := a.d.Store.Put(r.Context(), store.APIs, id, data); err != nil {
		a.storageError(w, r, err)
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("api stored", "api_id", id, "action", action)
	writeOK(w, id, action)
}

// DELETE /tyk/apis/{apiID}
func (a *API) deleteAPI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("apiID")
	if a.appsMode() {
		a.deleteAppFile(w, r, id)
		return
	}
	found, err := a.d.Store.Delete(r.Context(), store.APIs, id)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("api deleted", "api_id", id)
	writeOK(w, id, "deleted")
}
