package envoy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	sidecarManifests = "kubernetes/turnpike-sidecar.yaml"
	wasmPluginFile   = "istio/wasmplugin.yaml"
)

// The Kubernetes types below hold only the fields the checks read.

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type k8sObject struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

type secretSpec struct {
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a container port name
	} `yaml:"httpGet"`
}

// port resolves a port that is a number or the name of one of c's ports.
func (c container) port(p string) (int, bool) {
	for _, cp := range c.Ports {
		if cp.Name != "" && cp.Name == p || strconv.Itoa(cp.ContainerPort) == p {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

type deploymentSpec struct {
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type serviceSpec struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type wasmPluginSpec struct {
	Spec struct {
		Selector *struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		URL          string    `yaml:"url"`
		Phase        string    `yaml:"phase"`
		FailStrategy string    `yaml:"failStrategy"`
		PluginConfig yaml.Node `yaml:"pluginConfig"` // not *yaml.Node: yaml.v3 keeps the raw node only for a value
	} `yaml:"spec"`
}

// sidecarObjects is the decoded kubernetes/turnpike-sidecar.yaml.
type sidecarObjects struct {
	secret      secretSpec
	secretMeta  objectMeta
	deployment  deploymentSpec
	service     serviceSpec
	serviceMeta objectMeta
	namespaces  map[string]bool
}

// loadSidecarManifests decodes the manifests, requiring exactly one Secret,
// Deployment and Service with their Kubernetes apiVersions.
func loadSidecarManifests(t *testing.T) sidecarObjects {
	t.Helper()
	want := map[string]string{"Secret": "v1", "Deployment": "apps/v1", "Service": "v1"}
	var objs sidecarObjects
	objs.namespaces = map[string]bool{}
	seen := map[string]bool{}
	for i, doc := range readYAML(t, sidecarManifests) {
		var o k8sObject
		decodeYAML(t, sidecarManifests, doc, &o)
		where := fmt.Sprintf("%s document %d (%s %s)", sidecarManifests, i+1, o.Kind, o.Metadata.Name)
		if api, ok := want[o.Kind]; !ok || api != o.APIVersion {
			t.Fatalf("%s: unexpected kind/apiVersion %s %s", where, o.Kind, o.APIVersion)
		}
		if seen[o.Kind] {
			t.Fatalf("%s: a second %s", where, o.Kind)
		}
		if o.Metadata.Name == "" {
			t.Fatalf("%s: metadata.name is empty", where)
		}
		seen[o.Kind] = true
		objs.namespaces[o.Metadata.Namespace] = true
		switch o.Kind {
		case "Secret":
			decodeYAML(t, where, doc, &objs.secret)
			objs.secretMeta = o.Metadata
		case "Deployment":
			decodeYAML(t, where, doc, &objs.deployment)
		case "Service":
			decodeYAML(t, where, doc, &objs.service)
			objs.serviceMeta = o.Metadata
		}
	}
	for kind := range want {
		if !seen[kind] {
			t.Fatalf("%s: no %s", sidecarManifests, kind)
		}
	}
	return objs
}

// TestSidecarManifests checks that the Deployment, Service and Secret fit
// together: kubectl accepts a manifest whose selector selects nothing or whose
// probe targets the wrong port, and the mistake shows only as a sidecar that
// never becomes ready or never receives traffic.
func TestSidecarManifests(t *testing.T) {
	objs := loadSidecarManifests(t)
	dep := objs.deployment.Spec
	if len(dep.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: want one container in the Deployment, got %d", sidecarManifests, len(dep.Template.Spec.Containers))
	}
	c := dep.Template.Spec.Containers[0]
	podLabels := dep.Template.Metadata.Labels
	listenPort := func() string {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--listen="); ok {
				_, p := hostPort(t, "--listen", v)
				return p
			}
		}
		return ""
	}()
	envFromSecret := map[string]bool{}

	checks := []struct {
		what string
		ok   func() bool
	}{
		{"all objects in one namespace", func() bool { return len(objs.namespaces) == 1 && !objs.namespaces[""] }},
		{"the Deployment's selector matches its pod labels", func() bool {
			return len(dep.Selector.MatchLabels) > 0 && subset(dep.Selector.MatchLabels, podLabels)
		}},
		{"the Service selects the Deployment's pods", func() bool {
			return len(objs.service.Spec.Selector) > 0 && subset(objs.service.Spec.Selector, podLabels)
		}},
		{"a container image is set", func() bool { return c.Image != "" }},
		{"--listen names a container port", func() bool { _, ok := c.port(listenPort); return ok }},
		{"every Service targetPort is a container port", func() bool {
			for _, p := range objs.service.Spec.Ports {
				if n, ok := c.port(p.TargetPort); !ok || strconv.Itoa(n) != listenPort {
					return false
				}
			}
			return len(objs.service.Spec.Ports) > 0
		}},
		{"the readiness probe is GET /ready on the listen port", func() bool {
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil {
				return false
			}
			n, ok := c.port(c.ReadinessProbe.HTTPGet.Port)
			return ok && strconv.Itoa(n) == listenPort && c.ReadinessProbe.HTTPGet.Path == "/ready"
		}},
		// /hello does not depend on Redis; a liveness probe that did would
		// restart every replica during a Redis outage.
		{"the liveness probe, if any, is GET /hello", func() bool {
			return c.LivenessProbe == nil || c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/hello"
		}},
		{"every secretKeyRef names the Secret and one of its keys", func() bool {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Name != objs.secretMeta.Name || !objs.secret.hasKey(ref.Key) {
					t.Logf("env %s: secret %q key %q", e.Name, ref.Name, ref.Key)
					return false
				}
				envFromSecret[e.Name] = true
			}
			return true
		}},
		// The sidecar refuses to start without the two secrets, and they do
		// not belong in the Deployment in clear. Without TURNPIKE_REDIS each
		// replica would run its own embedded, non-durable Redis.
		{"TURNPIKE_SECRET, TURNPIKE_FILTER_TOKEN and TURNPIKE_REDIS come from the Secret", func() bool {
			return envFromSecret["TURNPIKE_SECRET"] && envFromSecret["TURNPIKE_FILTER_TOKEN"] && envFromSecret["TURNPIKE_REDIS"]
		}},
	}
	for _, ch := range checks {
		if !ch.ok() {
			t.Errorf("%s: want %s", sidecarManifests, ch.what)
		}
	}
}

// TestIstioWasmPlugin checks the WasmPlugin: an OCI image, a fail-closed
// strategy, and a plugin configuration that reaches the sidecar's Service
// through the cluster Istio creates for it, with the Secret's filter token.
func TestIstioWasmPlugin(t *testing.T) {
	docs := readYAML(t, wasmPluginFile)
	if len(docs) != 1 {
		t.Fatalf("%s: want one document, got %d", wasmPluginFile, len(docs))
	}
	var o k8sObject
	decodeYAML(t, wasmPluginFile, docs[0], &o)
	var wp wasmPluginSpec
	decodeYAML(t, wasmPluginFile, docs[0], &wp)
	settings := decodePluginSettings(t, pluginConfigFromWasmPlugin(t))

	objs := loadSidecarManifests(t)
	svc := objs.serviceMeta
	if len(objs.service.Spec.Ports) == 0 {
		t.Fatalf("%s: the Service has no port", sidecarManifests)
	}
	host := svc.Name + "." + svc.Namespace + ".svc.cluster.local"
	// Istio's name for the outbound cluster of a Service port.
	wantCluster := fmt.Sprintf("outbound|%d||%s", objs.service.Spec.Ports[0].Port, host)

	checks := []struct {
		what string
		ok   bool
	}{
		{"apiVersion extensions.istio.io/v1alpha1, kind WasmPlugin", o.APIVersion == "extensions.istio.io/v1alpha1" && o.Kind == "WasmPlugin"},
		{"metadata.name and metadata.namespace", o.Metadata.Name != "" && o.Metadata.Namespace != ""},
		{"spec.url is an OCI image (oci://)", strings.HasPrefix(wp.Spec.URL, "oci://") && len(wp.Spec.URL) > len("oci://")},
		{"a workload selector (not every proxy in the namespace)", wp.Spec.Selector != nil && len(wp.Spec.Selector.MatchLabels) > 0},
		{"phase AUTHN (before Istio's authorization)", wp.Spec.Phase == "AUTHN"},
		{"failStrategy is not FAIL_OPEN", wp.Spec.FailStrategy != "FAIL_OPEN"},
		{"sidecar.cluster is " + wantCluster, settings.Cluster == wantCluster},
		{"sidecar.authority is " + host, settings.Authority == host},
		{"sidecar.token equals the Secret's filter-token", settings.Token == objs.secret.StringData["filter-token"]},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: want %s", wasmPluginFile, c.what)
		}
	}
}

// pluginConfigFromWasmPlugin returns the WasmPlugin's pluginConfig as the
// JSON Istio hands to the filter: the input for the filter's configuration
// parser (filter/config.Parse), like pluginConfigFromEnvoyYAML.
func pluginConfigFromWasmPlugin(t *testing.T) []byte {
	t.Helper()
	docs := readYAML(t, wasmPluginFile)
	if len(docs) != 1 {
		t.Fatalf("%s: want one document, got %d", wasmPluginFile, len(docs))
	}
	var wp wasmPluginSpec
	decodeYAML(t, wasmPluginFile, docs[0], &wp)
	if wp.Spec.PluginConfig.Kind != yaml.MappingNode {
		t.Fatalf("%s: spec.pluginConfig must be a mapping", wasmPluginFile)
	}
	return yamlToJSON(t, wasmPluginFile+" spec.pluginConfig", &wp.Spec.PluginConfig)
}

func (s secretSpec) hasKey(k string) bool {
	_, inString := s.StringData[k]
	_, inData := s.Data[k]
	return inString || inData
}

// subset reports whether every label of sel is in labels with the same value.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
