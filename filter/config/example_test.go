package config_test

import (
	"fmt"

	"github.com/turnpike-dev/turnpike/filter/config"
)

func ExampleParse() {
	c, err := config.Parse([]byte(`{"sidecar": {"token": "s3cret"}, "sync_interval_ms": 100}`))
	fmt.Println(c.Cluster, c.SyncIntervalMS, c.NegativeTTLMS, err)

	_, err = config.Parse([]byte(`{"sidecar": {"token": "s3cret"}, "failure_mode": {"quota": "sometimes"}}`))
	fmt.Println(err)
	// Output:
	// turnpike-sidecar 100 2000 <nil>
	// config: failure_mode.quota: must be "closed" or "open"
}
