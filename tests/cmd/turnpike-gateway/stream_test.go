package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Envoy shows content-length to filters, in requests and responses: it is an ordinary entry of
// the header map the filter reads (source/extensions/common/wasm/context.cc: getHeaderMapValue
// and headerMapToPairs read the stream's RequestHeaderMap/ResponseHeaderMap as the codec built
// it, Content-Length included). The gateway used to drop it as hop-by-hop, and filters that
// check it answered 400.
func TestGatewayShowsContentLength(t *testing.T) {
	upstream, _ := echoUpstream(t)
	gw := startGateway(t, "--wasm", buildFilter(t, "fidelity"), "--upstream", upstream.URL, "--log-level", "warn")
	resp, body := do(t, "POST", gw+"/x", "hello")
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Echo-X-Seen-Cl"); got != "5" {
		t.Errorf("the filter saw request content-length %q, want 5", got)
	}
	if got := resp.Header.Get("X-Seen-Resp-Cl"); got != "5" {
		t.Errorf("the filter saw response content-length %q, want 5", got)
	}
}

// The gateway appends the peer's address to X-Forwarded-For, as Envoy does with
// use_remote_address: true, so the upstream sees the hops and the filter's analytics find the
// client among the headers (Tyk's rule: X-Real-IP, else the first X-Forwarded-For entry).
func TestGatewayAppendsForwardedFor(t *testing.T) {
	upstream, _ := echoUpstream(t)
	gw := startGateway(t, "--wasm", buildFilter(t, "fidelity"), "--upstream", upstream.URL, "--log-level", "warn")
	for _, tc := range []struct{ sent, want string }{
		{"", "127.0.0.1"},
		{"203.0.113.7", "203.0.113.7, 127.0.0.1"},
		{"203.0.113.7, 198.51.100.2", "203.0.113.7, 198.51.100.2, 127.0.0.1"},
	} {
		var hdr []string
		if tc.sent != "" {
			hdr = []string{"X-Forwarded-For", tc.sent}
		}
		resp, _ := do(t, "GET", gw+"/x", "", hdr...)
		if got := resp.Header.Get("X-Echo-X-Forwarded-For"); resp.StatusCode != 200 || got != tc.want {
			t.Errorf("sent %q: upstream got %q (status %d), want %q", tc.sent, got, resp.StatusCode, tc.want)
		}
	}
}

var bodyLog = regexp.MustCompile(`request body (\d+) (true|false)`)

// Envoy streams a body to the filter chunk by chunk, end_of_stream on the last, and on to the
// upstream as the filter lets it through; it buffers only what a filter holds with
// StopIterationAndBuffer (source/extensions/common/wasm/context.cc, Context::decodeData:
// buffering_request_body_ only after StopIterationAndBuffer). The upstream here must get the
// first chunk before the client sends the second, which a gateway that buffered the whole
// body would never deliver.
func TestGatewayStreamsBodies(t *testing.T) {
	for _, tt := range []struct{ name, config string }{
		{"pass-through", ""},
		{"buffering filter", "buffer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			firstSeen := make(chan struct{})
			var once sync.Once
			var got string
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				buf := make([]byte, 64)
				var all []byte
				for {
					n, err := r.Body.Read(buf)
					all = append(all, buf[:n]...)
					if len(all) > 0 {
						once.Do(func() { close(firstSeen) })
					}
					if err != nil {
						break
					}
				}
				got = string(all)
				w.Write([]byte("ok"))
			}))
			defer up.Close()
			gw, logs := startGatewayLogs(t, "--wasm", buildFilter(t, "fidelity"), "--upstream", up.URL,
				"--plugin-config", writeTemp(t, tt.config), "--log-level", "info")

			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte("first,"))
				if tt.config == "" { // a pass-through filter lets the first chunk go on at once
					select {
					case <-firstSeen:
					case <-time.After(10 * time.Second):
						pw.CloseWithError(io.ErrUnexpectedEOF)
						return
					}
				} else {
					time.Sleep(50 * time.Millisecond)
				}
				pw.Write([]byte("second"))
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", gw+"/stream", pr) // no length: chunked
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || got != "first,second" {
				t.Fatalf("status %d, upstream got %q", resp.StatusCode, got)
			}
			var calls []string
			for _, m := range bodyLog.FindAllStringSubmatch(logs(), -1) {
				calls = append(calls, m[1]+" "+m[2])
			}
			// Chunks as they came (6 then 6 bytes, or 6 then 12 when buffered), then the end.
			if len(calls) < 2 || !strings.HasSuffix(calls[len(calls)-1], "true") {
				t.Fatalf("body callbacks %q: want several, end_of_stream only on the last", calls)
			}
			for _, c := range calls[:len(calls)-1] {
				if strings.HasSuffix(c, "true") {
					t.Fatalf("body callbacks %q: end_of_stream before the last", calls)
				}
			}
		})
	}
}

// The body limit applies to what a filter buffers, not to what streams through.
func TestGatewayBodyLimitAppliesToBuffered(t *testing.T) {
	// Reads the whole body before answering: Go's HTTP/1 server stops a request body once the
	// response is flushed, so echoing 100 kB as it is read would truncate it.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer upstream.Close()
	big := strings.Repeat("x", 100_000)
	for _, tt := range []struct {
		config string
		status int
	}{
		{"", 200},
		{"buffer", 413},
	} {
		t.Run("config "+tt.config, func(t *testing.T) {
			gw := startGateway(t, "--wasm", buildFilter(t, "fidelity"), "--upstream", upstream.URL,
				"--plugin-config", writeTemp(t, tt.config), "--max-body", "10000", "--log-level", "warn")
			resp, body := do(t, "POST", gw+"/x", big)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%.80q), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status == 200 && body != big {
				t.Fatalf("upstream echoed %d bytes, want %d", len(body), len(big))
			}
		})
	}
}

// A gateway configuration file lists a filter chain (each filter with its plugin configuration,
// root id and vm id) and routes with per-route metadata. Filters of one gateway are one process:
// the second filter resolves the shared queue the first registered under their vm_id. The two
// share a module, vm_id and VM configuration, so they run in one VM, as in Envoy: root contexts
// 1 and 2, each stream a child of its plugin's root.
func TestGatewayFilterChainAndRouteMetadata(t *testing.T) {
	upstream, _ := echoUpstream(t)
	wasm := buildFilter(t, "fidelity")
	cfg := writeTemp(t, `
filters:
- name: first
  wasm: `+wasm+`
  root_id: first
  vm_id: vm1
  configuration: "queue=events"
- name: second
  wasm: `+wasm+`
  root_id: second
  vm_id: vm1
routes:
- name: gold-route
  prefix: /route
  metadata:
    turnpike: {tier: gold}
`)
	gw := startGateway(t, "--config", cfg, "--upstream", upstream.URL, "--log-level", "warn")

	resp, _ := do(t, "GET", gw+"/queue", "", "X-Vm-Id", "vm1", "X-Queue", "events", "X-Arg", "item")
	if got := resp.Header.Values("X-Echo-X-Resolve-Status"); strings.Join(got, ",") != "0,0" {
		t.Errorf("queue resolve statuses %q, want 0 from both filters", got)
	}
	if got := resp.Header.Values("X-Echo-X-Enqueue-Status"); strings.Join(got, ",") != "0,0" {
		t.Errorf("enqueue statuses %q", got)
	}

	resp, _ = do(t, "GET", gw+"/whoami", "")
	ctxs := resp.Header.Values("X-Echo-X-Context")
	if len(ctxs) != 2 || !strings.HasSuffix(ctxs[0], "<1") || !strings.HasSuffix(ctxs[1], "<2") {
		t.Errorf("stream contexts %q: want the first filter's under root 1, the second's under root 2 of one VM", ctxs)
	}
	if got := resp.Header.Values("X-Echo-X-Root-Id"); strings.Join(got, ",") != "first,second" {
		t.Errorf("root ids in chain order %q", got)
	}

	resp, _ = do(t, "GET", gw+"/route", "")
	if got := resp.Header.Values("X-Echo-X-Route-Name"); strings.Join(got, ",") != "gold-route,gold-route" {
		t.Errorf("route names %q", got)
	}
	if got := resp.Header.Values("X-Echo-X-Tier"); strings.Join(got, ",") != "gold,gold" {
		t.Errorf("route metadata %q", got)
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	wasm := buildFilter(t, "fidelity")
	for _, tt := range []struct {
		name, file, want string
	}{
		{"no filters", "routes: []", "no filters"},
		{"unknown field", "filters:\n- wasm: " + wasm + "\n  colour: red", "field colour not found"},
		{"missing wasm", "filters:\n- name: x", "wasm is required"},
		{"bad prefix", "filters:\n- wasm: " + wasm + "\nroutes:\n- prefix: api", "must start with /"},
		{"nested metadata", "filters:\n- wasm: " + wasm + "\nroutes:\n- prefix: /\n  metadata: {ns: {k: [1]}}", "want a string, number or boolean"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(writeTemp(t, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
