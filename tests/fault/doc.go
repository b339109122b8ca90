// Package fault is Turnpike's fault suite: real processes (redis-server,
// turnpike-sidecar replicas, turnpike-gateway running filter.wasm) with real
// failures injected while load runs — latency and connection resets from a
// TCP fault proxy between the sidecars and Redis (package faultproxy),
// SIGKILLed sidecars, a SIGKILLed Redis restarted from its append-only file,
// and quota grants that wait for a Redis replica (WAIT).
//
// Every test prints its numbers (requests sent, answers by status, longest
// wait, time to recover); RELIABILITY.md collects them from one run.
//
// The tests take the Redis they run on as a target (a URL for the sidecars
// and how to kill and restart its master), so a Redis Cluster or Sentinel
// variant is a new target, not a new suite. See README.md.
package fault
