// Package gatewayapi serves the Tyk-compatible Gateway API under /tyk/
// (keys, policies, APIs, org keys, reload, OAuth clients) and the /hello and /ready health
// endpoints, with Tyk's request and response shapes, status codes and
// messages (Tyk's gateway/api.go in github.com/TykTechnologies/tyk; sidecar/README.md).
//
// Differences from Tyk, all deliberate: keys are always stored hashed
// (SHA-256), so GET /tyk/keys lists hashes and ?hashed= takes a hash; policy,
// API and org writes take effect on every replica within a second, without
// /tyk/reload; malformed input is always 400 with a message naming the
// problem (Tyk answers some of it with 500); API definitions are returned as
// sent, and refused when they enable access settings Turnpike does not
// enforce (refuse.go, refuse_features.go); /tyk/reload?block=true waits for
// the filters (reload.go); with --apps, /tyk/apis writes {api-id}.json files
// (apps.go); routes Turnpike deliberately leaves out (OAS definitions,
// /tyk/debug, /tyk/mcps) answer 501 saying why (surface.go).
package gatewayapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
	"github.com/turnpike-dev/turnpike/sidecar/internal/oauth"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// Tyk's messages, word for word.
const (
	msgBadSecret       = "Attempted administrative access with invalid or missing key!"
	msgMalformed       = "Request malformed"
	msgMethod          = "Method not supported"
	msgKeyNotFound     = "Key not found"
	msgKeyNotFoundPut  = "Key is not found"
	msgKeyNotFoundDel  = "There is no such key found"
	msgKeyFailed       = "Failed to create key, ensure security settings are correct."
	msgNoAccessRights  = "Failed to create key, keys must have at least one Access Rights record set."
	msgPolicyNotFound  = "Policy not found"
	msgPolicyNoID      = "Unable to create policy without id."
	msgPolicyBadID     = "Invalid Policy ID: Allowed characters: a-z, A-Z, 0-9, ., _, -, ~"
	msgPolicyIDChanged = "Request ID does not match that in policy! For Update operations these must match."
	msgDeleteFailed    = "Delete failed"
	msgAPINotFound     = "API not found"
	msgAPIIDChanged    = "Request APIID does not match that in Definition! For Update operations these must match."
	msgOrgNotFound     = "Org not found"
	msgStorage         = "Storage unavailable, please retry"
)

// Deps is what the API needs.
type Deps struct {
	Store           *store.Store
	Snapshots       *snapshot.Keeper
	Secret          string
	AllowMasterKeys bool
	// AllowPlainPasswords accepts basic-auth passwords stored in clear.
	AllowPlainPasswords bool
	MaxBodyBytes        int64
	Logger              *slog.Logger
	Rand                io.Reader        // key generation entropy (crypto/rand.Reader)
	Now                 func() time.Time // clock (time.Now)
	Ready               func() error     // nil when Redis is reachable and the config loaded
	Degraded            func() []string  // what fails although ready (parts of a Redis Cluster); may be nil
	Version             string           // reported by /hello
	PolicyFile          string           // set when policies come from a file
	OAuth               *oauth.Server    // OAuth clients and tokens; nil = made from the fields above
	JWKS                *jwks.Fetcher    // JWKS key sets of JWT APIs (DELETE /tyk/cache/jwks); may be nil
}

// API is the Gateway API handler set.
type API struct{ d Deps }

// New makes the API.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.OAuth == nil {
		d.OAuth = oauth.New(oauth.Deps{Store: d.Store, Snapshots: d.Snapshots, Rand: d.Rand, Now: d.Now, Logger: d.Logger})
	}
	return &API{d: d}
}

// Register adds /tyk/..., /hello and /ready to mux.
func (a *API) Register(mux *http.ServeMux) {
	tyk := http.NewServeMux()
	routes := []route{
		{"/tyk/keys", map[string]http.HandlerFunc{"GET": a.listKeys, "POST": a.createGeneratedKey}},
		{"/tyk/keys/create", map[string]http.HandlerFunc{"POST": a.createGeneratedKey}},
		{"/tyk/keys/preview", map[string]http.HandlerFunc{"POST": a.previewKey}},
		{"/tyk/keys/{keyID}", map[string]http.HandlerFunc{
			"GET": a.getKey, "POST": a.createCustomKey, "PUT": a.updateKey, "DELETE": a.deleteKey}},
		{"/tyk/policies", map[string]http.HandlerFunc{"GET": a.listPolicies, "POST": a.createPolicy}},
		{"/tyk/policies/{polID}", map[string]http.HandlerFunc{
			"GET": a.getPolicy, "POST": a.createPolicy, "PUT": a.updatePolicy, "DELETE": a.deletePolicy}},
		{"/tyk/apis", map[string]http.HandlerFunc{"GET": a.listAPIs, "POST": a.createAPI}},
		{"/tyk/apis/{apiID}", map[string]http.HandlerFunc{"GET": a.getAPI, "PUT": a.updateAPI, "DELETE": a.deleteAPI}},
		{"/tyk/org/keys", map[string]http.HandlerFunc{"GET": a.listOrgs}},
		{"/tyk/org/keys/{orgID}", map[string]http.HandlerFunc{
			"GET": a.getOrg, "POST": a.putOrg, "PUT": a.putOrg, "DELETE": a.deleteOrg}},
		{"/tyk/reload", map[string]http.HandlerFunc{"GET": a.reload}},
		{"/tyk/reload/group", map[string]http.HandlerFunc{"GET": a.reloadGroup}},
		{"/tyk/cache/jwks/{apiID}", map[string]http.HandlerFunc{"DELETE": a.flushJWKS}},
		// Issue 16 (surface.go, certs.go); /tyk/cache/jwks too (cacheRoute).
		{"/tyk/cache/{apiID}", map[string]http.HandlerFunc{"DELETE": a.cacheRoute}},
		{"/tyk/keys/policy/{keyID}", map[string]http.HandlerFunc{"POST": a.setKeyPolicies}},
		{"/tyk/apis/{apiID}/{sub}", map[string]http.HandlerFunc{"GET": a.apiSubresource}},
		{"/tyk/certs", map[string]http.HandlerFunc{"GET": a.listCerts, "POST": a.addCert}},
		{"/tyk/certs/{certID}", map[string]http.HandlerFunc{"GET": a.getCerts, "DELETE": a.deleteCert}},
		{"/tyk/schema", map[string]http.HandlerFunc{"GET": a.schema}}, // schema.go
	}
	routes = append(routes, a.oauthRoutes()...)
	for _, r := range routes {
		for method, h := range r.methods {
			tyk.HandleFunc(method+" "+r.path, h)
		}
		switch r.path {
		case "/tyk/keys/create", "/tyk/keys/preview", "/tyk/oauth/clients/create", "/tyk/oauth/clients/apis/{appID}":
			continue // other methods fall to /tyk/keys/{keyID}'s (/tyk/oauth/clients/{apiID}[/{clientID}]'s) handlers
		}
		// Without a method the pattern catches every other method: Tyk
		// answers those with its own 405 envelope, not net/http's text.
		tyk.HandleFunc(r.path, func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, msgMethod)
		})
	}
	// Deliberately not implemented: 501 with why. The OAS routes share
	// /tyk/apis/ with the classic ones, so they are registered per method
	// (a method-less pattern would conflict with "GET /tyk/apis/{apiID}");
	// GET /tyk/apis/oas/{x} is answered by apiSubresource.
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		for _, p := range []string{"/tyk/apis/oas", "/tyk/apis/oas/{apiID}", "/tyk/apis/oas/{apiID}/{rest...}"} {
			if m != "GET" || p != "/tyk/apis/oas/{apiID}" {
				tyk.HandleFunc(m+" "+p, notImplemented(whyOAS))
			}
		}
	}
	for _, p := range []struct{ path, why string }{
		{"/tyk/debug", whyDebug}, {"/tyk/mcps", whyMCP}, {"/tyk/mcps/", whyMCP},
	} {
		tyk.HandleFunc(p.path, notImplemented(p.why))
	}
	tyk.HandleFunc("/tyk/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
	mux.Handle("/tyk/", a.authenticate(tyk))
	mux.HandleFunc("GET /hello", a.hello)
	mux.HandleFunc("GET /ready", a.ready)
}

// route is a path and its handler per method.
type route struct {
	path    string
	methods map[string]http.HandlerFunc
}

// errConfigNotLoaded is logged for requests refused before the first config
// load from Redis.
var errConfigNotLoaded = errors.New("config not loaded from Redis yet")

// authenticate checks X-Tyk-Authorization in constant time, refuses service
// until the config is loaded, strips a trailing slash as Tyk does, and limits
// the body size.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keys.Equal(r.Header.Get("X-Tyk-Authorization"), a.d.Secret) {
			writeError(w, http.StatusForbidden, msgBadSecret)
			return
		}
		if !a.d.Snapshots.Ready() {
			// Until the config is first loaded the snapshot is empty, and
			// answering from it would call existing policies and APIs
			// unknown (400, 404) where the truth is "retry".
			a.storageError(w, r, errConfigNotLoaded)
			return
		}
		if p := r.URL.Path; len(p) > len("/tyk/") && strings.HasSuffix(p, "/") {
			r.URL.Path = strings.TrimRight(p, "/")
			r.URL.RawPath = ""
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.d.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// readBody reads the request body, answering 413 or 400 itself on failure.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request body too large: the limit is %d bytes", tooBig.Limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, msgMalformed+": "+err.Error())
		return nil, false
	case len(strings.TrimSpace(string(body))) == 0:
		writeError(w, http.StatusBadRequest, msgMalformed+": empty body")
		return nil, false
	case !utf8.Valid(body):
		// JSON is UTF-8 (RFC 8259); storing other bytes would hand every
		// reader of the key or policy a document it may refuse.
		writeError(w, http.StatusBadRequest, msgMalformed+": body is not valid UTF-8")
		return nil, false
	}
	return body, true
}

// storageError logs a Redis failure and answers 503 with Retry-After: the
// request was fine and may be repeated, which a 500 would not tell a client.
func (a *API) storageError(w http.ResponseWriter, r *http.Request, err error) {
	a.d.Logger.Error("storage operation failed", "route", r.Pattern, "error", err)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, msgStorage)
}

// reloadAfterWrite makes a config write visible to this replica's next
// request at once; other replicas see it at their next version poll.
func (a *API) reloadAfterWrite(ctx context.Context) {
	if err := a.d.Snapshots.Reload(ctx); err != nil {
		a.d.Logger.Warn("config reload after write failed; the next poll retries", "error", err)
	}
}

type statusMessage struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type modified struct {
	Key     string `json:"key"`
	Status  string `json:"status"`
	Action  string `json:"action"`
	KeyHash string `json:"key_hash,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeValue(w, code, statusMessage{Status: "error", Message: msg})
}

// writeKeyList answers Tyk's {"keys":[...]} list, with [] (never null) when
// there are none.
func writeKeyList(w http.ResponseWriter, ids []string) {
	if ids == nil {
		ids = []string{}
	}
	writeValue(w, http.StatusOK, struct {
		Keys []string `json:"keys"`
	}{ids})
}

// writeJSONArray answers a JSON array of model objects, encoded by their
// reflection-free AppendJSON.
func writeJSONArray[T interface{ AppendJSON([]byte) []byte }](w http.ResponseWriter, items []T) {
	b := []byte{'['}
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = it.AppendJSON(b)
	}
	writeRaw(w, http.StatusOK, append(b, "]\n"...))
}

func writeOK(w http.ResponseWriter, key, action string) {
	writeValue(w, http.StatusOK, modified{Key: key, Status: "ok", Action: action})
}

// writeValue writes v as compact JSON plus a newline, like Tyk.
func writeValue(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own envelope types reach here
		code, b = http.StatusInternalServerError, []byte(`{"status":"error","message":"encoding failed"}`)
	}
	writeRaw(w, code, append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
