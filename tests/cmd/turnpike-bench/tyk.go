package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The peer comparison of issue 15: Tyk with key + rate + quota against
// Turnpike with the same keys, in the same run, on the same upstream, with
// the CPU of every process a request touches (Tyk and its redis-server;
// turnpike-gateway, turnpike-sidecar and theirs). Tyk is not part of the
// repository: the operator builds it and passes the binary with -tyk (see
// BENCHMARKS.md); without -tyk the report keeps the figure as a
// reference line.

// peerRow is one side of the comparison.
type peerRow struct {
	gatewayRow
	// Procs names the processes whose CPU is counted.
	Procs string
}

// tykAPIDef is the benchmark API as a Tyk API definition file: listen path
// /bench/, keyed by the Authorization header, not versioned.
func tykAPIDef(upstreamURL string) string {
	return `{"name":"Bench","api_id":"` + apiID + `","org_id":"org1","active":true,
		"auth":{"auth_header_name":"Authorization"},
		"version_data":{"not_versioned":true,"versions":{"Default":{"name":"Default"}}},
		"proxy":{"listen_path":"/bench/","target_url":"` + upstreamURL + `","strip_listen_path":true}}`
}

// tykConfig is a tyk.conf for a gateway on port with its own Redis. The
// upstream pool is sized like turnpike-gateway's (Tyk's default is Go's 2
// idle connections per host, which issue 11 measured at 0.65x a pooled Tyk),
// so the comparison is against Tyk at its best, not its default.
func tykConfig(dir string, port, redisPort int) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"listen_address":     "127.0.0.1",
		"listen_port":        port,
		"secret":             secret,
		"template_path":      filepath.Join(dir, "templates"),
		"use_db_app_configs": false,
		"app_path":           filepath.Join(dir, "apps"),
		"policies":           map[string]any{"policy_source": "file", "policy_path": filepath.Join(dir, "policies")},
		"storage": map[string]any{"type": "redis", "host": "127.0.0.1", "port": redisPort,
			"optimisation_max_idle": 2000, "optimisation_max_active": 4000},
		"enable_analytics":               false,
		"hash_keys":                      true,
		"max_idle_connections_per_host":  1024,
		"close_connections":              false,
		"allow_master_keys":              false,
		"suppress_redis_signal_reload":   false,
		"enable_hashed_keys_listing":     false,
		"health_check":                   map[string]any{"enable_health_checks": false},
		"disable_dashboard_zeroconf":     true,
		"http_server_options":            map[string]any{"enable_strict_routes": true},
		"proxy_ssl_insecure_skip_verify": false,
	}, "", "  ")
}

// startTyk runs the Tyk binary with its own redis-server in dir/tyk.
func startTyk(ctx context.Context, e *env, bin string) (tyk, tykRedis *proc, addr string, err error) {
	dir := filepath.Join(e.dir, "tyk")
	for _, d := range []string{"templates", "apps", "policies"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, nil, "", err
		}
	}
	// Tyk parses every file in its template directory at start and needs
	// the error template to answer 4xx.
	if err := os.WriteFile(filepath.Join(dir, "templates", "error.json"), []byte(`{"error": "{{.Message}}"}`), 0o644); err != nil {
		return nil, nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "bench.json"), []byte(tykAPIDef(e.upstreamURL)), 0o644); err != nil {
		return nil, nil, "", err
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, "", err
	}
	redisAddr, err := freeAddr()
	if err != nil {
		return nil, nil, "", err
	}
	_, rport, _ := strings.Cut(redisAddr, ":")
	if tykRedis, err = startProc(ctx, dir, "tyk-redis", redisAddr, redisBin, "--port", rport, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir); err != nil {
		return nil, nil, "", err
	}
	if addr, err = freeAddr(); err != nil {
		tykRedis.stop()
		return nil, nil, "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	rp, _ := strconv.Atoi(rport)
	conf, err := tykConfig(dir, p, rp)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "tyk.conf"), conf, 0o644)
	}
	if err != nil {
		tykRedis.stop()
		return nil, nil, "", err
	}
	// Tyk writes a default tyk.conf into its working directory when it
	// looks for one there, so it runs in its own directory.
	cmd := exec.Command(bin, "start", "--conf", filepath.Join(dir, "tyk.conf"))
	cmd.Dir = dir
	if tyk, err = startCmd(ctx, dir, "tyk", addr, cmd); err != nil {
		tykRedis.stop()
		return nil, nil, "", err
	}
	return tyk, tykRedis, addr, nil
}

// tykKeys stores n custom keys in Tyk through its Gateway API, the same
// request Turnpike's Gateway API takes.
func tykKeys(ctx context.Context, e *env, addr, prefix string, n int, session string) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + "-" + strconv.Itoa(i)
		req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/tyk/keys/"+keys[i], strings.NewReader(session))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Tyk-Authorization", secret)
		resp, err := e.http.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("tyk: POST /tyk/keys/%s: %d %s", keys[i], resp.StatusCode, body)
		}
	}
	return keys, nil
}

// quotaSession is the key + rate + quota session both gateways run: limits
// never reached in the run, so every request does the full accounting.
var quotaSession = keySession(`"rate":1000000000,"per":1,"quota_max":1000000000000,"quota_renewal_rate":3600`)

// peerScenario loads Tyk (bin) and turnpike-gateway with leased quota keys
// in turn, counting the CPU of every process on the request path.
func peerScenario(ctx context.Context, e *env, o gatewayOpts, bin, filterWasm string) ([]peerRow, error) {
	tyk, tykRedis, addr, err := startTyk(ctx, e, bin)
	if err != nil {
		return nil, err
	}
	var rows []peerRow
	keys, err := tykKeys(ctx, e, addr, "peer-tyk", o.keys, quotaSession)
	if err == nil {
		var row gatewayRow
		row, err = loadOne(ctx, e, addr, []int{tyk.pid(), tykRedis.pid()}, "/bench/items", keys, o, false)
		row.Name = "Tyk 5.8.0, key + rate + quota (pooled upstream)"
		rows = append(rows, peerRow{row, "tyk + its redis-server"})
		logf("peer: %-50s %8.0f req/s  CPU/req %v  non-200 %d", row.Name, row.RPS, row.CPUPerReq, row.Non200)
	}
	tyk.stop()
	tykRedis.stop()
	if err != nil {
		return nil, fmt.Errorf("tyk: %w (log: %s)", err, tyk.log.Name())
	}

	keys, err = e.createKeys(ctx, "peer-tp", o.keys, quotaSession)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, "peer-filter.json")
	if err := os.WriteFile(cfg, []byte(filterConfig("")), 0o644); err != nil {
		return nil, err
	}
	gwAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	gw, err := startProc(ctx, e.dir, "peer-gateway", gwAddr, e.binDir+"/turnpike-gateway",
		"--listen", gwAddr, "--wasm", filterWasm, "--upstream", e.upstreamURL, "--workers", strconv.Itoa(o.workers),
		"--log-level", "warn", "--plugin-config", cfg, "--cluster", "turnpike-sidecar="+e.sidecarURL)
	if err != nil {
		return nil, err
	}
	row, err := loadOne(ctx, e, gwAddr, []int{gw.pid(), e.sidecar.pid(), e.redis.pid()}, "/bench/items", keys, o, true)
	gw.stop()
	if err != nil {
		return nil, err
	}
	row.Name = "Turnpike, key + rate + quota (leases)"
	rows = append(rows, peerRow{row, "turnpike-gateway + turnpike-sidecar + redis-server"})
	logf("peer: %-50s %8.0f req/s  CPU/req %v  non-200 %d", row.Name, row.RPS, row.CPUPerReq, row.Non200)
	return rows, nil
}
