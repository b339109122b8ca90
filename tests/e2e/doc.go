// Package e2e is Turnpike's end-to-end suite: its tests start real
// processes — redis-server, two turnpike-sidecar replicas, turnpike-gateway
// with 4 VMs running the built filter.wasm, and a test upstream — and drive
// them only over HTTP, the way a user does: the Gateway API of one replica
// for writes, the gateway for traffic.
//
// The binaries and filter.wasm are built once per test binary (TestMain),
// so the suite does not depend on `make build`. Sync and poll intervals are
// short (50 ms) so "within 1 s" is asserted with a wide margin.
package e2e
