// Package envoy holds Turnpike's deployment files, not Go code: envoy.yaml (an
// Envoy bootstrap running filter.wasm), docker-compose.yaml, the sidecar's
// Kubernetes manifests (kubernetes/) and an Istio WasmPlugin (istio/).
//
// Its tests parse every file the way its consumer would (Envoy's own
// Bootstrap protobuf and validation rules for envoy.yaml) and check that the
// files agree with each other: clusters named by the filter exist, tokens
// match, probes and selectors point at the right ports and labels. See
// README.md for how to run the stack and the minimum Envoy version.
package envoy
