//go:build !wasip1

package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// Body transforms (extended_paths.transform and transform_response) in the
// real filter.wasm: the body is buffered across chunks, replaced by the
// template's output, and Content-Length removed; a body over
// body_transform.max_body_bytes passes untransformed.

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func transformAPI() string {
	tmpl := func(path, method, src string, session bool) string {
		s := "false"
		if session {
			s = "true"
		}
		return `{"path":"` + path + `","method":"` + method + `","template_data":{"input_type":"json","template_mode":"blob",` +
			`"enable_session":` + s + `,"template_source":"` + b64(src) + `"}}`
	}
	return `{"api_id":"api1","name":"API 1","org_id":"org1","active":true,
	"proxy":{"listen_path":"/api1/","target_url":"http://upstream"},"cache_options":{"enable_cache":true,"cache_timeout":60},
	"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default","use_extended_paths":true,"extended_paths":{
	  "cache":["/cached"],
	  "transform":[` + tmpl("/orders", "POST", `{"order":{"item":"{{.item}}","qty":{{.qty}},"by":"{{._tyk_meta.team}}"}}`, true) + `],
	  "transform_response":[` + tmpl("/items", "GET", `{"count":{{len .array}},"ids":[{{range $i, $e := .array}}{{if $i}},{{end}}{{$e.id}}{{end}}]}`, false) + `,` +
		tmpl("/broken", "GET", `before {{.a.b}} after`, false) + `,` +
		tmpl("/orders", "POST", `{"wrapped":{{jsonMarshal .}}}`, false) + `,` +
		tmpl("/cached", "GET", `{"first":{{jsonMarshal (index .array 0)}}}`, false) + `]}}}}}`
}

// stream sends a request with a body in chunks and, when it is forwarded,
// the upstream's response in chunks; it returns the stream to inspect.
func stream(t *testing.T, h *wasmhost.Host, hdrs wasmhost.Headers, reqChunks []string, respHeaders wasmhost.Headers, respChunks []string) *wasmhost.Stream {
	t.Helper()
	s := h.NewStream()
	t.Cleanup(s.Close)
	res := s.RequestHeaders(hdrs, len(reqChunks) == 0)
	if res.Action == wasmhost.ActionPause {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if res, err = s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if res.Action != wasmhost.ActionContinue {
		t.Fatalf("request not forwarded: %d %s", res.Reply.Status, res.Reply.Body)
	}
	for i, c := range reqChunks {
		s.RequestBody([]byte(c), i == len(reqChunks)-1)
	}
	s.ResponseHeaders(respHeaders, len(respChunks) == 0)
	for i, c := range respChunks {
		s.ResponseBody([]byte(c), i == len(respChunks)-1)
	}
	return s
}

func TestBodyTransformsInTheVM(t *testing.T) {
	sc := newFakeSidecar(t)
	sc.putAPI(transformAPI())
	sc.putKey("tx-key", session(`"meta_data":{"team":"blue"}`))
	h := start(t, sc.srv.URL, 2, `,"body_transform":{"max_body_bytes":64}`)

	t.Run("request and its response", func(t *testing.T) {
		// Three times, so that the key is warm on both VMs: the response
		// rule must not depend on request header views (gone after the
		// request callbacks).
		for range 3 {
			hdrs := append(request("/api1/orders", "tx-key"), [2]string{"content-length", "22"})
			hdrs[0][1] = "POST"
			s := stream(t, h, hdrs, []string{`{"item":"pen",`, `"qty":2}`}, wasmhost.Headers{{":status", "200"}}, []string{`{"ok":true}`})
			up := s.Request()
			if want := `{"order":{"item":"pen","qty":2,"by":"blue"}}`; string(up.Body) != want {
				t.Errorf("upstream body %q, want %q", up.Body, want)
			}
			if cl := headerIn(up.Headers, "content-length"); cl != "" {
				t.Errorf("content-length %q still sent upstream", cl)
			}
			if got, want := string(s.Response().Body), `{"wrapped":{"ok":true}}`; got != want {
				t.Errorf("response body %q, want %q", got, want)
			}
		}
	})

	t.Run("response", func(t *testing.T) {
		s := stream(t, h, append(request("/api1/items", "tx-key"), [2]string{"accept-encoding", "gzip, br"}), nil,
			wasmhost.Headers{{":status", "200"}, {"content-length", "27"}, {"content-type", "application/json"}},
			[]string{`[{"id":1},{"id":2},`, `{"id":7}]`})
		resp := s.Response()
		if want := `{"count":3,"ids":[1,2,7]}`; string(resp.Body) != want {
			t.Errorf("response body %q, want %q", resp.Body, want)
		}
		if cl := headerIn(resp.Headers, "content-length"); cl != "" {
			t.Errorf("content-length %q kept", cl)
		}
		if ae := headerIn(s.Request().Headers, "accept-encoding"); ae != "" {
			t.Errorf("accept-encoding %q sent upstream: the response could come compressed", ae)
		}
	})

	t.Run("template error keeps what was written, as Tyk", func(t *testing.T) {
		s := stream(t, h, request("/api1/broken", "tx-key"), nil, wasmhost.Headers{{":status", "200"}},
			[]string{`{"a":null}`})
		if got := string(s.Response().Body); got != "before " {
			t.Errorf("body %q, want %q", got, "before ")
		}
	})

	t.Run("over the limit passes untransformed", func(t *testing.T) {
		big := `[` + strings.Repeat(`{"id":1},`, 10) + `{"id":2}]`
		// Announced by Content-Length: not buffered at all.
		s := stream(t, h, request("/api1/items", "tx-key"), nil,
			wasmhost.Headers{{":status", "200"}, {"content-length", "100"}}, []string{big[:50], big[50:]})
		if got := string(s.Response().Body); got != big || headerIn(s.Response().Headers, "content-length") != "100" {
			t.Errorf("announced: body %q headers %v", got, s.Response().Headers)
		}
		// Chunked: buffered until it outgrows the limit, then released.
		s = stream(t, h, request("/api1/items", "tx-key"), nil,
			wasmhost.Headers{{":status", "200"}}, []string{big[:40], big[40:80], big[80:]})
		if got := string(s.Response().Body); got != big {
			t.Errorf("chunked: body %q", got)
		}
		if n := metric(t, h, "turnpike.transform.too_large"); n != 2 {
			t.Errorf("too_large %d, want 2", n)
		}
	})

	t.Run("encoded response passes untransformed", func(t *testing.T) {
		s := stream(t, h, request("/api1/items", "tx-key"), nil,
			wasmhost.Headers{{":status", "200"}, {"content-encoding", "gzip"}}, []string{"\x1f\x8b..."})
		if got := string(s.Response().Body); got != "\x1f\x8b..." {
			t.Errorf("body %q", got)
		}
	})

	t.Run("the response cache stores the transformed body", func(t *testing.T) {
		s := stream(t, h, request("/api1/cached", "tx-key"), nil, wasmhost.Headers{{":status", "200"}},
			[]string{`[{"a":1},`, `{"a":2}]`})
		if got := string(s.Response().Body); got != `{"first":{"a":1}}` {
			t.Fatalf("body %q", got)
		}
		for range 2 { // both VMs, from shared data
			o := fetch(t, h, request("/api1/cached", "tx-key"), "upstream must not be asked")
			if o.body != `{"first":{"a":1}}` || headerIn(o.headers, "x-tyk-cached-response") != "1" {
				t.Errorf("cache hit: %+v", o)
			}
		}
	})

	t.Run("other paths and methods untouched", func(t *testing.T) {
		s := stream(t, h, request("/api1/other", "tx-key"), nil, wasmhost.Headers{{":status", "200"}}, []string{`[1]`})
		if got := string(s.Response().Body); got != `[1]` {
			t.Errorf("body %q", got)
		}
	})
	if n := metric(t, h, "turnpike.transform.applied"); n != 8 {
		t.Errorf("applied %d, want 8", n)
	}
}
