package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/valyala/fastjson"
)

// headerAPIID is the header filter.wasm sets to the api_id a request matched (and removes when
// nothing matched, so a client copy never survives the filter): the gateway routes on it and
// removes it before the upstream, as envoy/envoy.yaml does with a header route and
// request_headers_to_remove. It is filter.HeaderAPIID (filter/internal/plugin/pipeline.go).
const headerAPIID = "x-turnpike-api-id"

// route is where one API's requests go: the proxy section of its API definition.
type route struct {
	target       *url.URL // nil: the API has no target_url; --upstream serves it
	listenPath   string
	strip        bool // proxy.strip_listen_path
	preserveHost bool // proxy.preserve_host_header
}

// routes maps api_id to route. The API definitions come from the plugin configuration's static
// "apis" and from the sidecar's sync snapshot, which wins for the same api_id (as in the filter).
type routes struct {
	static map[string]route
	cur    atomic.Pointer[map[string]route] // static merged with the last snapshot

	// Sidecar polling; client is nil when the plugin configuration names no sidecar the
	// gateway can reach (no --cluster for it, or not a turnpike configuration).
	client    *http.Client
	syncURL   string // cluster URL + sync path, without the query
	token     string
	authority string
	version   string // of the snapshot in cur; only the poller touches it
	log       *slog.Logger

	refreshMu   sync.Mutex // one poll at a time
	lastRefresh time.Time  // of the last fresh poll a request asked for
	lastErr     time.Time  // throttles the poll failure log
}

// newRoutes reads the static APIs and the sidecar settings from the plugin configuration. A
// configuration that is not the turnpike filter's (another filter's bytes) yields an empty table:
// every request then goes to --upstream.
func newRoutes(pluginConfig []byte, clusters map[string]string, log *slog.Logger) (*routes, error) {
	r := &routes{static: map[string]route{}, log: log}
	empty := map[string]route{}
	r.cur.Store(&empty)
	cfg, err := config.Parse(pluginConfig)
	if err != nil {
		log.Debug("plugin configuration is not turnpike's: routing every request to --upstream", "reason", err)
		return r, nil
	}
	var p fastjson.Parser
	root, err := p.ParseBytes(pluginConfig)
	if err != nil { // config.Parse accepted it, so this cannot happen
		return nil, err
	}
	for i, v := range root.GetArray("apis") {
		api, rt, err := decodeRoute(v)
		if err != nil {
			return nil, fmt.Errorf("plugin configuration apis[%d]: %w", i, err)
		}
		r.static[api] = rt
	}
	r.cur.Store(&r.static)
	if base, ok := clusters[cfg.Cluster]; ok {
		r.client = &http.Client{Timeout: time.Duration(cfg.SyncTimeoutMS) * time.Millisecond}
		r.syncURL = strings.TrimRight(base, "/")
		r.token = cfg.Token
		r.authority = cfg.Authority
	}
	return r, nil
}

// decodeRoute decodes one API definition document. model.APIDefinition has no
// preserve_host_header, so it is read from the document itself.
func decodeRoute(v *fastjson.Value) (string, route, error) {
	api, err := model.APIDefinitionFromValue(v)
	if err != nil {
		return "", route{}, err
	}
	rt := route{listenPath: api.Proxy.ListenPath, strip: api.Proxy.StripListenPath,
		preserveHost: v.GetBool("proxy", "preserve_host_header")}
	if api.Proxy.TargetURL != "" {
		u, err := url.Parse(api.Proxy.TargetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The filter still decides this API; its requests go to --upstream, and the
			// operator learns why from the log.
			return api.APIID, route{listenPath: rt.listenPath, strip: rt.strip}, nil
		}
		rt.target = u
	}
	return api.APIID, rt, nil
}

// lookup returns the route of apiID. An api_id the table does not know (the filter synced a new
// API before the gateway did) triggers one fresh poll, at most every 100 ms.
func (r *routes) lookup(ctx context.Context, apiID string) (route, bool) {
	if rt, ok := (*r.cur.Load())[apiID]; ok || r.client == nil {
		return rt, ok
	}
	r.refreshMu.Lock()
	if time.Since(r.lastRefresh) >= 100*time.Millisecond {
		r.lastRefresh = time.Now()
		r.pollLocked(ctx, true)
	}
	r.refreshMu.Unlock()
	rt, ok := (*r.cur.Load())[apiID]
	return rt, ok
}

// run polls the sidecar every interval until ctx ends: an API's new target_url is in force
// within about one interval plus one poll.
func (r *routes) run(ctx context.Context, interval time.Duration) {
	if r.client == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.refreshMu.Lock()
		r.pollLocked(ctx, false)
		r.refreshMu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollLocked fetches the sync answer for the version held (the answer carries a snapshot only
// when it changed) and installs its routes. A failed poll keeps the routes held.
func (r *routes) pollLocked(ctx context.Context, fresh bool) {
	err := r.fetch(ctx, fresh)
	if err == nil || ctx.Err() != nil {
		return
	}
	if time.Since(r.lastErr) >= 10*time.Second {
		r.lastErr = time.Now()
		r.log.Warn("route sync: keeping the routes held", "error", err)
	}
}

func (r *routes) fetch(ctx context.Context, fresh bool) error {
	// An empty cursor: the answer carries no key hashes, only the snapshot (sidecar/README.md).
	path := wire.SyncQuery{Version: r.version, Fresh: fresh}.AppendPath(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.syncURL+string(path), nil)
	if err != nil {
		return err
	}
	req.Header.Set(wire.HeaderToken, r.token)
	if r.authority != "" {
		req.Host = r.authority
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sidecar answered %d: %.200s", resp.StatusCode, body)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return err
	}
	snap := v.Get("snapshot")
	if snap == nil || snap.Type() == fastjson.TypeNull {
		return nil // current
	}
	if snap.Type() != fastjson.TypeObject {
		return errors.New("snapshot is not an object")
	}
	next := make(map[string]route, len(r.static))
	for id, rt := range r.static {
		next[id] = rt
	}
	for i, av := range snap.GetArray("apis") {
		id, rt, err := decodeRoute(av)
		if err != nil {
			return fmt.Errorf("snapshot apis[%d]: %w", i, err)
		}
		next[id] = rt
	}
	r.cur.Store(&next)
	r.version = string(v.GetStringBytes("version"))
	return nil
}

// upstreamURL is the URL an API's request goes to, as Tyk builds it: the listen path removed
// when strip_listen_path is set (the rest always starts with "/"), then joined to the target's
// path with exactly one slash between them (Tyk's default disable_strip_slash: false, so an empty
// rest leaves the target path without its trailing slash), and the target's query before the
// request's. path is the escaped :path with its query; it is forwarded byte for byte.
func (rt route) upstreamURL(path string) *url.URL {
	p, query, _ := strings.Cut(path, "?")
	if rt.strip {
		// The filter matches the listen path without its trailing slash, as a whole segment
		// (filter/internal/route); the same prefix is removed here.
		if prefix := strings.TrimRight(rt.listenPath, "/"); strings.HasPrefix(p, prefix) {
			p = p[len(prefix):]
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
	}
	u := *rt.target
	joined := strings.TrimRight(rt.target.EscapedPath(), "/")
	if rest := strings.TrimLeft(p, "/"); rest != "" {
		joined += "/" + rest
	}
	u.RawPath = joined
	if dec, err := url.PathUnescape(joined); err == nil {
		u.Path = dec
	} else {
		u.Path, u.RawPath = joined, ""
	}
	switch {
	case u.RawQuery == "":
		u.RawQuery = query
	case query != "":
		u.RawQuery += "&" + query
	}
	return &u
}
