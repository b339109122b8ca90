package envoy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/turnpike-dev/turnpike/filter/config"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	// Every typed_config in envoy.yaml names its message by type URL; protojson
	// resolves it from the global registry, which these imports fill.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

const (
	wasmFilterType = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
	routerType     = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
)

// TestEnvoyYAMLValidates checks envoy.yaml the way Envoy loads it: it must
// decode into the Bootstrap message without unknown fields and pass Envoy's
// validation rules (protoc-gen-validate), including every typed_config nested
// in it, which Bootstrap's own validation does not open.
func TestEnvoyYAMLValidates(t *testing.T) {
	b := loadBootstrap(t)
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	seen := map[string]bool{}
	if err := validateEmbedded(b.ProtoReflect(), "bootstrap", seen); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	for _, typ := range []string{wasmFilterType, routerType} {
		if !seen[typ] {
			t.Errorf("envoy.yaml: no typed_config of type %s", typ)
		}
	}
}

// TestEnvoyYAMLClustersExist checks that every cluster envoy.yaml refers to
// is defined: Envoy rejects a route to an unknown cluster only when it gets
// the route, and proxy_http_call to an unknown cluster fails at request time
// with BAD_ARGUMENT, i.e. every request would meet the filter's failure mode.
func TestEnvoyYAMLClustersExist(t *testing.T) {
	b := loadBootstrap(t)
	clusters := clustersByName(t, b)

	var referenced []string
	for _, hcm := range httpConnectionManagers(t, b) {
		for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				action := r.GetRoute()
				if action == nil {
					continue // redirect or direct response
				}
				if c := action.GetCluster(); c != "" {
					referenced = append(referenced, c)
				}
				for _, wc := range action.GetWeightedClusters().GetClusters() {
					referenced = append(referenced, wc.GetName())
				}
			}
		}
	}
	if len(referenced) == 0 {
		t.Fatal("envoy.yaml: no route sends traffic to a cluster")
	}
	settings := decodePluginSettings(t, pluginConfigFromEnvoyYAML(t))
	referenced = append(referenced, settings.Cluster)

	for _, name := range referenced {
		if clusters[name] == nil {
			t.Errorf("envoy.yaml names cluster %q, which static_resources.clusters does not define", name)
		}
	}
	// A load_assignment for another cluster name is silently ignored by
	// Envoy's static config; it is always a copy-and-paste mistake.
	for name, c := range clusters {
		if la := c.GetLoadAssignment(); la != nil && la.GetClusterName() != name {
			t.Errorf("cluster %q: load_assignment.cluster_name is %q", name, la.GetClusterName())
		}
	}
}

// TestEnvoyYAMLNormalizesPaths checks that Envoy normalizes the path before the filter runs, so the
// filter authorizes the path the upstream serves: /demo/../api3/x must reach the filter (and the
// upstream) as /api3/x, and an escaped slash, whose meaning differs between upstreams, is refused.
func TestEnvoyYAMLNormalizesPaths(t *testing.T) {
	for _, hcm := range httpConnectionManagers(t, loadBootstrap(t)) {
		if !hcm.GetNormalizePath().GetValue() {
			t.Errorf("listener %s: want normalize_path: true", hcm.GetStatPrefix())
		}
		if !hcm.GetMergeSlashes() {
			t.Errorf("listener %s: want merge_slashes: true", hcm.GetStatPrefix())
		}
		if a := hcm.GetPathWithEscapedSlashesAction(); a != hcmv3.HttpConnectionManager_REJECT_REQUEST {
			t.Errorf("listener %s: path_with_escaped_slashes_action is %v, want REJECT_REQUEST", hcm.GetStatPrefix(), a)
		}
	}
}

// TestEnvoyYAMLWasmFilter checks the parts of the wasm filter's setup that a
// valid-but-wrong configuration would get wrong.
func TestEnvoyYAMLWasmFilter(t *testing.T) {
	b := loadBootstrap(t)
	for _, hcm := range httpConnectionManagers(t, b) {
		filters := hcm.GetHttpFilters()
		if n := len(filters); n == 0 || filters[n-1].GetTypedConfig().GetTypeUrl() != routerType {
			t.Errorf("listener %s: the router must be the last HTTP filter", hcm.GetStatPrefix())
		}
	}

	wasm := turnpikeWasmFilter(t, b).GetConfig()
	vm := wasm.GetVmConfig()
	checks := []struct {
		what string
		ok   bool
	}{
		// The filter decides access: when its VM fails, requests must not pass.
		{"failure_policy is not FAIL_OPEN", wasm.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_OPEN && !wasm.GetFailOpen()},
		{"runtime is V8 (envoy.wasm.runtime.v8)", vm.GetRuntime() == "envoy.wasm.runtime.v8"},
		{"code is a local file", vm.GetCode().GetLocal().GetFilename() != ""},
		// The rate limiter's buckets live in shared data, which is per vm_id:
		// an empty vm_id still works but is shared with every other plugin.
		{"vm_id is set", vm.GetVmId() != ""},
		{"root_id is set", wasm.GetRootId() != ""},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("envoy.yaml wasm filter: want %s", c.what)
		}
	}
	decodePluginSettings(t, pluginConfigFromEnvoyYAML(t))
}

// pluginConfigFromEnvoyYAML returns the plugin configuration of the Turnpike
// wasm filter in envoy.yaml: exactly the bytes the filter receives in
// proxy_on_configure (Envoy passes a StringValue's value unwrapped). It is the
// input for the filter's configuration parser (filter/config.Parse).
func pluginConfigFromEnvoyYAML(t *testing.T) []byte {
	t.Helper()
	cfg := turnpikeWasmFilter(t, loadBootstrap(t)).GetConfig().GetConfiguration()
	if cfg == nil {
		t.Fatal("envoy.yaml: the wasm filter has no configuration")
	}
	var s wrapperspb.StringValue
	if err := cfg.UnmarshalTo(&s); err != nil {
		t.Fatalf("envoy.yaml: wasm configuration must be a google.protobuf.StringValue holding JSON: %v", err)
	}
	return []byte(s.GetValue())
}

// decodePluginSettings parses a plugin configuration with the filter's own
// parser, exactly as proxy_on_configure does, so a deployment file the filter
// would refuse fails here. The deployment files must also name the cluster
// and token explicitly: the filter's defaults are for local runs.
func decodePluginSettings(t *testing.T, raw []byte) config.Config {
	t.Helper()
	c, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("the filter refuses this plugin configuration: %v\n%s", err, raw)
	}
	if !bytes.Contains(raw, []byte(`"cluster"`)) || c.Token == "" {
		t.Fatalf("plugin configuration must set sidecar.cluster and sidecar.token:\n%s", raw)
	}
	return c
}

// loadBootstrap decodes envoy.yaml into Envoy's Bootstrap message. protojson
// rejects unknown fields and unknown typed_config types, as Envoy does.
func loadBootstrap(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	docs := readYAML(t, "envoy.yaml")
	if len(docs) != 1 {
		t.Fatalf("envoy.yaml: want one YAML document, got %d", len(docs))
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(yamlToJSON(t, "envoy.yaml", docs[0]), &b); err != nil {
		t.Fatalf("envoy.yaml is not a valid Envoy bootstrap: %v", err)
	}
	return &b
}

// validateEmbedded walks m and, for every google.protobuf.Any in it, unpacks
// the message, runs its validation rules and walks it in turn. seen collects
// the type URLs met.
func validateEmbedded(m protoreflect.Message, path string, seen map[string]bool) error {
	var err error
	visit := func(v protoreflect.Message, p string) {
		if err == nil {
			err = validateMessage(v, p, seen)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i, l := 0, v.List(); i < l.Len(); i++ {
				visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visit(mv.Message(), fmt.Sprintf("%s[%v]", p, k.Interface()))
				return err == nil
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			visit(v.Message(), p)
		}
		return err == nil
	})
	return err
}

func validateMessage(m protoreflect.Message, path string, seen map[string]bool) error {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return validateEmbedded(m, path, seen)
	}
	seen[a.GetTypeUrl()] = true
	inner, err := a.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := inner.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s (%s): %w", path, a.GetTypeUrl(), err)
		}
	}
	return validateEmbedded(inner.ProtoReflect(), path, seen)
}

func clustersByName(t *testing.T, b *bootstrapv3.Bootstrap) map[string]*clusterv3.Cluster {
	t.Helper()
	m := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		if m[c.GetName()] != nil {
			t.Fatalf("envoy.yaml: cluster %q defined twice", c.GetName())
		}
		m[c.GetName()] = c
	}
	return m
}

// httpConnectionManagers returns the HTTP connection managers of every
// listener's filter chains.
func httpConnectionManagers(t *testing.T, b *bootstrapv3.Bootstrap) []*hcmv3.HttpConnectionManager {
	t.Helper()
	var out []*hcmv3.HttpConnectionManager
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().MessageIs(&hcm) {
					if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
						t.Fatalf("listener %s: %v", l.GetName(), err)
					}
					out = append(out, &hcm)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("envoy.yaml: no listener has an HTTP connection manager")
	}
	return out
}

// turnpikeWasmFilter returns the one wasm HTTP filter in envoy.yaml.
func turnpikeWasmFilter(t *testing.T, b *bootstrapv3.Bootstrap) *wasmfilterv3.Wasm {
	t.Helper()
	var found []*wasmfilterv3.Wasm
	for _, hcm := range httpConnectionManagers(t, b) {
		for _, f := range hcm.GetHttpFilters() {
			w := new(wasmfilterv3.Wasm)
			if !f.GetTypedConfig().MessageIs(w) {
				continue
			}
			if err := f.GetTypedConfig().UnmarshalTo(w); err != nil {
				t.Fatalf("http filter %s: %v", f.GetName(), err)
			}
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("envoy.yaml: want exactly one wasm HTTP filter, found %d", len(found))
	}
	return found[0]
}

// readYAML returns the documents of a (possibly multi-document) YAML file.
func readYAML(t *testing.T, path string) []*yaml.Node {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, &n)
	}
}

// yamlToJSON converts a YAML document to JSON (for protojson and for the
// filter, which only reads JSON).
func yamlToJSON(t *testing.T, path string, n *yaml.Node) []byte {
	t.Helper()
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: cannot be expressed as JSON: %v", path, err)
	}
	return js
}

// decodeYAML decodes one YAML document into v, naming the file on error.
func decodeYAML(t *testing.T, path string, n *yaml.Node, v any) {
	t.Helper()
	if err := n.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// hostPort splits a --listen address ("host:port", host may be empty).
func hostPort(t *testing.T, what, s string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		t.Fatalf("%s: %q has no port", what, s)
	}
	return s[:i], s[i+1:]
}

// TestEnvoyYAMLRoutesPerAPI checks the routing per API: routes chosen by the x-turnpike-api-id
// header the filter sets, for at least two APIs with different clusters, each also bound to its
// API's listen path (so a client's own copy of the header cannot pick another API's upstream), a
// catch-all route after them, and the header removed before any upstream.
func TestEnvoyYAMLRoutesPerAPI(t *testing.T) {
	const header = "x-turnpike-api-id"
	for _, hcm := range httpConnectionManagers(t, loadBootstrap(t)) {
		rc := hcm.GetRouteConfig()
		removed := false
		for _, h := range rc.GetRequestHeadersToRemove() {
			removed = removed || strings.EqualFold(h, header)
		}
		if !removed {
			t.Errorf("listener %s: route_config.request_headers_to_remove lacks %s", hcm.GetStatPrefix(), header)
		}
		for _, vh := range rc.GetVirtualHosts() {
			apiClusters := map[string]string{} // api_id -> cluster
			routes := vh.GetRoutes()
			for i, r := range routes {
				var apiID string
				for _, hm := range r.GetMatch().GetHeaders() {
					if hm.GetName() == header {
						apiID = hm.GetStringMatch().GetExact()
					}
				}
				if apiID == "" {
					if i != len(routes)-1 {
						t.Errorf("virtual host %s: route %d does not match %s but is not the last (catch-all) route", vh.GetName(), i, header)
					}
					continue
				}
				if p := r.GetMatch().GetPrefix(); p == "" || p == "/" {
					t.Errorf("virtual host %s: the route of API %q matches path prefix %q, want the API's listen path", vh.GetName(), apiID, p)
				}
				apiClusters[apiID] = r.GetRoute().GetCluster()
			}
			distinct := map[string]bool{}
			for _, c := range apiClusters {
				distinct[c] = true
			}
			if len(apiClusters) < 2 || len(distinct) < 2 {
				t.Errorf("virtual host %s: want routes for two APIs with different clusters, got %v", vh.GetName(), apiClusters)
			}
			if last := routes[len(routes)-1]; last.GetMatch().GetPrefix() != "/" || len(last.GetMatch().GetHeaders()) != 0 {
				t.Errorf("virtual host %s: the last route must be the catch-all prefix \"/\"", vh.GetName())
			}
		}
	}
}
