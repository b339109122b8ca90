package plugin

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

// The native tests drive a Root over hosttest.Fake: requests are streams
// with headers, sidecar calls wait until the test answers them. The wasm
// suite in filter/ runs the same logic in the real filter.wasm.

const testStart = int64(1_700_000_000) * 1e9

const (
	testAPI = `{"api_id":"api1","name":"API 1","org_id":"org1","active":true,
		"proxy":{"listen_path":"/api1/"},"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	testKeyless   = `{"api_id":"open","org_id":"org1","active":true,"use_keyless":true,"proxy":{"listen_path":"/open/"}}`
	testVersioned = `{"api_id":"v","org_id":"org1","active":true,"proxy":{"listen_path":"/v/"},
		"definition":{"location":"header","key":"x-api-version"},
		"version_data":{"not_versioned":false,"versions":{"v1":{"name":"v1"}}}}`
	testGlobal = `{"api_id":"g","org_id":"org1","active":true,"proxy":{"listen_path":"/g/"},
		"global_rate_limit":{"rate":1,"per":60},"version_data":{"not_versioned":true}}`
	testSnapshot = `{"policies":{"p1":{"id":"p1","org_id":"org1","active":true,"rate":100,"per":1,"quota_max":-1,
		"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}},
		"apis":[` + testAPI + `,` + testKeyless + `,` + testVersioned + `,` + testGlobal + `],
		"orgs":{"dead-org":{"org_id":"dead-org","is_inactive":true},"org1":{"org_id":"org1"}}}`
)

// testSession is a stored session with access to api1 and extra root fields.
func testSession(extra string) string {
	s := `{"org_id":"org1","access_rights":{"api1":{"api_id":"api1","versions":["Default"]},` +
		`"g":{"api_id":"g","versions":["Default"]}}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

type fixture struct {
	t    testing.TB
	f    *hosttest.Fake
	r    *Root
	next uint32
	// streams are the contexts send created (the Root keeps only those
	// that waited).
	streams map[uint32]*httpContext
}

// newFixture starts a plugin with the given extra configuration fields and,
// unless snapshot is empty, answers its first sync with it.
func newFixture(t testing.TB, extraConfig, snapshot string) *fixture {
	t.Helper()
	f := hosttest.New(testStart)
	f.Config = []byte(`{"sidecar":{"cluster":"sidecar","token":"tok"}` + extraConfig + `}`)
	r := NewRoot(f, 1)
	if !r.OnPluginStart(0) {
		t.Fatalf("plugin did not start: %v", f.Logs)
	}
	fx := &fixture{t: t, f: f, r: r, next: 100, streams: map[uint32]*httpContext{}}
	if snapshot != "" {
		fx.sync(`{"version":"v1","cursor":"1-0","keys":[],"snapshot":` + snapshot + `}`)
	}
	return fx
}

// sync answers the pending sync poll.
func (fx *fixture) sync(body string) {
	fx.t.Helper()
	c := fx.f.Pending("/turnpike/v1/sync")
	if c == nil {
		fx.t.Fatal("no sync poll pending")
	}
	fx.f.Answer(c, 200, nil, body)
}

// send runs a request's headers through the pipeline.
func (fx *fixture) send(path, key string, more ...string) (*hosttest.Stream, *httpContext, proxywasm.Action) {
	hdrs := map[string]string{":method": "GET", ":path": path, ":authority": "example.com"}
	if key != "" {
		hdrs["authorization"] = key
	}
	for i := 0; i+1 < len(more); i += 2 {
		hdrs[more[i]] = more[i+1]
	}
	fx.next++
	s := fx.f.Stream(fx.next, hdrs)
	h := fx.r.NewHttpContext(fx.next).(*httpContext)
	fx.streams[fx.next] = h
	return s, h, h.OnHttpRequestHeaders(len(hdrs), true)
}

// lookup answers the pending session lookup of key.
func (fx *fixture) lookup(key string, status int, body string) {
	fx.t.Helper()
	c := fx.f.Pending("/turnpike/v1/sessions/" + keys.Hash(key))
	if c == nil {
		fx.t.Fatalf("no lookup pending for %q (calls: %d)", key, len(fx.f.Calls))
	}
	fx.f.Answer(c, status, map[string]string{"x-turnpike-cursor": "1-0"}, body)
}

// admitted sends a request for key, answers its lookup with session if one
// is sent, and returns the final stream state.
func (fx *fixture) do(path, key, session string, more ...string) *hosttest.Stream {
	fx.t.Helper()
	s, _, act := fx.send(path, key, more...)
	if act == proxywasm.ActionPause && s.Reply == nil && session != "" {
		status := 200
		if session == "404" {
			status, session = 404, `{"error":"key not found"}`
		}
		fx.lookup(strings.TrimPrefix(key, "Bearer "), status, session)
	} else if act == proxywasm.ActionContinue {
		s.Resumed = true
	}
	return s
}

// status is the reply's status, or 200 for a request let through.
func status(s *hosttest.Stream) uint32 {
	if s.Reply != nil {
		return s.Reply.Status
	}
	if s.Resumed {
		return 200
	}
	return 0
}

// respond runs the response headers of a request let through.
func (fx *fixture) respond(s *hosttest.Stream) {
	_ = fx.f.SetContext(s.ID)
	fx.streams[s.ID].OnHttpResponseHeaders(0, false)
}
