package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	secret      = "bench-secret"
	filterToken = "bench-filter-token"
	apiID       = "bench"
)

// env is the shared system under test: one redis-server, one
// turnpike-sidecar on it, one upstream.
type env struct {
	dir, self, binDir string
	redis, sidecar    *proc
	upstream          *proc
	redisAddr         string
	sidecarURL        string
	upstreamURL       string
	rdb               *redis.Client
	http              *http.Client
}

func startEnv(ctx context.Context, dir, binDir string) (*env, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, self: self, binDir: binDir, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found: apt-get install redis-server (or make deps)")
	}
	if e.redisAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(e.redisAddr, ":")
	if e.redis, err = startProc(ctx, dir, "redis", e.redisAddr, redisBin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir); err != nil {
		return nil, err
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redisAddr})

	sidecarAddr, err := freeAddr()
	if err != nil {
		e.close()
		return nil, err
	}
	e.sidecarURL = "http://" + sidecarAddr
	if e.sidecar, err = startProc(ctx, dir, "sidecar", sidecarAddr, binDir+"/turnpike-sidecar",
		"--listen", sidecarAddr, "--redis", "redis://"+e.redisAddr+"/0", "--secret", secret,
		"--filter-token", filterToken, "--log-level", "warn"); err != nil {
		e.close()
		return nil, err
	}
	upAddr, err := freeAddr()
	if err != nil {
		e.close()
		return nil, err
	}
	e.upstreamURL = "http://" + upAddr
	if e.upstream, err = startProc(ctx, dir, "upstream", upAddr, self, "-role", "upstream", "-addr", upAddr); err != nil {
		e.close()
		return nil, err
	}
	if err := e.waitReady(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	if e.rdb != nil {
		e.rdb.Close()
	}
	for _, p := range []*proc{e.upstream, e.sidecar, e.redis} {
		p.stop()
	}
}

func (e *env) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := e.http.Get(e.sidecarURL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sidecar not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// admin calls the sidecar's Gateway API.
func (e *env) admin(ctx context.Context, method, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, e.sidecarURL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Tyk-Authorization", secret)
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return nil
}

// seedAPI stores the benchmark API: listen path /bench/, keyed by the
// Authorization header.
func (e *env) seedAPI(ctx context.Context) error {
	return e.admin(ctx, "POST", "/tyk/apis", `{"api_id":"`+apiID+`","name":"Bench","org_id":"org1","active":true,
		"proxy":{"listen_path":"/bench/","target_url":"`+e.upstreamURL+`"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}}}`)
}

// keySession is a session for the benchmark API with the given extra fields.
func keySession(extra string) string {
	s := `{"org_id":"org1","access_rights":{"` + apiID + `":{"api_id":"` + apiID + `","api_name":"Bench","versions":["Default"]}}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// createKeys stores n custom keys prefix-0 … prefix-(n-1) with the same
// session, with 16 requests in flight.
func (e *env) createKeys(ctx context.Context, prefix string, n int, session string) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + "-" + strconv.Itoa(i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				if err := e.admin(ctx, "POST", "/tyk/keys/"+k, session); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return keys, nil
}

// redisRoundTrips is how many round trips the sidecar has made to Redis
// (its turnpike_sidecar_redis_duration_seconds histogram counts one per
// command and one per pipeline or transaction).
func (e *env) redisRoundTrips(ctx context.Context) (int64, error) {
	return e.metricSum(ctx, func(line string) bool {
		return strings.HasPrefix(line, "turnpike_sidecar_redis_duration_seconds_count")
	})
}

// filterCalls is how many session lookups, quota reservations or leases and
// lease releases the sidecar has served (its request counter by route; the
// sync polls are not counted: they are per tick, not per request).
func (e *env) filterCalls(ctx context.Context) (int64, error) {
	return e.metricSum(ctx, func(line string) bool {
		return strings.HasPrefix(line, "turnpike_sidecar_http_requests_total{") &&
			(strings.Contains(line, `route="/turnpike/v1/quota`) || strings.Contains(line, `route="/turnpike/v1/sessions/`))
	})
}

// metricSum adds the values of the sidecar's metric lines that match.
func (e *env) metricSum(ctx context.Context, match func(string) bool) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.sidecarURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, line := range strings.Split(string(body), "\n") {
		if !match(line) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		total += int64(v)
	}
	return total, nil
}

// filterConfig is the plugin configuration for the sidecar at sidecarURL's
// cluster name; extra is spliced into the JSON object.
func filterConfig(extra string) string {
	return `{"sidecar":{"token":"` + filterToken + `","timeout_ms":5000}` + extra + `}`
}
