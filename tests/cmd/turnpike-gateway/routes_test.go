package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

// Tyk's URL building: strip_listen_path removes the listen path (the rest starts with "/"), the
// rest is joined to the target path with one slash, the target's query comes first.
func TestRouteUpstreamURL(t *testing.T) {
	tests := []struct {
		target, listen string
		strip          bool
		path, want     string
	}{
		{"http://u:1", "/a/", true, "/a/x/y?q=1", "http://u:1/x/y?q=1"},
		{"http://u:1", "/a/", false, "/a/x", "http://u:1/a/x"},
		{"http://u:1/base/", "/a/", true, "/a/x/", "http://u:1/base/x/"},
		{"http://u:1/base", "/a/", true, "/a/", "http://u:1/base"}, // an empty rest: no trailing slash
		{"http://u:1/base", "/a/", true, "/a", "http://u:1/base"},
		{"http://u:1/base?k=v", "/a/", true, "/a/x?q=1", "http://u:1/base/x?k=v&q=1"},
		{"http://u:1/base?k=v", "/a/", true, "/a/x", "http://u:1/base/x?k=v"},
		{"http://u:1", "/a/", true, "/a/b%2Cc/d,e", "http://u:1/b%2Cc/d,e"}, // byte for byte
		{"https://u", "/a", true, "/a/x", "https://u/x"},
	}
	for _, tt := range tests {
		t.Run(tt.target+" "+tt.path, func(t *testing.T) {
			u, _ := url.Parse(tt.target)
			got := route{target: u, listenPath: tt.listen, strip: tt.strip}.upstreamURL(tt.path)
			if got.String() != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// fakeSync serves GET /turnpike/v1/sync like the sidecar: the snapshot only when the caller's
// version differs. Its APIs can be replaced while the gateway runs.
type fakeSync struct {
	mu      sync.Mutex
	apis    []string
	version int
	polls   int
}

func (f *fakeSync) set(apis ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apis = apis
	f.version++
}

func (f *fakeSync) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != wire.PathSync || r.Header.Get(wire.HeaderToken) != "tok" {
		http.Error(w, `{"error":"invalid filter token"}`, 403)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	v := fmt.Sprintf("v%d", f.version)
	out := `{"version":"` + v + `","cursor":"1-0","reset":false,"more":false,"keys":[]`
	if r.URL.Query().Get(wire.QueryVersion) != v {
		out += `,"snapshot":{"policies":{},"apis":[` + strings.Join(f.apis, ",") + `],"orgs":{}}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(out + "}"))
}

func keyless(id, listen, proxyExtra string) string {
	return `{"api_id":"` + id + `","org_id":"o","active":true,"use_keyless":true,` +
		`"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},` +
		`"proxy":{"listen_path":"` + listen + `"` + proxyExtra + `}}`
}

// The real filter marks the matched API; the gateway sends each API to its target_url (with
// strip_listen_path and preserve_host_header), everything else to --upstream, never forwards
// x-turnpike-api-id, and follows a target_url change within a second.
func TestGatewayRoutesPerAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	filterWasm, err := wasmbuild.Build(ctx, "../../../filter", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := echoUpstream(t)
	a, _ := echoUpstream(t)
	b, _ := echoUpstream(t)
	c, _ := echoUpstream(t)
	name := map[string]string{def.URL: "default", a.URL: "a", b.URL: "b", c.URL: "c"}
	for _, s := range []*httptest.Server{def, a, b, c} {
		u := s.URL
		s.Config.Handler = tagged(s.Config.Handler, name[u])
	}
	sync := &fakeSync{}
	sync.set(
		keyless("api-a", "/a/", `,"target_url":"`+a.URL+`/base","strip_listen_path":true`),
		keyless("api-b", "/b/", `,"target_url":"`+b.URL+`","preserve_host_header":true`),
		keyless("api-none", "/none/", ``),
	)
	sidecar := httptest.NewServer(sync)
	defer sidecar.Close()
	cfg := writeTemp(t, `{"sidecar":{"token":"tok"},"sync_interval_ms":50,`+
		`"apis":[`+keyless("api-s", "/s/", `,"target_url":"`+b.URL+`","strip_listen_path":true`)+`]}`)
	gw := startGateway(t, "--wasm", filterWasm, "--upstream", def.URL, "--plugin-config", cfg,
		"--cluster", "turnpike-sidecar="+sidecar.URL, "--route-sync-interval", "50ms", "--workers", "1", "--log-level", "warn")

	// The filter answers 503 until its first sync.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, _ := do(t, "GET", gw+"/other", ""); resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the filter never synced")
		}
	}
	tests := []struct {
		path, upstream, wantPath, wantHost string
		hdr                                []string
	}{
		{path: "/a/x?q=1", upstream: "a", wantPath: "/base/x?q=1", wantHost: strings.TrimPrefix(a.URL, "http://")},
		{path: "/b/y", upstream: "b", wantPath: "/b/y", wantHost: "client.example"},
		{path: "/s/z", upstream: "b", wantPath: "/z", wantHost: strings.TrimPrefix(b.URL, "http://")},
		{path: "/none/n", upstream: "default", wantPath: "/none/n", wantHost: "client.example"},
		{path: "/other", upstream: "default", wantPath: "/other", wantHost: "client.example"},
		// A client's own header neither picks an upstream nor reaches one.
		{path: "/other", upstream: "default", wantPath: "/other", wantHost: "client.example", hdr: []string{"X-Turnpike-Api-Id", "api-a"}},
		{path: "/b/y", upstream: "b", wantPath: "/b/y", wantHost: "client.example", hdr: []string{"X-Turnpike-Api-Id", "api-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := do(t, "GET", gw+tt.path, "", append([]string{"Host", "client.example"}, tt.hdr...)...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %q", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Upstream"); got != tt.upstream {
				t.Errorf("upstream %q, want %q", got, tt.upstream)
			}
			if got := resp.Header.Get("X-Echo-Path"); got != tt.wantPath {
				t.Errorf("path %q, want %q", got, tt.wantPath)
			}
			if got := resp.Header.Get("X-Echo-Host"); got != tt.wantHost {
				t.Errorf("host %q, want %q", got, tt.wantHost)
			}
			if got := resp.Header.Get("X-Echo-X-Turnpike-Api-Id"); got != "" {
				t.Errorf("the upstream got x-turnpike-api-id %q", got)
			}
		})
	}

	// A target_url change through the Gateway API reaches the gateway through the sync poll.
	sync.set(
		keyless("api-a", "/a/", `,"target_url":"`+c.URL+`","strip_listen_path":true`),
		keyless("api-b", "/b/", `,"target_url":"`+b.URL+`","preserve_host_header":true`),
	)
	changed := time.Now()
	for {
		resp, _ := do(t, "GET", gw+"/a/x", "")
		if resp.Header.Get("X-Upstream") == "c" && resp.Header.Get("X-Echo-Path") == "/x" {
			t.Logf("target change followed after %v", time.Since(changed).Round(time.Millisecond))
			break
		}
		if time.Since(changed) > time.Second {
			t.Fatalf("after 1s api-a still goes to %q", resp.Header.Get("X-Upstream"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tagged adds X-Upstream: name to every answer of h, and the Host the upstream got.
func tagged(h http.Handler, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Echo-Host", r.Host)
		h.ServeHTTP(w, r)
	})
}

// Under concurrent load the gateway reuses its upstream connections: with the default pool,
// 16 concurrent clients open almost no new upstream connection per request; with Go's default of
// 2 idle connections per host most requests would open one.
func TestGatewayPoolsUpstreamConnections(t *testing.T) {
	wasm := buildFilter(t, "headers")
	for _, tt := range []struct {
		args    []string
		atMost  float64 // new upstream connections per request
		atLeast float64
	}{
		{args: nil, atMost: 0.01},
		{args: []string{"--max-idle-conns-per-host", "2"}, atLeast: 0.05},
	} {
		t.Run(strings.Join(append([]string{"default"}, tt.args...), " "), func(t *testing.T) {
			var mu sync.Mutex
			conns := 0
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(time.Millisecond) // requests overlap, as under real load
				w.Write([]byte("ok"))
			}))
			up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					conns++
					mu.Unlock()
				}
			}
			up.Start()
			defer up.Close()
			gw := startGateway(t, append([]string{"--wasm", wasm, "--upstream", up.URL, "--log-level", "warn"}, tt.args...)...)
			const clients, each = 16, 200
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						resp, err := client.Get(gw + "/x")
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			mu.Lock()
			perReq := float64(conns) / (clients * each)
			mu.Unlock()
			t.Logf("%d new upstream connections for %d requests (%.4f per request)", conns, clients*each, perReq)
			if tt.atMost > 0 && perReq > tt.atMost {
				t.Errorf("%.4f new upstream connections per request, want <= %v", perReq, tt.atMost)
			}
			if perReq < tt.atLeast {
				t.Errorf("%.4f new upstream connections per request, want >= %v (the flag has no effect?)", perReq, tt.atLeast)
			}
		})
	}
}

// An https upstream that offers HTTP/2 gets HTTP/2 (ALPN), one connection for concurrent requests.
func TestGatewayHTTP2Upstream(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	ca := writeTemp(t, string(pemCert(up.Certificate().Raw)))
	gw := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", up.URL, "--upstream-ca", ca, "--log-level", "warn")
	resp, body := do(t, "GET", gw+"/x", "")
	if resp.StatusCode != 200 || resp.Header.Get("X-Proto") != "HTTP/2.0" {
		t.Fatalf("%d %q, upstream protocol %q, want HTTP/2.0", resp.StatusCode, body, resp.Header.Get("X-Proto"))
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
