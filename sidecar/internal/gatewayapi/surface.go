package gatewayapi

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/valyala/fastjson"
)

// The rest of Tyk's Gateway API surface (issue 16): cache invalidation,
// setting a key's policies, an API's versions, and 501 for the routes
// Turnpike deliberately does not implement.

// DELETE /tyk/cache/{apiID}: bumps the API's cache generation; every
// filter stops serving the API's cached responses at its next sync poll
// (within a second). Tyk answers 200 whether or not the API exists.
func (a *API) invalidateCache(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("apiID")
	if err := a.d.Store.InvalidateCache(r.Context(), id); err != nil {
		a.d.Logger.Error("cache invalidation failed", "api_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "Cache invalidation failed.")
		return
	}
	a.reloadAfterWrite(r.Context())
	a.d.Logger.Info("response cache invalidated", "api_id", id)
	writeValue(w, http.StatusOK, statusMessage{Status: "ok", Message: "cache invalidated"})
}

// policyUpdate is Tyk's PolicyUpdateObj.
type policyUpdate struct {
	Policy        string   `json:"policy"`
	ApplyPolicies []string `json:"apply_policies"`
}

// POST /tyk/keys/policy/{keyID}: sets the policies of the key whose hash
// is keyID (Tyk's "set policies for a hashed key"); counters are kept.
func (a *API) setKeyPolicies(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	var upd policyUpdate
	if err := decodePolicyUpdate(body, &upd); err != nil {
		writeError(w, http.StatusBadRequest, "Couldn't decode instruction")
		return
	}
	ids := upd.ApplyPolicies
	if upd.Policy != "" {
		ids = append(ids, upd.Policy)
	}
	hash := r.PathValue("keyID")
	old, ok := a.loadSession(w, r, hash, msgKeyNotFound)
	if !ok {
		return
	}
	snap := a.d.Snapshots.Current()
	for _, pid := range ids {
		if _, ok := snap.Policy(pid); !ok {
			writeError(w, http.StatusBadRequest, msgPolicyNotFound+`: "`+pid+`"`)
			return
		}
	}
	s := old.Clone()
	s.ApplyPolicies, s.ApplyPolicyID = ids, ""
	if err := policy.Apply(s, snap, nil); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.LastUpdated = strconv.FormatInt(a.d.Now().Unix(), 10)
	if err := a.d.Store.PutSession(r.Context(), hash, s.AppendJSON(nil), lifetime(s, snap), nil); err != nil {
		a.storageError(w, r, err)
		return
	}
	a.d.Logger.Info("key policies set", "key_hash", hash, "policies", len(ids))
	writeValue(w, http.StatusOK, modified{Key: hash, Status: "ok", Action: "updated"})
}

// GET /tyk/apis/{apiID}/{sub}: an API's versions, or the OAS routes
// (/tyk/apis/oas/{apiID}, which share the pattern).
func (a *API) apiSubresource(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.PathValue("apiID") == "oas":
		notImplemented(whyOAS)(w, r)
	case r.PathValue("sub") == "versions":
		a.listAPIVersions(w, r)
	default:
		writeError(w, http.StatusNotFound, "Not found")
	}
}

// versionMeta is Tyk's VersionMeta.
type versionMeta struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	VersionName      string `json:"versionName"`
	Internal         bool   `json:"internal"`
	ExpirationDate   string `json:"expirationDate"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
}

// GET /tyk/apis/{apiID}/versions: the base API and the APIs its
// definition.versions names (Tyk's versioning by separate API
// definitions), base first then by version name; ?searchText= filters by
// version name, ?accessType=internal lists none (Turnpike refuses
// internal APIs).
func (a *API) listAPIVersions(w http.ResponseWriter, r *http.Request) {
	snap := a.d.Snapshots.Current()
	base, ok := apiDocValue(snap.APIDocs, r.PathValue("apiID"))
	if !ok {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	}
	search := strings.ToLower(r.URL.Query().Get("searchText"))
	onlyInternal := r.URL.Query().Get("accessType") == "internal"
	include := func(name string) bool {
		return !onlyInternal && (search == "" || strings.Contains(strings.ToLower(name), search))
	}
	baseName := string(base.GetStringBytes("definition", "name"))
	def := string(base.GetStringBytes("definition", "default"))
	if def == "self" {
		def = baseName
	}
	meta := func(id, version string, v *fastjson.Value) versionMeta {
		return versionMeta{ID: id, Name: string(v.GetStringBytes("name")), VersionName: version,
			ExpirationDate: string(v.GetStringBytes("expiration")), IsDefaultVersion: def == version}
	}
	metas := []versionMeta{}
	if o := base.GetObject("definition", "versions"); o != nil {
		o.Visit(func(k []byte, idv *fastjson.Value) {
			id := string(idv.GetStringBytes())
			if child, ok := apiDocValue(snap.APIDocs, id); ok && include(string(k)) {
				metas = append(metas, meta(id, string(k), child))
			}
		})
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].VersionName < metas[j].VersionName })
	if include(baseName) {
		metas = append([]versionMeta{meta(r.PathValue("apiID"), baseName, base)}, metas...)
	}
	writeValue(w, http.StatusOK, struct {
		APIs   []versionMeta `json:"apis"`
		Status string        `json:"status"`
	}{metas, "success"})
}

func apiDocValue(docs map[string][]byte, id string) (*fastjson.Value, bool) {
	doc, ok := docs[id]
	if !ok {
		return nil, false
	}
	v, err := fastjson.ParseBytes(doc)
	return v, err == nil
}

// notImplemented answers the routes Turnpike deliberately leaves out
// (sidecar/README.md lists them) with 501 and why, rather than 404, so a
// client learns the route is known and not coming from this gateway.
func notImplemented(why string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotImplemented, why)
	}
}

// Why each deliberately missing route is missing.
const (
	whyOAS = "Not implemented: Turnpike takes Tyk classic API definitions only (/tyk/apis); " +
		"OAS API definitions (/tyk/apis/oas) are not supported"
	whyDebug = "Not implemented: Turnpike has no /tyk/debug; requests are decided in the proxy's WebAssembly filter, " +
		"whose decisions are logged and counted there"
	whyMCP = "Not implemented: Turnpike does not proxy MCP servers (/tyk/mcps)"
)

// errBadMember is decodePolicyUpdate's error for a member of the wrong type.
var errBadMember = errors.New("policy or apply_policies of the wrong type")

// decodePolicyUpdate decodes Tyk's PolicyUpdateObj; unknown members are
// ignored, as encoding/json does in Tyk.
func decodePolicyUpdate(body []byte, v *policyUpdate) error {
	p, err := fastjson.ParseBytes(body)
	if err != nil {
		return err
	}
	o, err := p.Object()
	if err != nil {
		return err
	}
	o.Visit(func(k []byte, m *fastjson.Value) {
		switch string(k) {
		case "policy":
			if m.Type() == fastjson.TypeString {
				v.Policy = string(m.GetStringBytes())
			} else if m.Type() != fastjson.TypeNull {
				err = errBadMember
			}
		case "apply_policies":
			if m.Type() != fastjson.TypeArray && m.Type() != fastjson.TypeNull {
				err = errBadMember
				return
			}
			for _, e := range m.GetArray() {
				if e.Type() != fastjson.TypeString {
					err = errBadMember
					return
				}
				v.ApplyPolicies = append(v.ApplyPolicies, string(e.GetStringBytes()))
			}
		}
	})
	return err
}
