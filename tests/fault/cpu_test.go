package fault

import "runtime"

// numCPU is what the sidecar processes see (GOMAXPROCS defaults to it).
func numCPU() int { return runtime.NumCPU() }
