package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/filter/internal/host/hosttest"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

const (
	batchAPI = `{"api_id":"b","org_id":"org1","active":true,"enable_batch_request_support":true,
		"proxy":{"listen_path":"/b/","target_url":"http://upstream.internal:8080"},
		"response_processors":[{"name":"header_injector","options":{"add_headers":{"x-injected":"1"}}}],
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`
	batchSession = `{"org_id":"org1","rate":2,"per":60,"access_rights":{"b":{"api_id":"b","versions":["Default"]}}}`
	batchSnap    = `{"policies":{},"apis":[` + batchAPI + `],"orgs":{}}`
	batchConfig  = `,"batch":{"upstream_clusters":{"b":"upstream-b"},"max_requests":5}`
)

type batchReply []struct {
	RelativeURL string              `json:"relative_url"`
	Code        int                 `json:"code"`
	Headers     map[string][]string `json:"headers"`
	Body        string              `json:"body"`
}

// postBatch sends a batch request: headers (not the end of the stream),
// then its body.
func (fx *fixture) postBatch(path, body string) (*hosttest.Stream, proxywasm.Action) {
	fx.t.Helper()
	fx.next++
	s := fx.f.Stream(fx.next, map[string]string{":method": "POST", ":path": path, ":authority": "gw.example.com"})
	h := fx.r.NewHttpContext(fx.next).(*httpContext)
	if act := h.OnHttpRequestHeaders(3, false); act != proxywasm.ActionContinue || s.Reply != nil {
		fx.t.Fatalf("batch headers: %v %+v", act, s.Reply)
	}
	s.RequestBody = body
	return s, h.OnHttpRequestBody(len(body), true)
}

func TestBatchSubRequestsAreDecidedOneByOne(t *testing.T) {
	fx := newFixture(t, batchConfig, batchSnap)
	item := func(url, key string) string {
		h := `{}`
		if key != "" {
			h = `{"authorization":"` + key + `","x-tyk-test":"1"}`
		}
		return `{"method":"GET","relative_url":"` + url + `","headers":` + h + `,"body":""}`
	}
	body := `{"requests":[` + strings.Join([]string{
		item("get?n=1", "key-ok"), item("get?n=2", "key-ok"), item("get?n=3", "key-ok"), // rate 2: the third is 429
		item("get", ""),                 // no key: 401
		item("../../other/x", "key-ok"), // leaves the API: 400
	}, ",") + `],"suppress_parallel_execution":false}`
	s, act := fx.postBatch("/b/tyk/batch/", body)
	if act != proxywasm.ActionPause || s.Reply != nil {
		t.Fatalf("batch body: %v %+v", act, s.Reply)
	}
	fx.lookup("key-ok", 200, batchSession) // one lookup for the three sub-requests
	var upstream []*hosttest.Call
	for _, c := range fx.f.Calls {
		if c.Cluster == "upstream-b" {
			upstream = append(upstream, c)
		}
	}
	if len(upstream) != 2 {
		t.Fatalf("%d sub-requests sent upstream, want 2", len(upstream))
	}
	for _, c := range upstream {
		if c.Headers[":authority"] != "upstream.internal:8080" || c.Headers["x-tyk-test"] != "1" ||
			c.Headers[HeaderAPIID] != "" || !strings.HasPrefix(c.Path(), "/b/get?n=") {
			t.Errorf("sub-request headers %v", c.Headers)
		}
		fx.f.Answer(c, 200, map[string]string{"content-type": "text/plain"}, "hello "+c.Path())
	}
	if s.Reply == nil || s.Reply.Status != 200 {
		t.Fatalf("no batch answer: %+v", s.Reply)
	}
	var got batchReply
	if err := json.Unmarshal([]byte(s.Reply.Body), &got); err != nil {
		t.Fatalf("%v: %s", err, s.Reply.Body)
	}
	want := []struct {
		url  string
		code int
		body string
	}{
		{"get?n=1", 200, "hello /b/get?n=1"}, {"get?n=2", 200, "hello /b/get?n=2"},
		{"get?n=3", 429, "Rate Limit Exceeded"}, {"get", 401, "Authorization field missing"},
		{"../../other/x", 400, "relative_url must be a path under the API"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results: %s", len(got), s.Reply.Body)
	}
	for i, w := range want {
		if got[i].RelativeURL != w.url || got[i].Code != w.code || !strings.Contains(got[i].Body, w.body) {
			t.Errorf("result %d: %+v, want %+v", i, got[i], w)
		}
	}
	if h := got[0].Headers; h["Content-Type"][0] != "text/plain" || h["X-Injected"][0] != "1" || len(h["X-Ratelimit-Limit"]) != 1 {
		t.Errorf("allowed sub-request headers %v", h)
	}
	if len(fx.r.streams) != 1 { // the batch request's own stream only
		t.Errorf("%d streams left", len(fx.r.streams))
	}
}

func TestBatchSequential(t *testing.T) {
	fx := newFixture(t, batchConfig, batchSnap)
	s, _ := fx.postBatch("/b/tyk/batch", `{"requests":[{"relative_url":"/a","headers":{"authorization":"key-ok"}},`+
		`{"relative_url":"/b","headers":{"authorization":"key-ok"}}],"suppress_parallel_execution":true}`)
	fx.lookup("key-ok", 200, batchSession)
	for i, want := range []string{"/b/a", "/b/b"} {
		c := fx.f.Pending("/b/")
		if c == nil || c.Path() != want || len(fx.f.Calls) != 1 {
			t.Fatalf("step %d: one call to %s expected, calls %d", i, want, len(fx.f.Calls))
		}
		fx.f.Answer(c, 204, nil, "")
	}
	if s.Reply == nil || !strings.Contains(s.Reply.Body, `"code":204`) {
		t.Fatalf("batch answer %+v", s.Reply)
	}
}

func TestBatchRefusals(t *testing.T) {
	tests := []struct {
		name, config, body string
		status             uint32
		msg                string
	}{
		{"malformed", batchConfig, `{"requests":`, 400, "Batch request malformed"},
		{"too many", batchConfig, `{"requests":[{},{},{},{},{},{}]}`, 400, "at most 5 requests"},
		{"too big", `,"batch":{"upstream_clusters":{"b":"up"},"max_body_bytes":10}`, `{"requests":[{"relative_url":"x"}]}`, 400, "too large"},
		{"no cluster", `,"batch":{"upstream_clusters":{"other":"up"}}`, `{"requests":[]}`, 500, "not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.config, batchSnap)
			fx.next++
			s := fx.f.Stream(fx.next, map[string]string{":method": "POST", ":path": "/b/tyk/batch/", ":authority": "x"})
			h := fx.r.NewHttpContext(fx.next).(*httpContext)
			if h.OnHttpRequestHeaders(3, false) == proxywasm.ActionContinue && s.Reply == nil {
				s.RequestBody = tt.body
				h.OnHttpRequestBody(len(tt.body), true)
			}
			if s.Reply == nil || s.Reply.Status != tt.status || !strings.Contains(s.Reply.Body, tt.msg) {
				t.Fatalf("reply %+v, want %d %q", s.Reply, tt.status, tt.msg)
			}
		})
	}
	// Without enable_batch_request_support the path is an ordinary one.
	fx := newFixture(t, batchConfig, `{"policies":{},"apis":[`+strings.Replace(batchAPI, `"enable_batch_request_support":true`, `"enable_batch_request_support":false`, 1)+`],"orgs":{}}`)
	if s := fx.do("/b/tyk/batch/", "", ""); status(s) != 401 {
		t.Errorf("batch disabled: %d", status(s))
	}
}

func TestTargetHost(t *testing.T) {
	for in, want := range map[string]string{
		"http://upstream.internal:8080": "upstream.internal:8080", "https://u:p@api.example.com/base?x=1": "api.example.com",
		"http://h/": "h", "upstream:8080": "", "": "",
	} {
		if got := targetHost(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
