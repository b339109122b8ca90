package gatewayapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/sidecar/internal/oauth"
)

// The OAuth client API (/tyk/oauth/...), with Tyk's routes, shapes,
// statuses and messages (Tyk's gateway/api.go). Differences, all
// deliberate: a client's policy and API must exist (400 naming them);
// rotating a client's secret, deleting the client and changing its policy
// revoke its tokens at once (every filter drops them within a second);
// token lists hold the tokens' hashes (tokens are only stored hashed);
// /tyk/oauth/authorize-client is served here, not under the API's listen
// path, and takes the API from api_id or from the client.

// Tyk's OAuth messages, word for word.
const (
	msgOAuthClientNotFound = "OAuth Client ID not found"
	msgOAuthNoClient       = "OAuth client not found"
	msgOAuthAPIMissing     = "API doesn't exist"
	msgOAuthNotOAuth       = "API is not OAuth2"
	msgOAuthPolicyMissing  = "Policy doesn't exist"
	msgOAuthPolicyNoAPI    = "Policy access rights doesn't contain API this OAuth client belongs to"
	msgOAuthFormMalformed  = "cannot parse form. Form malformed"
	msgOAuthClientMissing  = "oauth client doesn't exist"
)

// oauthRoutes are the /tyk/oauth/... routes.
func (a *API) oauthRoutes() []route {
	return []route{
		{"/tyk/oauth/clients/create", map[string]http.HandlerFunc{"POST": a.createOAuthClient}},
		{"/tyk/oauth/clients/apis/{appID}", map[string]http.HandlerFunc{"GET": a.oauthClientAPIs}},
		{"/tyk/oauth/clients/{apiID}", map[string]http.HandlerFunc{"GET": a.listOAuthClients}},
		{"/tyk/oauth/clients/{apiID}/{clientID}", map[string]http.HandlerFunc{
			"GET": a.getOAuthClient, "PUT": a.updateOAuthClient, "DELETE": a.deleteOAuthClient}},
		{"/tyk/oauth/clients/{apiID}/{clientID}/tokens", map[string]http.HandlerFunc{"GET": a.oauthClientTokens}},
		{"/tyk/oauth/clients/{apiID}/{clientID}/rotate", map[string]http.HandlerFunc{"PUT": a.rotateOAuthClient}},
		{"/tyk/oauth/refresh/{token}", map[string]http.HandlerFunc{"DELETE": a.invalidateOAuthRefresh}},
		{"/tyk/oauth/revoke", map[string]http.HandlerFunc{"POST": a.revokeOAuthToken}},
		{"/tyk/oauth/revoke_all", map[string]http.HandlerFunc{"POST": a.revokeOAuthTokens}},
		{"/tyk/oauth/tokens", map[string]http.HandlerFunc{"DELETE": a.purgeOAuthTokens}},
		{"/tyk/oauth/authorize-client", map[string]http.HandlerFunc{"POST": a.authorizeOAuthClient}},
	}
}

// oauthFail answers an error of the OAuth server: storage → 503, else 500.
func (a *API) oauthFail(w http.ResponseWriter, r *http.Request, err error) {
	if oauth.IsStorage(err) {
		a.storageError(w, r, err)
		return
	}
	a.d.Logger.Error("OAuth operation failed", "route", r.Pattern, "error", err)
	writeError(w, http.StatusInternalServerError, "Failure in storing client data.")
}

// readClientRequest decodes a client create/update body: JSON as Tyk's
// NewClientRequest; meta_data an object or null (it is merged into token
// sessions); a client_id that can be a path segment.
func (a *API) readClientRequest(w http.ResponseWriter, r *http.Request) (*oauth.ClientRequest, bool) {
	body, ok := a.readBody(w, r)
	if !ok {
		return nil, false
	}
	req := new(oauth.ClientRequest)
	if err := json.Unmarshal(body, req); err != nil {
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return nil, false
	}
	if m := bytes.TrimSpace(req.MetaData); len(m) > 0 && m[0] != '{' && !bytes.Equal(m, []byte("null")) {
		writeError(w, http.StatusBadRequest, msgMalformed+`: field "meta_data": expected an object`)
		return nil, false
	}
	if bytes.Equal(bytes.TrimSpace(req.MetaData), []byte("null")) {
		req.MetaData = nil
	}
	if id := req.ClientID; id != "" && (len(id) > 256 || strings.ContainsAny(id, "/?#%") ||
		strings.IndexFunc(id, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0) {
		writeError(w, http.StatusBadRequest, msgMalformed+`: field "client_id": 1-256 characters, no spaces, control characters, '/', '?', '#' or '%'`)
		return nil, false
	}
	return req, true
}

// POST /tyk/oauth/clients/create: registers a client on api_id, or,
// without one, on every OAuth API of its policy's access rights.
func (a *API) createOAuthClient(w http.ResponseWriter, r *http.Request) {
	req, ok := a.readClientRequest(w, r)
	if !ok {
		return
	}
	snap := a.d.Snapshots.Current()
	var apis []string
	if req.APIID != "" {
		api := snap.APIs[req.APIID]
		switch {
		case api == nil:
			writeError(w, http.StatusBadRequest, msgOAuthAPIMissing+": "+strconv.Quote(req.APIID))
			return
		case oauth.API(snap, req.APIID) == nil:
			writeError(w, http.StatusBadRequest, msgOAuthNotOAuth+": "+strconv.Quote(req.APIID))
			return
		}
		if _, ok := snap.Policy(req.PolicyID); req.PolicyID != "" && !ok {
			writeError(w, http.StatusBadRequest, msgOAuthPolicyMissing+": "+strconv.Quote(req.PolicyID))
			return
		}
		apis = []string{req.APIID}
	} else {
		pol, ok := snap.Policy(req.PolicyID)
		if !ok {
			writeError(w, http.StatusBadRequest, msgOAuthPolicyMissing+": "+strconv.Quote(req.PolicyID))
			return
		}
		for _, id := range slices.Sorted(maps.Keys(pol.AccessRights)) {
			if snap.APIs[id] == nil {
				writeError(w, http.StatusBadRequest, msgOAuthAPIMissing+": "+strconv.Quote(id))
				return
			}
			if oauth.API(snap, id) != nil {
				apis = append(apis, id)
			}
		}
		if len(apis) == 0 {
			writeError(w, http.StatusBadRequest, msgOAuthNotOAuth+": no API of policy "+strconv.Quote(req.PolicyID)+" is")
			return
		}
	}
	c := &oauth.Client{ID: req.ClientID, Secret: req.Secret, RedirectURI: req.RedirectURI, MetaData: req.MetaData,
		PolicyID: req.PolicyID, Description: req.Description}
	var err error
	if c.ID == "" {
		c.ID, err = a.d.OAuth.NewClientID()
	}
	if c.Secret == "" && err == nil {
		c.Secret, err = a.d.OAuth.NewSecret()
	}
	if err == nil {
		err = a.d.OAuth.CreateClient(r.Context(), apis, c)
	}
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	a.d.Logger.Info("OAuth client created", "client_id", c.ID, "apis", strings.Join(apis, ","))
	writeValue(w, http.StatusOK, c.Reply())
}

// GET /tyk/oauth/clients/{apiID}
func (a *API) listOAuthClients(w http.ResponseWriter, r *http.Request) {
	apiID := r.PathValue("apiID")
	snap := a.d.Snapshots.Current()
	out := []oauth.ClientRequest{}
	switch {
	case snap.APIs[apiID] == nil:
		writeError(w, http.StatusNotFound, msgOAuthNoClient)
		return
	case oauth.API(snap, apiID) == nil:
		writeValue(w, http.StatusOK, out)
		return
	}
	all, err := a.d.Store.OAuthClients(r.Context(), apiID)
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	for _, id := range slices.Sorted(maps.Keys(all)) {
		if c, err := oauth.DecodeClient([]byte(all[id])); err == nil {
			out = append(out, c.Reply())
		}
	}
	writeValue(w, http.StatusOK, out)
}

// loadOAuthClient reads {apiID}/{clientID}, answering 404 itself with
// notFoundAPI when the API is no OAuth API, msgOAuthClientNotFound when
// the client is unknown.
func (a *API) loadOAuthClient(w http.ResponseWriter, r *http.Request, notFoundAPI string) (*oauth.Client, bool) {
	apiID := r.PathValue("apiID")
	if oauth.API(a.d.Snapshots.Current(), apiID) == nil {
		writeError(w, http.StatusNotFound, notFoundAPI)
		return nil, false
	}
	c, _, err := a.d.OAuth.LoadClient(r.Context(), apiID, r.PathValue("clientID"))
	if err != nil {
		a.oauthFail(w, r, err)
		return nil, false
	}
	if c == nil {
		writeError(w, http.StatusNotFound, msgOAuthClientNotFound)
		return nil, false
	}
	return c, true
}

// GET /tyk/oauth/clients/{apiID}/{clientID}
func (a *API) getOAuthClient(w http.ResponseWriter, r *http.Request) {
	if c, ok := a.loadOAuthClient(w, r, msgOAuthClientNotFound); ok {
		writeValue(w, http.StatusOK, c.Reply())
	}
}

// PUT /tyk/oauth/clients/{apiID}/{clientID}: replaces redirect_uri,
// policy_id, meta_data and description; id and secret stay. A new policy
// revokes the client's tokens (as Tyk's invalidateTokens).
func (a *API) updateOAuthClient(w http.ResponseWriter, r *http.Request) {
	req, ok := a.readClientRequest(w, r)
	if !ok {
		return
	}
	apiID := r.PathValue("apiID")
	snap := a.d.Snapshots.Current()
	if oauth.API(snap, apiID) == nil {
		writeError(w, http.StatusNotFound, msgOAuthAPIMissing)
		return
	}
	if req.PolicyID != "" {
		pol, ok := snap.Policy(req.PolicyID)
		if !ok {
			writeError(w, http.StatusNotFound, msgOAuthPolicyMissing)
			return
		}
		if _, ok := pol.AccessRights[apiID]; !ok {
			writeError(w, http.StatusBadRequest, msgOAuthPolicyNoAPI)
			return
		}
	}
	old, ok := a.loadOAuthClient(w, r, msgOAuthAPIMissing)
	if !ok {
		return
	}
	c := &oauth.Client{ID: old.ID, Secret: old.Secret, RedirectURI: req.RedirectURI, MetaData: req.MetaData,
		PolicyID: req.PolicyID, Description: req.Description}
	a.replaceOAuthClient(w, r, c, c.PolicyID != old.PolicyID)
}

// PUT /tyk/oauth/clients/{apiID}/{clientID}/rotate: a new secret; the
// client's tokens are revoked.
func (a *API) rotateOAuthClient(w http.ResponseWriter, r *http.Request) {
	old, ok := a.loadOAuthClient(w, r, msgOAuthAPIMissing)
	if !ok {
		return
	}
	c := *old
	var err error
	if c.Secret, err = a.d.OAuth.NewSecret(); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	a.replaceOAuthClient(w, r, &c, true)
}

func (a *API) replaceOAuthClient(w http.ResponseWriter, r *http.Request, c *oauth.Client, revoke bool) {
	found, err := a.d.OAuth.ReplaceClient(r.Context(), r.PathValue("apiID"), c.ID, c.Encode(), revoke)
	switch {
	case err != nil:
		a.oauthFail(w, r, err)
	case !found: // deleted concurrently
		writeError(w, http.StatusNotFound, msgOAuthClientNotFound)
	default:
		a.d.Logger.Info("OAuth client updated", "client_id", c.ID, "tokens_revoked", revoke)
		writeValue(w, http.StatusOK, c.Reply())
	}
}

// DELETE /tyk/oauth/clients/{apiID}/{clientID}: the client and all its
// tokens. As in Tyk, deleting a client the API does not have is not an
// error.
func (a *API) deleteOAuthClient(w http.ResponseWriter, r *http.Request) {
	apiID, id := r.PathValue("apiID"), r.PathValue("clientID")
	if oauth.API(a.d.Snapshots.Current(), apiID) == nil {
		writeError(w, http.StatusNotFound, msgOAuthClientNotFound)
		return
	}
	found, err := a.d.OAuth.ReplaceClient(r.Context(), apiID, id, nil, true)
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	a.d.Logger.Info("OAuth client deleted", "api_id", apiID, "client_id", id, "found", found)
	writeOK(w, id, "deleted")
}

type oauthToken struct {
	Code    string `json:"code"`
	Expires int64  `json:"expires"`
}

// GET /tyk/oauth/clients/{apiID}/{clientID}/tokens[?page=N]: the client's
// unexpired access tokens, by hash.
func (a *API) oauthClientTokens(w http.ResponseWriter, r *http.Request) {
	apiID := r.PathValue("apiID")
	if oauth.API(a.d.Snapshots.Current(), apiID) == nil {
		writeError(w, http.StatusNotFound, msgOAuthClientNotFound)
		return
	}
	list, err := a.d.Store.OAuthTokens(r.Context(), apiID, r.PathValue("clientID"), a.d.Now().Unix())
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	tokens := make([]oauthToken, 0, len(list))
	for _, t := range list {
		tokens = append(tokens, oauthToken{t.KeyHash, t.Expires})
	}
	p := r.URL.Query().Get("page")
	if p == "" {
		writeValue(w, http.StatusOK, tokens)
		return
	}
	const size = 100
	page, err := strconv.Atoi(p)
	if err != nil || page <= 0 {
		page = 1
	}
	total := int(math.Ceil(float64(len(tokens)) / size))
	from := min((page-1)*size, len(tokens))
	type pagination struct {
		PageSize  int `json:"page_size"`
		PageNum   int `json:"page_num"`
		PageTotal int `json:"page_total"`
	}
	writeValue(w, http.StatusOK, struct {
		Pagination pagination   `json:"Pagination"`
		Tokens     []oauthToken `json:"Tokens"`
	}{pagination{size, page, total}, tokens[from:min(from+size, len(tokens))]})
}

// GET /tyk/oauth/clients/apis/{appID}[?orgID=]: the OAuth APIs the client
// is registered on.
func (a *API) oauthClientAPIs(w http.ResponseWriter, r *http.Request) {
	apis, err := a.d.OAuth.ClientAPIs(r.Context(), r.PathValue("appID"), r.URL.Query().Get("orgID"))
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeValue(w, http.StatusOK, apis)
}

// DELETE /tyk/oauth/refresh/{token}?api_id=: the refresh token only (the
// access token issued with it stays, as in Tyk).
func (a *API) invalidateOAuthRefresh(w http.ResponseWriter, r *http.Request) {
	apiID := r.URL.Query().Get("api_id")
	snap := a.d.Snapshots.Current()
	switch {
	case apiID == "":
		writeError(w, http.StatusBadRequest, "Missing parameter api_id")
		return
	case snap.APIs[apiID] == nil:
		writeError(w, http.StatusNotFound, "API for this refresh token not found")
		return
	case oauth.API(snap, apiID) == nil:
		writeError(w, http.StatusBadRequest, "OAuth is not enabled on this API")
		return
	}
	token := r.PathValue("token")
	if err := a.d.OAuth.RevokeRefresh(r.Context(), apiID, token, false); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeOK(w, token, "deleted")
}

// parseForm reads an urlencoded body as Tyk's handlers do.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, msgOAuthFormMalformed)
		return false
	}
	return true
}

// clientAPIs returns the APIs OAuth client id (of the form's org_id) is
// registered on, or answers: missing is the status Tyk's handler gives for a
// client on no API (revoke and revoke_all differ).
func (a *API) clientAPIs(w http.ResponseWriter, r *http.Request, id string, missing int) ([]string, bool) {
	apis, err := a.d.OAuth.ClientAPIs(r.Context(), id, r.PostFormValue("org_id"))
	if err != nil {
		a.oauthFail(w, r, err)
		return nil, false
	}
	if len(apis) == 0 {
		writeError(w, missing, msgOAuthClientMissing)
		return nil, false
	}
	return apis, true
}

// POST /tyk/oauth/revoke: token, token_type_hint, client_id, org_id —
// revoked on every API the client is registered on.
func (a *API) revokeOAuthToken(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	token, id := r.PostFormValue("token"), r.PostFormValue("client_id")
	switch {
	case token == "":
		writeError(w, http.StatusBadRequest, oa.MsgTokenRequired)
		return
	case id == "":
		writeError(w, http.StatusBadRequest, oa.MsgClientIDRequired)
		return
	}
	apis, ok := a.clientAPIs(w, r, id, http.StatusBadRequest)
	if !ok {
		return
	}
	for _, api := range apis {
		if err := a.d.OAuth.RevokeToken(r.Context(), api, token, r.PostFormValue("token_type_hint")); err != nil {
			a.oauthFail(w, r, err)
			return
		}
	}
	writeValue(w, http.StatusOK, statusMessage{"ok", oa.MsgTokenRevoked})
}

// POST /tyk/oauth/revoke_all: client_id, client_secret, org_id — every
// token of the client, on every API where the secret matches.
func (a *API) revokeOAuthTokens(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	id, secret := r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	switch {
	case id == "":
		writeError(w, http.StatusUnauthorized, oa.MsgClientIDRequired)
		return
	case secret == "":
		writeError(w, http.StatusUnauthorized, oa.MsgSecretRequired)
		return
	}
	apis, ok := a.clientAPIs(w, r, id, http.StatusNotFound)
	if !ok {
		return
	}
	for _, api := range apis {
		// As in Tyk, an API whose client has another secret is skipped.
		if _, _, err := a.d.OAuth.RevokeAll(r.Context(), api, id, secret); err != nil {
			a.oauthFail(w, r, err)
			return
		}
	}
	writeValue(w, http.StatusOK, statusMessage{"ok", oa.MsgAllTokensRevoked})
}

// DELETE /tyk/oauth/tokens?scope=lapsed: drops expired tokens from the
// clients' token lists.
func (a *API) purgeOAuthTokens(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case !q.Has("scope"):
		writeError(w, http.StatusUnprocessableEntity, "scope parameter is required")
		return
	case q.Get("scope") != "lapsed":
		writeError(w, http.StatusBadRequest, "unknown scope")
		return
	}
	if err := a.d.OAuth.PurgeLapsed(r.Context()); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeValue(w, http.StatusOK, statusMessage{"ok", "lapsed tokens purged"})
}

// POST /tyk/oauth/authorize-client: the resource owner's approval; issues
// an authorization code (osin's output, see oauth.AuthorizeClient). The
// API is api_id, or the one OAuth API the client is registered on.
func (a *API) authorizeOAuthClient(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	params := oa.Form{}
	for k, vs := range r.Form {
		for _, v := range vs {
			params = append(params, oa.Field{Name: k, Value: v})
		}
	}
	snap := a.d.Snapshots.Current()
	apiID := r.FormValue("api_id")
	if apiID == "" {
		apis, err := a.d.OAuth.ClientAPIs(r.Context(), r.FormValue("client_id"), "")
		if err != nil {
			a.oauthFail(w, r, err)
			return
		}
		switch len(apis) {
		case 0:
			writeRaw(w, oa.ErrorStatus, oa.AppendError(nil, &oa.Error{Code: oa.ErrUnauthorizedClient, State: r.FormValue("state")}))
			return
		case 1:
			apiID = apis[0]
		default:
			writeError(w, http.StatusBadRequest, "api_id is required: the client is registered on several APIs ("+strings.Join(apis, ", ")+")")
			return
		}
	}
	api := oauth.API(snap, apiID)
	if api == nil {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	}
	code, body, err := a.d.OAuth.AuthorizeClient(r.Context(), api, params)
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeRaw(w, code, body)
}
