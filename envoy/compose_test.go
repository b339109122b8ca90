package envoy_test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

// composeService holds the docker-compose.yaml fields the checks read; the
// rest of the file (ports, depends_on, healthcheck) is not decoded.
type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

// flag returns the value of --name=value in args.
func (s composeService) flag(name string) (string, bool) {
	for _, a := range s.Command {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// mountSource returns the host side of the volume mounted at target.
func (s composeService) mountSource(target string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0], true
		}
	}
	return "", false
}

// TestComposeMatchesEnvoyYAML checks that docker-compose.yaml runs what
// envoy.yaml expects: every DNS name envoy.yaml resolves is a compose service,
// the sidecar listens where the cluster points and shares the filter token,
// and Envoy finds its configuration and filter.wasm where envoy.yaml says.
func TestComposeMatchesEnvoyYAML(t *testing.T) {
	docs := readYAML(t, "docker-compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yaml: want one YAML document, got %d", len(docs))
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	decodeYAML(t, "docker-compose.yaml", docs[0], &compose)
	services := compose.Services

	b := loadBootstrap(t)
	clusters := clustersByName(t, b)
	settings := decodePluginSettings(t, pluginConfigFromEnvoyYAML(t))
	sidecarCluster := clusters[settings.Cluster]
	if sidecarCluster == nil {
		t.Fatalf("envoy.yaml: no cluster %q (see TestEnvoyYAMLClustersExist)", settings.Cluster)
	}
	sidecarHost, sidecarPort := firstEndpoint(t, sidecarCluster)
	sidecar, ok := services[sidecarHost]
	if !ok {
		t.Fatalf("cluster %s points at %q, which is not a compose service", sidecarCluster.GetName(), sidecarHost)
	}
	envoy, ok := services["envoy"]
	if !ok {
		t.Fatal("docker-compose.yaml: no envoy service")
	}

	checks := []struct {
		what string
		ok   func() bool
	}{
		{"every DNS cluster endpoint is a compose service", func() bool {
			for _, c := range clusters {
				if c.GetType() != clusterv3.Cluster_STRICT_DNS && c.GetType() != clusterv3.Cluster_LOGICAL_DNS {
					continue
				}
				if host, _ := firstEndpoint(t, c); services[host].Image == "" && services[host].Build == nil {
					t.Logf("cluster %s: host %q", c.GetName(), host)
					return false
				}
			}
			return true
		}},
		{"the sidecar's --listen port is the sidecar cluster's port", func() bool {
			listen, _ := sidecar.flag("listen")
			_, port := hostPort(t, "--listen", listen)
			return port == sidecarPort
		}},
		{"TURNPIKE_FILTER_TOKEN equals the plugin's sidecar.token", func() bool {
			return sidecar.Environment["TURNPIKE_FILTER_TOKEN"] == settings.Token
		}},
		{"the sidecar's --redis URL names a compose service", func() bool {
			raw, _ := sidecar.flag("redis")
			u, err := url.Parse(raw)
			_, isService := services[u.Hostname()]
			return err == nil && u.Scheme == "redis" && isService
		}},
		{"the sidecar is built with a Dockerfile of build/", func() bool {
			if sidecar.Build == nil {
				return false
			}
			_, err := os.Stat(filepath.Join(sidecar.Build.Context, sidecar.Build.Dockerfile))
			return err == nil && filepath.Dir(sidecar.Build.Dockerfile) == "build"
		}},
		{"envoy mounts envoy.yaml where its -c flag points", func() bool {
			i := slices.Index(envoy.Command, "-c")
			if i < 0 || i+1 >= len(envoy.Command) {
				return false
			}
			src, ok := envoy.mountSource(envoy.Command[i+1])
			return ok && filepath.Clean(src) == "envoy.yaml"
		}},
		{"envoy mounts build/out/filter.wasm at vm_config.code.local.filename", func() bool {
			target := turnpikeWasmFilter(t, b).GetConfig().GetVmConfig().GetCode().GetLocal().GetFilename()
			src, ok := envoy.mountSource(target)
			return ok && filepath.ToSlash(filepath.Clean(src)) == "../build/out/filter.wasm"
		}},
	}
	for _, c := range checks {
		if !c.ok() {
			t.Errorf("docker-compose.yaml: want %s", c.what)
		}
	}
}

// firstEndpoint returns the host and port of a cluster's first endpoint.
func firstEndpoint(t *testing.T, c *clusterv3.Cluster) (string, string) {
	t.Helper()
	for _, e := range c.GetLoadAssignment().GetEndpoints() {
		for _, lb := range e.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			return sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)
		}
	}
	t.Fatalf("cluster %s has no endpoint", c.GetName())
	return "", ""
}
