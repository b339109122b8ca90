package proxywasm

import (
	"errors"
	"testing"
)

func TestStatusError(t *testing.T) {
	tests := []struct {
		code     status
		sentinel error
		text     string
	}{
		{0, nil, ""},
		{1, ErrNotFound, "proxy-wasm: not found"},
		{2, ErrBadArgument, "proxy-wasm: bad argument"},
		{3, ErrSerializationFailure, "proxy-wasm: serialization failure"},
		{4, ErrParseFailure, "proxy-wasm: parse failure"},
		{6, ErrInvalidMemoryAccess, "proxy-wasm: invalid memory access"},
		{7, ErrEmpty, "proxy-wasm: empty"},
		{8, ErrCasMismatch, "proxy-wasm: cas mismatch"},
		{10, ErrInternalFailure, "proxy-wasm: internal failure"},
		{12, ErrUnimplemented, "proxy-wasm: unimplemented"},
		{11, nil, "proxy-wasm: host returned status 11"},
		{4000000000, nil, "proxy-wasm: host returned status 4000000000"},
	}
	for _, tc := range tests {
		err := statusError(tc.code)
		if tc.code == 0 {
			if err != nil {
				t.Errorf("status 0 gave %v", err)
			}
			continue
		}
		if err == nil || err.Error() != tc.text {
			t.Errorf("status %d: error %v, want %q", tc.code, err, tc.text)
			continue
		}
		if tc.sentinel != nil && err != tc.sentinel {
			t.Errorf("status %d: not the shared sentinel", tc.code)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != uint32(tc.code) {
			t.Errorf("status %d: errors.As gave %+v", tc.code, e)
		}
		if tc.code != 1 && errors.Is(err, ErrNotFound) {
			t.Errorf("status %d matches ErrNotFound", tc.code)
		}
	}
	if !errors.Is(&Error{Status: 8}, ErrCasMismatch) {
		t.Error("errors.Is does not match on the status code")
	}
}

func TestLogLevelString(t *testing.T) {
	if LogLevelWarn.String() != "warn" || LogLevel(9).String() != "LogLevel(9)" {
		t.Fatalf("got %q, %q", LogLevelWarn.String(), LogLevel(9).String())
	}
}

// Outside the VM the package still links, and every host call reports
// ErrUnimplemented instead of crashing.
func TestNativeHostCallsAreUnimplemented(t *testing.T) {
	checks := map[string]error{}
	_, checks["GetHttpRequestHeader"] = GetHttpRequestHeader("x")
	_, checks["GetHttpRequestHeaders"] = GetHttpRequestHeaders()
	_, checks["GetPluginConfiguration"] = GetPluginConfiguration()
	_, _, checks["GetSharedData"] = GetSharedData("k")
	_, checks["GetProperty"] = GetProperty([]string{"plugin_name"})
	checks["SendHttpResponse"] = SendHttpResponse(403, [][2]string{{"a", "b"}}, []byte("no"), -1)
	checks["ResumeHttpRequest"] = ResumeHttpRequest()
	for name, err := range checks {
		if !errors.Is(err, ErrUnimplemented) {
			t.Errorf("%s: %v, want ErrUnimplemented", name, err)
		}
	}
	// Argument checks happen before the host is asked.
	if _, err := GetHttpRequestBody(-1, 10); !errors.Is(err, ErrBadArgument) {
		t.Errorf("negative start: %v", err)
	}
}
