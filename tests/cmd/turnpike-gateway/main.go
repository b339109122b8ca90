// Command turnpike-gateway is a local HTTP gateway that runs proxy-wasm filters without Envoy:
// every request goes through the filters' request and response callbacks (on the wazero host of
// package tests/wasmhost), bodies streaming chunk by chunk; allowed requests are proxied to the
// upstream of the API the turnpike filter matched (x-turnpike-api-id, the API definition's
// proxy.target_url, polled from the sidecar) or to --upstream over pooled keep-alive
// connections; local replies are served as the filters built them, and proxy_http_call targets
// are mapped to real URLs with --cluster.
//
//	turnpike-gateway --wasm filter.wasm --upstream http://127.0.0.1:9000 \
//	    --plugin-config config.json --cluster turnpike-sidecar=http://127.0.0.1:8090 --workers 4
//	turnpike-gateway --config gateway.yaml ...   # a filter chain and routes with metadata
//
// Every flag can also be set through the environment: TURNPIKE_GATEWAY_ + the flag name in capitals
// with "_" for "-" (TURNPIKE_GATEWAY_PLUGIN_CONFIG); --help lists them. Every path of the main
// listener belongs to the filters; /ready and /stats/prometheus (and with --pprof
// Go's profiles) are on --admin-listen. HTTPS with
// --tls-cert/--tls-key, client certificates with --client-ca. SIGINT/SIGTERM drain in-flight
// requests and stop.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/turnpike-dev/turnpike/shared/flagenv"
	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	if errors.Is(err, flagenv.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "turnpike-gateway:", err)
		os.Exit(1)
	}
}

// clusterFlag collects repeatable --cluster NAME=URL.
type clusterFlag map[string]string

func (c clusterFlag) String() string {
	names := make([]string, 0, len(c))
	for n, u := range c {
		names = append(names, n+"="+u)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (c clusterFlag) Set(v string) error {
	name, raw, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=URL, got %q", v)
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cluster %s: want an http(s) URL, got %q", name, raw)
	}
	c[name] = raw
	return nil
}

type options struct {
	listen, wasm, pluginConfig, vmConfig, upstream string
	upstreamCA, config                             string
	tlsCert, tlsKey, clientCA, adminListen         string
	guestProfile                                   string
	drainTimeout                                   time.Duration
	requireClientCert                              bool
	vmID, rootID, pluginName, logLevel, wasiMode   string
	workers, maxIdlePerHost                        int
	failOpen, pprof                                bool
	maxBody                                        int64
	routeSync                                      time.Duration
	clusters                                       clusterFlag
}

// settings is the one definition of every flag; each can also be set through
// TURNPIKE_GATEWAY_ + its name in capitals (package shared/flagenv).
func settings(o *options) *flagenv.Set {
	return &flagenv.Set{
		Program: "turnpike-gateway",
		Prefix:  "TURNPIKE_GATEWAY_",
		Intro: `turnpike-gateway: a local HTTP gateway that runs a proxy-wasm filter (tests/wasmhost) in
front of --upstream, with proxy_http_call targets mapped to URLs by --cluster.

Usage: turnpike-gateway --wasm FILE [flags]
`,
		Settings: []flagenv.Setting{
			flagenv.String(&o.listen, "listen", ":8080", "`address` to listen on"),
			flagenv.String(&o.wasm, "wasm", "", "proxy-wasm module `file` (.wasm); required unless --config lists the filters"),
			flagenv.String(&o.config, "config", "", "gateway configuration `file` (YAML or JSON): a filter chain and routes with per-route metadata; replaces --wasm, --plugin-config, --vm-config, --vm-id, --root-id, --plugin-name and --fail-open"),
			flagenv.String(&o.pluginConfig, "plugin-config", "", "`file` whose bytes are the plugin configuration (proxy_on_configure)"),
			flagenv.String(&o.vmConfig, "vm-config", "", "`file` whose bytes are the VM configuration (proxy_on_vm_start)"),
			flagenv.String(&o.upstream, "upstream", "", "`URL` allowed requests are proxied to (without it they get 503)"),
			flagenv.List("cluster", "", "`NAME=URL` target of proxy_http_call (repeatable; the variable takes a comma-separated list)",
				"", o.clusters.Set),
			flagenv.Int(&o.workers, "workers", runtime.GOMAXPROCS(0), "`number` of VMs (Envoy worker threads)"),
			flagenv.Bool(&o.failOpen, "fail-open", false, "after a VM crash let requests through instead of 503"),
			flagenv.String(&o.logLevel, "log-level", "info", "log `level` of the host and the plugin: trace, debug, info, warn or error"),
			flagenv.String(&o.vmID, "vm-id", "", "VM `id` (vm_id: the shared data and queue namespace)"),
			flagenv.String(&o.rootID, "root-id", "", "plugin root `id` (root_id)"),
			flagenv.String(&o.pluginName, "plugin-name", "turnpike", "plugin `name`"),
			flagenv.String(&o.wasiMode, "wasi-mode", "cpp-host", "WASI `mode`: cpp-host (cpp-host >= #533) or envoy-1.33 (poll_oneoff = ENOSYS)"),
			flagenv.Int64(&o.maxBody, "max-body", 16<<20, "request and response body limit in `bytes`"),
			flagenv.Int(&o.maxIdlePerHost, "max-idle-conns-per-host", 1024,
				"idle keep-alive upstream connections kept per upstream host (`number`); Go's default of 2 makes most requests under load open a new one"),
			flagenv.String(&o.tlsCert, "tls-cert", "", "PEM certificate `file` (chain) to serve HTTPS with; needs --tls-key"),
			flagenv.String(&o.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert"),
			flagenv.String(&o.clientCA, "client-ca", "", "PEM `file` of the CAs client certificates are verified with (mTLS); a client without one is let in unless --require-client-cert"),
			flagenv.Bool(&o.requireClientCert, "require-client-cert", false, "refuse TLS clients without a certificate --client-ca verifies"),
			flagenv.String(&o.upstreamCA, "upstream-ca", "", "PEM `file` of the CA certificates https upstreams are verified with (default: the system's)"),
			flagenv.String(&o.adminListen, "admin-listen", "", "`address` of the admin listener (/ready, /stats/prometheus); none without it"),
			flagenv.String(&o.guestProfile, "guest-profile", "", "run the VMs under wasmhost's profiler (every guest function and host call, with call counts; the VMs run several times slower) and write it as a pprof `file` on shutdown"),
			flagenv.Bool(&o.pprof, "pprof", false, "also serve Go's profiles (net/http/pprof, /debug/pprof/...) on --admin-listen, e.g. a CPU profile under load; off by default because a profile costs CPU"),
			flagenv.PositiveDuration(&o.drainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for in-flight requests (`duration`)"),
			flagenv.PositiveDuration(&o.routeSync, "route-sync-interval", 250*time.Millisecond,
				"how often the API definitions (per-API target_url) are polled from the sidecar the plugin configuration names (`duration`)"),
		},
	}
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{clusters: clusterFlag{}}
	rest, err := settings(o).Parse(args, getenv, stderr)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", rest)
	}
	if o.wasm == "" && o.config == "" {
		return nil, errors.New("--wasm is required")
	}
	if o.wasm != "" && o.config != "" {
		return nil, errors.New("--wasm and --config exclude each other: list the filters in the file")
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("--workers %d: need at least 1", o.workers)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if o.clientCA != "" && o.tlsCert == "" || o.requireClientCert && o.clientCA == "" {
		return nil, errors.New("--client-ca needs --tls-cert, and --require-client-cert needs --client-ca")
	}
	if o.maxIdlePerHost < 1 {
		return nil, fmt.Errorf("--max-idle-conns-per-host %d: need at least 1", o.maxIdlePerHost)
	}
	if o.upstream != "" {
		if u, err := url.Parse(o.upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--upstream: want an http(s) URL, got %q", o.upstream)
		}
	}
	return o, nil
}

func levels(name string) (slog.Level, wasmhost.LogLevel, error) {
	switch strings.ToLower(name) {
	case "trace":
		return slog.LevelDebug - 4, wasmhost.LogTrace, nil
	case "debug":
		return slog.LevelDebug, wasmhost.LogDebug, nil
	case "info":
		return slog.LevelInfo, wasmhost.LogInfo, nil
	case "warn":
		return slog.LevelWarn, wasmhost.LogWarn, nil
	case "error":
		return slog.LevelError, wasmhost.LogError, nil
	}
	return 0, 0, fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", name)
}

// upstreamTransport pools upstream connections for the load the gateway serves: up to perHost
// idle keep-alive connections per upstream host (Go's default is 2: measured with 16 client
// connections, about 0.6 new upstream TCP connections per request), HTTP/2 negotiated with ALPN
// to TLS upstreams that offer it (one connection then carries many requests).
func upstreamTransport(perHost int, caFile string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no global cap: per host is the bound
	t.MaxIdleConnsPerHost = perHost
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true // also with the custom TLS configuration below
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--upstream-ca %s: no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// serverTLS is the downstream TLS configuration: the certificate, and client certificates
// verified with --client-ca when given (required with --require-client-cert).
func serverTLS(o *options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca %s: no PEM certificate", o.clientCA)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.requireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}

// run serves until ctx ends; ready, if set, receives the bound address (tests listen on :0).
// Settings come from args and, through getenv, from TURNPIKE_GATEWAY_* variables.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(net.Addr)) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	slogLevel, pluginLevel, err := levels(o.logLevel)
	if err != nil {
		return err
	}
	wasiMode := wasmhost.WASICppHost533
	switch o.wasiMode {
	case "cpp-host":
	case "envoy-1.33":
		wasiMode = wasmhost.WASIEnvoy133
	default:
		return fmt.Errorf("--wasi-mode %q: want cpp-host or envoy-1.33", o.wasiMode)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slogLevel}))
	base := wasmhost.Config{
		Workers:  o.workers,
		Clusters: o.clusters,
		AutoTick: true,
		WASIMode: wasiMode,
		Logger:   logger,
		LogLevel: pluginLevel,
		// One process: every filter of the chain shares data and queues, keyed by vm_id.
		Shared: wasmhost.NewSharedState(),
	}
	if o.guestProfile != "" {
		base.Profile = wasmhost.NewProfile()
		defer func() {
			if err := writeGuestProfile(o.guestProfile, base.Profile); err != nil {
				logger.Warn("writing the guest profile", "error", err)
			}
		}()
	}
	var fc *fileConfig
	var cfgs []wasmhost.Config
	if o.config != "" {
		if fc, err = loadConfig(o.config); err != nil {
			return err
		}
		for _, f := range fc.Filters {
			c := base
			c.WasmFile, c.VMID, c.RootID, c.PluginName = f.Wasm, f.VMID, f.RootID, f.Name
			c.PluginConfig, c.VMConfig, c.FailOpen = f.pluginConfig, f.vmConfig, f.FailOpen
			cfgs = append(cfgs, c)
		}
	} else {
		c := base
		c.WasmFile, c.VMID, c.RootID, c.PluginName, c.FailOpen = o.wasm, o.vmID, o.rootID, o.pluginName, o.failOpen
		for _, f := range []struct {
			path string
			dst  *[]byte
		}{{o.pluginConfig, &c.PluginConfig}, {o.vmConfig, &c.VMConfig}} {
			if f.path == "" {
				continue
			}
			if *f.dst, err = os.ReadFile(f.path); err != nil {
				return err
			}
		}
		cfgs = append(cfgs, c)
	}
	// Per-API routes come from the first filter whose configuration is turnpike's.
	var routes *routes
	for _, c := range cfgs {
		if routes, err = newRoutes(c.PluginConfig, o.clusters, logger); err != nil {
			return err
		}
		if routes.client != nil || len(routes.static) > 0 {
			break
		}
	}
	transport, err := upstreamTransport(o.maxIdlePerHost, o.upstreamCA)
	if err != nil {
		return err
	}
	g := &gateway{config: fc, transport: transport, routes: routes, log: logger, maxBody: o.maxBody}
	if o.upstream != "" {
		g.upstream, _ = url.Parse(o.upstream)
	}
	start := time.Now()
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, h := range g.hosts {
			if err := h.Close(closeCtx); err != nil {
				logger.Warn("closing the wasm host", "error", err)
			}
		}
	}()
	// Filters of the same module, vm_id and VM configuration run in one VM, one root context
	// each, as Envoy runs plugins that share a vm_config.
	hostOf := map[string]int{}
	var groups []wasmhost.Config
	for _, c := range cfgs {
		key := c.WasmFile + "\x00" + c.VMID + "\x00" + string(c.VMConfig)
		i, ok := hostOf[key]
		if !ok {
			i = len(groups)
			hostOf[key] = i
			groups = append(groups, c)
		} else {
			groups[i].Plugins = append(groups[i].Plugins, wasmhost.Plugin{Name: c.PluginName, RootID: c.RootID, Configuration: c.PluginConfig})
		}
		g.chain = append(g.chain, link{host: i, rootID: c.RootID})
	}
	for i, c := range groups {
		h, err := wasmhost.New(ctx, c)
		if err != nil {
			if len(groups) > 1 {
				return fmt.Errorf("filter VM %d (%s): %w", i, c.WasmFile, err)
			}
			return err
		}
		g.hosts = append(g.hosts, h)
	}
	host := g.hosts[0]

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if o.tlsCert != "" {
		if srv.TLSConfig, err = serverTLS(o); err != nil {
			return err
		}
	}
	logger.Info("turnpike-gateway listening", "addr", ln.Addr().String(), "filters", len(g.chain), "vms_per_worker", len(g.hosts), "abi", host.ABIVersion(),
		"workers", o.workers, "upstream", o.upstream, "clusters", o.clusters.String(), "load_time", time.Since(start).Round(time.Millisecond))
	adm := &admin{hosts: g.hosts, pprof: o.pprof}
	var adminSrv *http.Server
	if o.adminListen != "" {
		aln, err := net.Listen("tcp", o.adminListen)
		if err != nil {
			ln.Close()
			return err
		}
		adminSrv = &http.Server{Handler: adm.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = adminSrv.Serve(aln) }()
		defer adminSrv.Close()
		logger.Info("admin listening", "addr", aln.Addr().String())
	}
	if ready != nil {
		ready(ln.Addr())
	}
	syncCtx, stopSync := context.WithCancel(context.Background())
	defer stopSync()
	go routes.run(syncCtx, o.routeSync)
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // certificates in TLSConfig; HTTP/2 offered by ALPN
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", o.drainTimeout)
	adm.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeGuestProfile writes --guest-profile's file.
func writeGuestProfile(file string, p *wasmhost.Profile) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := p.WritePprof(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
