package plugin

import (
	"testing"
)

const (
	transformAPI = `{"api_id":"t","org_id":"org1","active":true,"proxy":{"listen_path":"/t/"},
		"response_processors":[{"name":"header_injector","options":{"add_headers":{"X-Injected":"yes"},"remove_headers":["Server"]}}],
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","use_extended_paths":true,
		"global_headers":{"X-Global":"g","X-Turnpike-Key-Hash":"forged",":path":"/elsewhere"},"global_headers_remove":["X-Drop"],
		"global_response_headers":{"X-Resp-Global":"rg"},"global_response_headers_remove":["X-Powered-By"],
		"extended_paths":{
		  "transform_headers":[{"path":"/items/{id}","method":"GET","delete_headers":["X-Global"],"add_headers":{"X-Item":"1"}},
		                       {"path":"/items","method":"POST","add_headers":{"X-Post":"1"}}],
		  "transform_response_headers":[{"path":"/items/{id}","method":"GET","delete_headers":["X-Resp-Global"],"add_headers":{"X-Resp-Item":"1"}}]}}}}}`
	transformKeyless = `{"api_id":"tk","org_id":"org1","active":true,"use_keyless":true,"proxy":{"listen_path":"/tk/"},
		"response_processors":[{"name":"header_injector","options":{"add_headers":{"X-Injected":"keyless"}}}],
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","global_headers":{"X-Global":"k"}}}}}`
	transformSession = `{"org_id":"org1","access_rights":{"t":{"api_id":"t","versions":["Default"]}}}`
	transformSnap    = `{"policies":{},"apis":[` + transformAPI + `,` + transformKeyless + `],"orgs":{}}`
)

func TestRequestHeaderTransforms(t *testing.T) {
	tests := []struct {
		name, method, path string
		want               map[string]string // "" = absent
	}{
		{"global only", "GET", "/t/list", map[string]string{"x-global": "g", "x-drop": "", "x-item": "", ":path": "/t/list"}},
		{"per path after global", "GET", "/t/items/7", map[string]string{"x-global": "", "x-item": "1"}},
		{"method must match", "POST", "/t/items/7", map[string]string{"x-global": "g", "x-item": "", "x-post": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, "", transformSnap)
			s := fx.do(tt.path, "key-t", transformSession, ":method", tt.method, "x-drop", "1")
			if status(s) != 200 {
				t.Fatalf("status %d", status(s))
			}
			for k, v := range tt.want {
				if got := s.RequestHeaders[k]; got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if s.RequestHeaders["x-turnpike-key-hash"] == "forged" {
				t.Error("a transform forged the filter's own header")
			}
		})
	}
}

func TestResponseHeaderTransforms(t *testing.T) {
	fx := newFixture(t, "", transformSnap)
	s := fx.do("/t/items/7", "key-t", transformSession)
	fx.upstream(s, 200, "", "server", "up", "x-powered-by", "php", "x-resp-global", "from-upstream")
	want := map[string]string{"x-injected": "yes", "server": "", "x-powered-by": "", "x-resp-item": "1",
		"x-resp-global": "rg"} // per path first (deletes it), then the global sets it again, as in Tyk
	for k, v := range want {
		if got := s.ResponseHeaders[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// A keyless API gets its transforms too.
	k := fx.do("/tk/x", "", "")
	if k.RequestHeaders["x-global"] != "k" {
		t.Errorf("keyless request header %q", k.RequestHeaders["x-global"])
	}
	fx.upstream(k, 200, "")
	if k.ResponseHeaders["x-injected"] != "keyless" {
		t.Errorf("keyless response header %q", k.ResponseHeaders["x-injected"])
	}
	// The filter's own denials are not the upstream's responses: untouched.
	denied := fx.do("/t/items/7", "", "")
	if status(denied) != 401 || denied.Reply.Headers["x-injected"] != "" {
		t.Errorf("denial: %d %v", status(denied), denied.Reply.Headers)
	}
}
