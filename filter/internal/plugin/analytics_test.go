package plugin

import (
	"testing"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// shipped ticks the plugin and decodes the analytics batch it sent.
func (fx *fixture) shipped() wire.AnalyticsBatch {
	fx.t.Helper()
	fx.r.OnTick()
	c := fx.f.Pending(wire.PathAnalytics)
	if c == nil {
		fx.t.Fatal("no analytics batch sent on tick")
	}
	if c.Headers[":method"] != "POST" || c.Headers[wire.HeaderToken] != "tok" {
		fx.t.Fatalf("batch call headers %v", c.Headers)
	}
	b, err := wire.DecodeAnalyticsBatch([]byte(c.Body))
	if err != nil {
		fx.t.Fatalf("batch %s: %v", c.Body, err)
	}
	fx.f.Answer(c, 200, nil, `{}`)
	return b
}

func TestAnalyticsRecords(t *testing.T) {
	fx := newFixture(t, `,"analytics":{"enabled":true}`, testSnapshot)
	fx.f.Props["source.address"] = []byte("192.0.2.7:5555")

	// Allowed: recorded when the upstream's response headers pass.
	s := fx.do("/api1/x?q=1", "good-key", testSession(`"alias":"al","apply_policies":["p1"],"tags":["gold"],"oauth_client_id":"cl"`),
		"user-agent", "test/1", "content-length", "12", ":method", "POST")
	fx.f.Clock += 3e6 // 3 ms upstream
	s.ResponseHeaders[":status"] = "201"
	s.ResponseHeaders["content-length"] = "34"
	fx.respond(s)
	fx.respond(s) // a second call must not record twice
	// Local replies: recorded at once.
	fx.do("/api1/x", "", "")                   // 401
	fx.do("/open/y", "", "")                   // keyless, response never arrives: not recorded
	fx.do("/elsewhere", "", "")                // no API: not recorded
	fx.do("/api1/x", "unknown-key-123", "404") // 403
	s = fx.do("/open/z", "", "")               // keyless, answered
	s.ResponseHeaders[":status"] = "200"
	fx.respond(s)

	b := fx.shipped()
	if b.VM != fx.r.vmID || b.Dropped != 0 || len(b.Records) != 4 {
		t.Fatalf("batch %+v", b)
	}
	want := []struct {
		status  int
		outcome string
		path    string
		hash    string
	}{
		{201, outAllowed, "/api1/x", keys.Hash("good-key")},
		{401, outMissingKey, "/api1/x", ""},
		{403, outKeyNotFound, "/api1/x", keys.Hash("unknown-key-123")},
		{200, outKeyless, "/open/z", ""},
	}
	for i, w := range want {
		r := b.Records[i]
		if r.Status != w.status || r.Outcome != w.outcome || r.Path != w.path || r.KeyHash != w.hash ||
			r.Method != map[bool]string{true: "POST", false: "GET"}[i == 0] || r.Host != "example.com" || r.ClientIP != "192.0.2.7" || r.Time != testStart+min(int64(i), 1)*3e6 {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
	}
	a := b.Records[0]
	if a.APIID != "api1" || a.APIName != "API 1" || a.OrgID != "org1" || a.ListenPath != "/api1/" ||
		a.Alias != "al" || a.OAuthID != "cl" || len(a.Policies) != 1 || a.Policies[0] != "p1" ||
		len(a.Tags) != 1 || a.Tags[0] != "gold" || a.UserAgent != "test/1" ||
		a.RequestBytes != 12 || a.ResponseBytes != 34 || a.UpstreamUS != 3000 || a.TotalUS != 3000 {
		t.Errorf("allowed record %+v", a)
	}
	if b.Records[1].ResponseBytes == 0 || b.Records[1].UpstreamUS != 0 || b.Records[1].RequestBytes != 0 {
		t.Errorf("local reply record %+v", b.Records[1])
	}
	fx.r.m.flush()
	if got := fx.f.Counters["turnpike.analytics.recorded"]; got != 4 {
		t.Errorf("recorded counter %d", got)
	}
	if got := fx.f.Counters["turnpike.analytics.sent"]; got != 4 {
		t.Errorf("sent counter %d", got)
	}
}

// The client's address is Tyk's: a valid X-Real-IP, else the first entry of
// X-Forwarded-For if valid, else the peer.
func TestAnalyticsClientIP(t *testing.T) {
	cases := []struct {
		name string
		hdrs []string
		want string
	}{
		{"peer", nil, "192.0.2.7"},
		{"x-real-ip", []string{"x-real-ip", "198.51.100.1", "x-forwarded-for", "203.0.113.9"}, "198.51.100.1"},
		{"x-real-ip ipv6", []string{"x-real-ip", "2001:db8::1"}, "2001:db8::1"},
		{"invalid x-real-ip, forwarded", []string{"x-real-ip", "not-an-ip", "x-forwarded-for", "203.0.113.9, 10.0.0.1"}, "203.0.113.9"},
		{"forwarded, spaces", []string{"x-forwarded-for", " 203.0.113.9 ,10.0.0.1"}, "203.0.113.9"},
		{"invalid forwarded", []string{"x-forwarded-for", "unknown, 10.0.0.1"}, "192.0.2.7"},
		{"zone refused", []string{"x-real-ip", "fe80::1%eth0"}, "192.0.2.7"},
	}
	fx := newFixture(t, `,"analytics":{"enabled":true}`, testSnapshot)
	fx.f.Props["source.address"] = []byte("192.0.2.7:5555")
	for _, c := range cases {
		fx.do("/api1/x", "", "", c.hdrs...) // 401, recorded at once
	}
	b := fx.shipped()
	if len(b.Records) != len(cases) {
		t.Fatalf("%d records, want %d", len(b.Records), len(cases))
	}
	for i, c := range cases {
		if got := b.Records[i].ClientIP; got != c.want {
			t.Errorf("%s: client IP %q, want %q", c.name, got, c.want)
		}
	}
}

// The buffer is bounded: records past max_records are dropped and the
// next batch says how many. One batch is in flight at a time.
func TestAnalyticsBoundsAndOneCallPerTick(t *testing.T) {
	fx := newFixture(t, `,"analytics":{"enabled":true,"max_records":2}`, testSnapshot)
	for range 3 {
		fx.do("/api1/x", "", "")
	}
	fx.r.OnTick()
	first := fx.f.Pending(wire.PathAnalytics)
	if first == nil {
		t.Fatal("no batch")
	}
	b, _ := wire.DecodeAnalyticsBatch([]byte(first.Body))
	if len(b.Records) != 2 || b.Dropped != 1 {
		t.Fatalf("batch: %d records, %d dropped", len(b.Records), b.Dropped)
	}
	fx.do("/api1/x", "", "")
	fx.r.OnTick() // the first batch is unanswered: nothing more is sent
	n := 0
	for _, c := range fx.f.Calls {
		if c.Path() == wire.PathAnalytics {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d analytics calls in flight, want 1", n)
	}
	fx.f.Answer(first, 503, nil, `{"error":"down"}`)
	if !fx.f.Logged("analytics batch lost (2 records)") {
		t.Errorf("failed batch not logged: %v", fx.f.Logs)
	}
	if b := fx.shipped(); len(b.Records) != 1 || b.Dropped != 0 {
		t.Fatalf("second batch: %+v", b)
	}
	fx.r.m.flush()
	if fx.f.Counters["turnpike.analytics.dropped"] != 1 || fx.f.Counters["turnpike.analytics.failed"] != 2 {
		t.Errorf("counters %v", fx.f.Counters)
	}
	fx.r.OnTick() // nothing buffered: no call
	if fx.f.Pending(wire.PathAnalytics) != nil {
		t.Error("empty batch sent")
	}
}

func TestAnalyticsOffByDefault(t *testing.T) {
	fx := newFixture(t, "", testSnapshot)
	fx.do("/api1/x", "", "")
	fx.r.OnTick()
	if fx.f.Pending(wire.PathAnalytics) != nil || fx.r.an.n != 0 {
		t.Fatal("analytics recorded or sent while disabled")
	}
}

func TestParseLength(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "200": 200, "1234567": 1234567, "": 0, "-1": 0, "1e3": 0,
		" 5": 0, "9999999999999999999": 0} {
		if got := parseLength(in); got != want {
			t.Errorf("parseLength(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.1:5555": "10.0.0.1", "[::1]:80": "::1", "10.0.0.1": "10.0.0.1",
		"::1": "::1", "": "", "[bad": "[bad"} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnalyticsDoNotTrack(t *testing.T) {
	snap := `{"policies":{},"apis":[{"api_id":"q","org_id":"o","active":true,"do_not_track":true,"use_keyless":true,` +
		`"proxy":{"listen_path":"/q/"}},` + testKeyless + `]}`
	fx := newFixture(t, `,"analytics":{"enabled":true}`, snap)
	for _, p := range []string{"/q/1", "/open/1"} {
		s := fx.do(p, "", "")
		s.ResponseHeaders[":status"] = "200"
		fx.respond(s)
	}
	if b := fx.shipped(); len(b.Records) != 1 || b.Records[0].APIID != "open" {
		t.Fatalf("batch %+v", b)
	}
}

// BenchmarkWarmRequest is a warm request with analytics off and on, native
// against the fake host: the guest-side cost of recording (encoding,
// buffers), without the host calls' price.
func BenchmarkWarmRequest(b *testing.B) {
	for _, tc := range []struct{ name, cfg string }{
		{"off", ""}, {"on", `,"analytics":{"enabled":true}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			t := &testing.T{}
			fx := newFixture(t, tc.cfg, testSnapshot)
			fx.t = t
			fx.f.Props["source.address"] = []byte("192.0.2.7:5555")
			fx.do("/api1/x", "good-key", testSession(`"rate":1000000000,"per":1`))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s, h, _ := fx.send("/api1/x", "good-key", "user-agent", "bench/1")
				s.ResponseHeaders[":status"] = "200"
				h.OnHttpResponseHeaders(0, true)
				h.OnHttpStreamDone()
				delete(fx.f.Streams, s.ID)
				if i%1000 == 999 {
					fx.r.OnTick()
					for _, c := range fx.f.Calls {
						fx.f.Answer(c, 200, nil, `{}`)
					}
				}
			}
		})
	}
}

// A batch is sent from the record buffer itself, its head written in
// front of the records: heads of different lengths (the dropped count's
// digits) in turn, with the buffer reused in between.
func TestAnalyticsBatchHeadInFrontOfRecords(t *testing.T) {
	fx := newFixture(t, `,"analytics":{"enabled":true,"max_records":1}`, testSnapshot)
	for _, tc := range []struct{ requests, dropped int }{{1, 0}, {13, 12}, {2, 1}, {1, 0}} {
		for range tc.requests {
			fx.do("/api1/x", "", "")
		}
		b := fx.shipped()
		if len(b.Records) != 1 || b.Dropped != int64(tc.dropped) || b.VM != fx.r.vmID || b.Records[0].Status != 401 {
			t.Fatalf("%d requests: batch %+v, want 1 record and %d dropped", tc.requests, b, tc.dropped)
		}
	}
}
