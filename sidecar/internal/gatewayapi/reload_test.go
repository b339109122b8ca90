package gatewayapi

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestReloadParams(t *testing.T) {
	tests := []struct {
		query   string
		block   bool
		timeout time.Duration
		err     bool
	}{
		{"", false, defaultReloadWait, false},
		{"block=true", true, defaultReloadWait, false},
		{"block=1", true, defaultReloadWait, false},
		{"block=false", false, defaultReloadWait, false},
		{"block=yes", false, defaultReloadWait, false}, // like Tyk: only a true value blocks
		{"block=true&timeout=2", true, 2 * time.Second, false},
		{"block=true&timeout=0.5", true, 500 * time.Millisecond, false},
		{"block=true&timeout=750ms", true, 750 * time.Millisecond, false},
		{"block=true&timeout=0", true, 0, false},
		{"block=true&timeout=1h", true, maxReloadWait, false},
		{"block=true&timeout=1e9", true, maxReloadWait, false},
		{"block=true&timeout=Inf", true, maxReloadWait, false},
		{"block=true&timeout=-1", false, 0, true},
		{"block=true&timeout=-Inf", false, 0, true},
		{"block=true&timeout=-2s", false, 0, true},
		{"block=true&timeout=NaN", false, 0, true},
		{"block=true&timeout=soon", false, 0, true},
	}
	for _, tt := range tests {
		block, timeout, err := reloadParams(httptest.NewRequest("GET", "/tyk/reload?"+tt.query, nil))
		if (err != nil) != tt.err || block != tt.block || timeout != tt.timeout {
			t.Errorf("%q: block %v timeout %v err %v; want %v %v error %v", tt.query, block, timeout, err, tt.block, tt.timeout, tt.err)
		}
	}
}
