package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileConfig is the gateway configuration file (--config, YAML or JSON): the HTTP filter chain,
// as Envoy's http_filters list it, and routes that carry per-route metadata.
//
//	filters:                       # in order; responses pass them in reverse order, as in Envoy
//	- name: turnpike               # plugin name (property plugin_name)
//	  wasm: build/out/filter.wasm
//	  root_id: turnpike
//	  vm_id: turnpike              # shared data and queue namespace, shared by all filters
//	  configuration: {"sidecar": {"token": "..."}}   # a string is passed as is, else as JSON
//	  vm_configuration: ""
//	  fail_open: false
//	routes:                        # the first route whose prefix matches the path
//	- name: orders                 # property xds.route_name
//	  prefix: /orders/
//	  metadata:                    # xds.route_metadata.filter_metadata.<namespace>.<key>
//	    turnpike: {tier: gold}
type fileConfig struct {
	Filters []filterSpec `yaml:"filters"`
	Routes  []routeSpec  `yaml:"routes"`
}

type filterSpec struct {
	Name            string `yaml:"name"`
	Wasm            string `yaml:"wasm"`
	RootID          string `yaml:"root_id"`
	VMID            string `yaml:"vm_id"`
	Configuration   any    `yaml:"configuration"`
	VMConfiguration any    `yaml:"vm_configuration"`
	FailOpen        bool   `yaml:"fail_open"`

	pluginConfig, vmConfig []byte
}

type routeSpec struct {
	Name     string                    `yaml:"name"`
	Prefix   string                    `yaml:"prefix"`
	Metadata map[string]map[string]any `yaml:"metadata"`

	props map[string][]byte // the stream properties the route sets
}

// loadConfig reads and checks the configuration file. Unknown fields are errors: a misspelt
// field would otherwise be silently ignored.
func loadConfig(path string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c fileConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(c.Filters) == 0 {
		return nil, fmt.Errorf("--config %s: no filters", path)
	}
	for i := range c.Filters {
		f := &c.Filters[i]
		if f.Wasm == "" {
			return nil, fmt.Errorf("--config %s: filters[%d]: wasm is required", path, i)
		}
		if f.pluginConfig, err = configBytes(f.Configuration); err != nil {
			return nil, fmt.Errorf("--config %s: filters[%d].configuration: %w", path, i, err)
		}
		if f.vmConfig, err = configBytes(f.VMConfiguration); err != nil {
			return nil, fmt.Errorf("--config %s: filters[%d].vm_configuration: %w", path, i, err)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if !strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("--config %s: routes[%d].prefix %q must start with /", path, i, r.Prefix)
		}
		if r.props, err = routeProperties(r); err != nil {
			return nil, fmt.Errorf("--config %s: routes[%d]: %w", path, i, err)
		}
	}
	return &c, nil
}

// configBytes is what the plugin reads as its configuration: a string as is, anything else
// encoded as JSON, nothing for an absent field.
func configBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	}
	return json.Marshal(v)
}

// routeProperties are the properties a filter reads on a stream of the route, with Envoy's
// encodings of protobuf Struct values (xds.route_metadata is the route's Metadata message):
// strings raw, numbers as 8-byte little-endian doubles, booleans as one byte. Lists and nested
// objects are not addressable leaves in this gateway and are refused.
func routeProperties(r *routeSpec) (map[string][]byte, error) {
	props := map[string][]byte{"xds.route_name": []byte(r.Name)}
	namespaces := make([]string, 0, len(r.Metadata))
	for ns := range r.Metadata {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		for k, v := range r.Metadata[ns] {
			var b []byte
			switch v := v.(type) {
			case string:
				b = []byte(v)
			case bool:
				b = []byte{0}
				if v {
					b[0] = 1
				}
			case int:
				b = binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(v)))
			case float64:
				b = binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
			default:
				return nil, errors.New("metadata." + ns + "." + k + ": want a string, number or boolean")
			}
			props["xds.route_metadata.filter_metadata."+ns+"."+k] = b
		}
	}
	return props, nil
}

// route returns the first route whose prefix matches the path (without its query), or nil.
func (c *fileConfig) route(path string) *routeSpec {
	if c == nil {
		return nil
	}
	p, _, _ := strings.Cut(path, "?")
	for i := range c.Routes {
		if strings.HasPrefix(p, c.Routes[i].Prefix) {
			return &c.Routes[i]
		}
	}
	return nil
}
