package fault

import (
	"github.com/turnpike-dev/turnpike/tests/internal/proc"

	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/tests/fault/faultproxy"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// The timeouts the suite configures, and the slack its bounds allow a
// loaded machine on top of them.
const (
	secret       = "fault-secret"
	filterToken  = "fault-filter-token"
	redisTimeout = 500 * time.Millisecond // the sidecars' --redis-timeout
	callTimeout  = time.Second            // the filter's sidecar.timeout_ms
	syncTimeout  = time.Second            // the filter's sidecar.sync_timeout_ms
	slack        = 3 * time.Second
	// maxWait bounds every request through the gateway: a request makes at
	// most two sidecar calls in sequence (a session lookup, then a quota
	// reservation), each cut at callTimeout by the filter.
	maxWait = 2*callTimeout + slack
	// maxAPIWait bounds a Gateway API call to a sidecar: a handful of Redis
	// operations, each cut at redisTimeout. (A key create is at most three.)
	maxAPIWait = 3*redisTimeout + slack
)

// target is the Redis a stack runs on. Every test takes one, so a Redis
// Cluster or Sentinel variant supplies its own target rather than a new
// suite: the URL the sidecars dial, the data nodes to count connections
// on, and how to SIGKILL and restart the master.
type target struct {
	name    string
	url     string   // the sidecars' --redis
	nodes   []string // host:port of the data nodes, dialled directly (INFO clients)
	kill    func()   // SIGKILL the master
	restart func()   // start it again with its data directory (AOF replayed)
	proxy   *faultproxy.Proxy
}

// standalone is one redis-server (tests/testenv). With persist it runs with
// appendonly yes and appendfsync always: every acknowledged write is on disk
// before the reply, so a SIGKILL loses nothing acknowledged (with everysec,
// up to about one second of writes could be lost). With proxied, the
// sidecars reach it through a fault proxy (faultproxy), which the target
// holds.
func standalone(t *testing.T, persist, proxied bool) *target {
	t.Helper()
	r := testenv.StartRedis(t, testenv.RedisOptions{Persist: persist})
	tg := &target{name: "standalone", url: r.URL(), nodes: []string{r.Addr()}, kill: r.Stop, restart: r.Start}
	if proxied {
		p, err := faultproxy.Start(r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		tg.proxy, tg.url = p, "redis://"+p.Addr()+"/0"
	}
	return tg
}

// stackOptions vary a stack.
type stackOptions struct {
	sidecars    int      // replicas behind the balancer (default 1)
	sidecarArgs []string // extra flags for every sidecar
	plugin      string   // extra plugin configuration, a JSON fragment starting with a comma
}

// stack is one running Turnpike on a target: sidecar replicas behind a
// balancer, turnpike-gateway (2 VMs) running filter.wasm, and an upstream.
type stack struct {
	t           *testing.T
	target      *target
	sidecars    []*proc.Proc
	sidecarURLs []string
	lb          *balancer
	gateway     *proc.Proc
	gatewayURL  string
	client      *http.Client
}

func newStack(t *testing.T, tg *target, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, target: tg, client: &http.Client{
		Timeout:   30 * time.Second, // far above every bound: a slow answer is measured, not cut
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(upstream.Close)
	n := max(o.sidecars, 1)
	for i := range n {
		p, u := startSidecar(t, "sidecar"+strconv.Itoa(i), tg.url, o.sidecarArgs...)
		s.sidecars, s.sidecarURLs = append(s.sidecars, p), append(s.sidecarURLs, u)
	}
	for i := range s.sidecars {
		s.waitSidecarReady(i, 20*time.Second)
	}
	s.lb = startBalancer(t, s.sidecarURLs)

	cfg := fmt.Sprintf(`{"sidecar":{"token":%q,"timeout_ms":%d,"sync_timeout_ms":%d},`+
		`"sync_interval_ms":100,"negative_cache_ttl_ms":200%s}`,
		filterToken, callTimeout.Milliseconds(), syncTimeout.Milliseconds(), o.plugin)
	cfgFile := t.TempDir() + "/plugin-config.json"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	s.gatewayURL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.gateway = proc.New(t, "gateway", built.Gateway,
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--wasm", built.Wasm, "--plugin-config", cfgFile,
		"--upstream", upstream.URL, "--cluster", "turnpike-sidecar="+s.lb.URL(),
		"--workers", "2", "--log-level", "warn")
	s.startGateway()
	return s
}

// startSidecar starts a turnpike-sidecar on redisURL with the suite's
// settings and extra args, and returns it and its base URL.
func startSidecar(t testing.TB, name, redisURL string, args ...string) (*proc.Proc, string) {
	port := testenv.FreePort(t)
	p := proc.New(t, name, built.Sidecar, append([]string{
		"--listen", "127.0.0.1:" + strconv.Itoa(port), "--redis", redisURL,
		"--secret", secret, "--filter-token", filterToken, "--config-poll", "100ms",
		"--redis-timeout", redisTimeout.String(), "--shutdown-timeout", "2s", "--log-level", "warn"},
		args...)...)
	p.Start()
	return p, "http://127.0.0.1:" + strconv.Itoa(port)
}

// startGateway starts the gateway and waits until its VMs have their first
// snapshot (a path no API claims then passes to the upstream).
func (s *stack) startGateway() {
	s.t.Helper()
	s.gateway.Start()
	s.eventually(60*time.Second, "gateway ready", func() error {
		if !s.gateway.Running() {
			s.t.Fatalf("the gateway exited during start-up: %v", s.gateway.Err())
		}
		for range 2 {
			r, err := s.get("/no-api-here/ready", "")
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("unmatched request: %s", r)
			}
		}
		return nil
	})
}

func (s *stack) waitSidecarReady(i int, limit time.Duration) time.Duration {
	s.t.Helper()
	return s.sidecars[i].WaitOK(s.client, s.sidecarURLs[i]+"/ready", limit)
}

// eventually polls cond every 20 ms until it returns nil, failing the test
// with the last error after limit; it returns the time taken.
func (s *stack) eventually(limit time.Duration, what string, cond func() error) time.Duration {
	s.t.Helper()
	return proc.Eventually(s.t, limit, what, cond)
}

// waitRecovered waits until the load rec records has run without a failure
// for the last second, at least 2 s after since (up to 20 s).
func (s *stack) waitRecovered(rec *recorder, since time.Time) {
	s.t.Helper()
	s.eventually(20*time.Second, "recovered", func() error {
		if d := time.Since(since); d < 2*time.Second || rec.recovery(since, forever()) > d-time.Second {
			return fmt.Errorf("failures within the last second")
		}
		return nil
	})
}

// reply is a response as the client saw it.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) String() string { return strconv.Itoa(r.status) + " " + r.body }

// get sends GET path through the gateway, with key in Authorization.
func (s *stack) get(path, key string) (reply, error) {
	req, err := http.NewRequest(http.MethodGet, s.gatewayURL+path, nil)
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	return s.do(req)
}

func (s *stack) do(req *http.Request) (reply, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// apiAt sends a Gateway API request to sidecar replica i.
func (s *stack) apiAt(i int, method, path, body string) (reply, error) {
	req, err := http.NewRequest(method, s.sidecarURLs[i]+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("X-Tyk-Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

// mustAPI sends a Gateway API request to the first running replica and
// fails the test unless it answers 200; it returns the decoded body.
func (s *stack) mustAPI(method, path, body string) map[string]any {
	s.t.Helper()
	i := 0
	for i < len(s.sidecars)-1 && !s.sidecars[i].Running() {
		i++
	}
	r, err := s.apiAt(i, method, path, body)
	if err != nil || r.status != 200 {
		s.t.Fatalf("%s %s: %v %s", method, path, err, r)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		s.t.Fatalf("%s %s: body %q: %v", method, path, r.body, err)
	}
	return v
}

// createKey creates a generated key with the session body and returns it.
func (s *stack) createKey(session string) string {
	s.t.Helper()
	v := s.mustAPI(http.MethodPost, "/tyk/keys", session)
	key, _ := v["key"].(string)
	if key == "" {
		s.t.Fatalf("create key: %v", v)
	}
	return key
}

// addAPI stores an unversioned API at /<id>/ in org1 and waits until the
// gateway routes it (a request without a key gets 401).
func (s *stack) addAPI(id string) {
	s.t.Helper()
	s.mustAPI(http.MethodPost, "/tyk/apis", `{"api_id":"`+id+`","name":"`+id+`","org_id":"org1","active":true,`+
		`"proxy":{"listen_path":"/`+id+`/"},"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`)
	s.eventually(10*time.Second, "API "+id+" routed", func() error {
		for range 2 {
			r, err := s.get("/"+id+"/x", "")
			if err != nil {
				return err
			}
			if r.status != 401 {
				return fmt.Errorf("got %s, want 401", r)
			}
		}
		return nil
	})
}

// rights grants the Default version of API id.
func rights(id string) string {
	return `"access_rights":{"` + id + `":{"api_id":"` + id + `","api_name":"` + id + `","versions":["Default"]}}`
}

// --- resources: the leak check ---------------------------------------------

// resources are counts that grow when something leaks.
type resources struct {
	goroutines, fds []int // per sidecar, from its /metrics (Go and process collectors)
	redisClients    int   // connected_clients summed over the target's data nodes
}

func (r resources) String() string {
	return fmt.Sprintf("goroutines %v, open fds %v, redis clients %d", r.goroutines, r.fds, r.redisClients)
}

func (s *stack) resources() (resources, error) {
	var out resources
	for i := range s.sidecars {
		m, err := s.metrics(i)
		if err != nil {
			return out, err
		}
		out.goroutines = append(out.goroutines, int(m["go_goroutines"]))
		out.fds = append(out.fds, int(m["process_open_fds"]))
	}
	for _, addr := range s.target.nodes {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		info, err := c.Info(context.Background(), "clients").Result()
		c.Close()
		if err != nil {
			return out, err
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
				n, _ := strconv.Atoi(v)
				out.redisClients += n - 1 // not this connection
			}
		}
	}
	return out, nil
}

// metrics reads the unlabelled samples of sidecar i's /metrics.
func (s *stack) metrics(i int) (map[string]float64, error) {
	resp, err := s.client.Get(s.sidecarURLs[i] + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// Leak bounds: what a sidecar may hold above its count before a fault once
// the fault is over and idle connections have closed. The go-redis pool
// keeps up to its size (10 per CPU) of connections it opened during the
// fault, which is a bound, not a leak; a leak grows with every request
// that failed (thousands here).
const (
	leakGoroutines = 30
	leakFDs        = 30
)

// noLeak waits (up to 20 s) until every sidecar is back within the leak
// bounds of before and Redis holds at most the pools' worth of
// connections, and returns the counts it saw.
func (s *stack) noLeak(before resources) resources {
	s.t.Helper()
	var now resources
	poolMax := 10 * runtime.NumCPU() * len(s.sidecars) // go-redis: 10 per GOMAXPROCS
	s.eventually(20*time.Second, "resources back to their level before the fault", func() error {
		var err error
		if now, err = s.resources(); err != nil {
			return err
		}
		for i := range now.goroutines {
			if now.goroutines[i] > before.goroutines[i]+leakGoroutines || now.fds[i] > before.fds[i]+leakFDs {
				return fmt.Errorf("before: %v; now: %v", before, now)
			}
		}
		if now.redisClients > max(before.redisClients, poolMax)+len(s.sidecars) {
			return fmt.Errorf("before: %v; now: %v (pools hold at most %d)", before, now, poolMax)
		}
		return nil
	})
	return now
}
