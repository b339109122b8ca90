package e2e

import (
	"github.com/turnpike-dev/turnpike/tests/internal/proc"

	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/internal/bins"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// Paths of the binaries and filter.wasm, built once in TestMain.
var built bins.Suite

func TestMain(m *testing.M) { os.Exit(bins.RunSuite(m, "e2e", &built)) }

// Credentials every environment uses.
const (
	secret      = "e2e-secret"
	filterToken = "e2e-filter-token"
	maxBody     = 64 << 10 // the sidecars' --max-body-bytes
)

// options vary an environment.
type options struct {
	// persist turns on Redis's fsync-always append-only file.
	persist bool
	// plugin holds extra plugin configuration fields, as a JSON fragment
	// starting with a comma.
	plugin string
	// sidecars is the number of sidecar replicas (default 2, at least 2).
	sidecars int
	// sidecarArgs are extra flags for every sidecar.
	sidecarArgs []string
	// timeoutMS is the filter's sidecar.timeout_ms (default 1000).
	timeoutMS int
}

// env is one running Turnpike: Redis, two sidecar replicas, the gateway
// and the upstream. The gateway's filter talks to replica 0; the test's
// Gateway API calls go to replica 1, so every change also proves that
// replicas share state.
type env struct {
	t           *testing.T
	redis       testenv.Backend
	sidecars    []*proc.Proc
	sidecarURLs []string
	pluginCfg   string // the plugin configuration file
	gateway     *proc.Proc
	gatewayURL  string
	upstream    *httptest.Server
	upstreamHit atomic.Int64 // requests that reached the upstream
	client      *http.Client
	markers     int
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{t: t, client: &http.Client{Timeout: 10 * time.Second}}
	e.redis = testenv.StartBackend(t, testenv.RedisOptions{Persist: o.persist})
	e.upstream = httptest.NewServer(http.HandlerFunc(e.echo))
	t.Cleanup(e.upstream.Close)
	n := max(o.sidecars, 2)
	e.sidecars, e.sidecarURLs = make([]*proc.Proc, n), make([]string, n)
	for i := range e.sidecars {
		port := testenv.FreePort(t)
		e.sidecarURLs[i] = "http://127.0.0.1:" + strconv.Itoa(port)
		e.sidecars[i] = proc.New(t, "sidecar"+strconv.Itoa(i), built.Sidecar, append([]string{
			"--listen", "127.0.0.1:" + strconv.Itoa(port), "--redis", e.redis.URL(),
			"--secret", secret, "--filter-token", filterToken, "--config-poll", "50ms",
			"--max-body-bytes", strconv.Itoa(maxBody), "--redis-timeout", "500ms",
			"--shutdown-timeout", "2s", "--log-level", "info"}, o.sidecarArgs...)...)
		e.sidecars[i].Start()
	}
	for i := range e.sidecars {
		e.waitSidecarReady(i, 15*time.Second)
	}

	cfgFile := t.TempDir() + "/plugin-config.json"
	timeout := 1000
	if o.timeoutMS > 0 {
		timeout = o.timeoutMS
	}
	cfg := `{"sidecar":{"token":"` + filterToken + `","timeout_ms":` + strconv.Itoa(timeout) + `,"sync_timeout_ms":1000},` +
		`"sync_interval_ms":50,"negative_cache_ttl_ms":200` + o.plugin + `}`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.pluginCfg = cfgFile
	gwPort := testenv.FreePort(t)
	e.gatewayURL = "http://127.0.0.1:" + strconv.Itoa(gwPort)
	e.gateway = proc.New(t, "gateway", built.Gateway,
		"--listen", "127.0.0.1:"+strconv.Itoa(gwPort), "--wasm", built.Wasm, "--plugin-config", cfgFile,
		"--upstream", e.upstream.URL, "--cluster", "turnpike-sidecar="+e.sidecarURLs[0],
		"--workers", "4", "--log-level", "warn")
	e.startGateway()
	return e
}

// startGateway starts the gateway and waits until every VM has its first
// snapshot: before it, the filter answers everything with 503; after it, a
// path no API claims passes to the upstream (or gets 404 with unmatched:
// reject).
func (e *env) startGateway() {
	e.t.Helper()
	e.gateway.Start()
	e.eventually(60*time.Second, "gateway ready", func() error {
		if !e.gateway.Running() {
			e.t.Fatalf("the gateway exited during start-up: %v", e.gateway.Err())
		}
		for range 4 { // round robin: one request per VM
			r, err := e.try(http.MethodGet, "/no-api-here/ready", nil, "")
			if err != nil {
				return err
			}
			if r.status != 200 && r.is(404, "No API matches this request") != nil {
				return fmt.Errorf("unmatched request: %d %s", r.status, r.body)
			}
		}
		return nil
	})
}

// addGateway starts another 4-VM gateway whose filter talks to sidecar
// replica i, waits until it has its first snapshot, and returns it and its
// URL.
func (e *env) addGateway(i int) (*proc.Proc, string) {
	e.t.Helper()
	port := testenv.FreePort(e.t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	p := proc.New(e.t, "gateway-"+strconv.Itoa(port), built.Gateway,
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--wasm", built.Wasm, "--plugin-config", e.pluginCfg,
		"--upstream", e.upstream.URL, "--cluster", "turnpike-sidecar="+e.sidecarURLs[i],
		"--workers", "4", "--log-level", "warn")
	p.Start()
	e.eventually(60*time.Second, "gateway ready", func() error {
		if !p.Running() {
			e.t.Fatalf("the gateway exited during start-up: %v", p.Err())
		}
		for range 4 {
			r, err := e.tryAt(url, http.MethodGet, "/no-api-here/ready", nil, "")
			if err != nil {
				return err
			}
			if r.status != 200 && r.is(404, "No API matches this request") != nil {
				return fmt.Errorf("unmatched request: %d %s", r.status, r.body)
			}
		}
		return nil
	})
	return p, url
}

func (e *env) waitSidecarReady(i int, limit time.Duration) {
	e.t.Helper()
	e.sidecars[i].WaitOK(e.client, e.sidecarURLs[i]+"/ready", limit)
}

// echo is the upstream: it answers 200 with the request it received.
func (e *env) echo(w http.ResponseWriter, r *http.Request) {
	e.upstreamHit.Add(1)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": r.Header, "body": string(body),
	})
}

// reply is a response as the client saw it.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) String() string { return strconv.Itoa(r.status) + " " + r.body }

// is reports nil when r has the status and, for errors, the filter's
// exact error body with msg.
func (r reply) is(status int, msg string) error {
	if r.status != status || (msg != "" && r.body != tykError(msg)) {
		want := strconv.Itoa(status)
		if msg != "" {
			want += " " + msg
		}
		return fmt.Errorf("got %s, want %s", r, want)
	}
	return nil
}

// tykError is the filter's error body: Tyk's template, 4-space indent.
func tykError(msg string) string { return "{\n    \"error\": \"" + msg + "\"\n}" }

// try sends a request through the gateway. key, when set, goes in the
// Authorization header.
func (e *env) try(method, path string, header http.Header, key string) (reply, error) {
	return e.tryAt(e.gatewayURL, method, path, header, key)
}

// tryAt is try through the gateway at base.
func (e *env) tryAt(base, method, path string, header http.Header, key string) (reply, error) {
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return reply{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// get sends GET path with key through the gateway.
func (e *env) get(path, key string) reply {
	e.t.Helper()
	r, err := e.try(http.MethodGet, path, nil, key)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// expect fails the test unless GET path with key answers status (and msg).
func (e *env) expect(path, key string, status int, msg string) reply {
	e.t.Helper()
	r := e.get(path, key)
	if err := r.is(status, msg); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// statuses sends n GETs in sequence and returns their status codes.
func (e *env) statuses(n int, path, key string) []int {
	e.t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = e.get(path, key).status
	}
	return out
}

// within polls until GET path with key answers status (and msg) on every
// VM — four answers in a row, the gateway spreads requests round robin —
// and fails unless that happens within limit. It returns the time taken.
// Use it only with keys whose rate limit the probes cannot exhaust.
func (e *env) within(limit time.Duration, path, key string, status int, msg string) time.Duration {
	e.t.Helper()
	return e.eventually(limit, fmt.Sprintf("GET %s -> %d %s", path, status, msg), func() error {
		for range 4 {
			r, err := e.try(http.MethodGet, path, nil, key)
			if err != nil {
				return err
			}
			if err := r.is(status, msg); err != nil {
				return err
			}
		}
		return nil
	})
}

// eventually polls cond every 20 ms until it returns nil and fails the test
// with the last error after limit. It returns the time taken.
func (e *env) eventually(limit time.Duration, what string, cond func() error) time.Duration {
	e.t.Helper()
	return proc.Eventually(e.t, limit, what, cond)
}

// --- Gateway API -----------------------------------------------------------

// apiCall sends a Gateway API request to sidecar replica i.
func (e *env) apiCall(i int, method, path, body string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.sidecarURLs[i]+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-Tyk-Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// api sends a Gateway API request to replica 1 (the filter reads replica 0).
func (e *env) api(method, path, body string) reply {
	e.t.Helper()
	return e.apiCall(1, method, path, body)
}

// mustAPI sends a Gateway API request and fails the test unless it
// answers 200; it returns the decoded JSON body.
func (e *env) mustAPI(method, path, body string) map[string]any {
	e.t.Helper()
	r := e.api(method, path, body)
	if r.status != 200 {
		e.t.Fatalf("%s %s: %s", method, path, r)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		e.t.Fatalf("%s %s: body %q: %v", method, path, r.body, err)
	}
	return v
}

// createKey creates a generated key with the session body and returns it.
func (e *env) createKey(session string) string {
	e.t.Helper()
	v := e.mustAPI(http.MethodPost, "/tyk/keys", session)
	key, _ := v["key"].(string)
	if !strings.HasPrefix(key, "tp_") || v["action"] != "added" || v["status"] != "ok" {
		e.t.Fatalf("create key: %v", v)
	}
	return key
}

// getKey reads a key through the Gateway API (policies applied, live quota).
func (e *env) getKey(key string) map[string]any {
	e.t.Helper()
	return e.mustAPI(http.MethodGet, "/tyk/keys/"+key, "")
}

// addAPI stores an API definition and waits until every VM of the gateway
// routes its listen path (a request without a key gets 401). Writes made
// before it are then in the gateway's snapshot too: the sidecar reloads
// policies, APIs and orgs together.
func (e *env) addAPI(def string) {
	e.t.Helper()
	var d struct {
		APIID string `json:"api_id"`
		Proxy struct {
			ListenPath string `json:"listen_path"`
		} `json:"proxy"`
	}
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		e.t.Fatalf("API definition %s: %v", def, err)
	}
	e.mustAPI(http.MethodPost, "/tyk/apis", def)
	e.within(5*time.Second, d.Proxy.ListenPath, "", 401, "Authorization field missing")
}

// addVersionedAPI is addAPI for an API with versions: it checks the
// version before the key, so the probe's answer is "Version information
// not found".
func (e *env) addVersionedAPI(def, listenPath string) {
	e.t.Helper()
	e.mustAPI(http.MethodPost, "/tyk/apis", def)
	e.within(5*time.Second, listenPath, "", 403, "Version information not found")
}

// settle waits until the gateway has every config write made so far, by
// adding a fresh marker API after them.
func (e *env) settle() {
	e.t.Helper()
	e.markers++
	id := "marker" + strconv.Itoa(e.markers)
	e.addAPI(apiDef(id, ""))
}

// apiDef is an unversioned API definition at /<id>/ in org1, with extra
// fields (a JSON fragment starting with a comma) added. It has no
// target_url: turnpike-gateway sends an API's requests to its target_url,
// and these go to the test's upstream (--upstream).
func apiDef(id, extra string) string {
	return `{"api_id":"` + id + `","name":"` + id + `","org_id":"org1","active":true,` +
		`"proxy":{"listen_path":"/` + id + `/"},` +
		`"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}` + extra + `}`
}

// rights is an access_rights object granting the Default version of ids.
func rights(ids ...string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = `"` + id + `":{"api_id":"` + id + `","api_name":"` + id + `","versions":["Default"]}`
	}
	return `"access_rights":{` + strings.Join(parts, ",") + `}`
}

// num reads a JSON number field of a decoded object.
func num(t testing.TB, v map[string]any, field string) int64 {
	t.Helper()
	f, ok := v[field].(float64)
	if !ok {
		t.Fatalf("field %q = %v (%T), want a number", field, v[field], v[field])
	}
	return int64(f)
}

// apiError reports nil when a Gateway API reply is Tyk's error envelope
// with status and msg, byte for byte.
func apiError(r reply, status int, msg string) error {
	b, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}{"error", msg})
	want := string(b) + "\n"
	if r.status != status || r.body != want {
		return fmt.Errorf("got %d %q, want %d %q", r.status, r.body, status, want)
	}
	return nil
}
