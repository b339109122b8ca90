// Command turnpike-quickstart is `make run`: it starts turnpike-sidecar
// (embedded store, or --redis), a demo echo upstream (in this process) and
// turnpike-gateway hosting filter.wasm in front of it, creates a demo API,
// policy and key through the Gateway API, and prints the curl commands to
// try. Ctrl-C stops everything, gateway first.
//
// Fixed defaults, so scripts can rely on them: gateway on localhost:8080,
// Gateway API on localhost:8090, secret from TURNPIKE_SECRET (generated and
// printed when unset). The demo configuration is in demo/.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	gatewayListen  string
	apiListen      string
	upstreamListen string
	redis          string
	binDir         string
	wasm           string
	workers        int
	logLevel       string
	readyTimeout   time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("turnpike-quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.gatewayListen, "gateway-listen", "127.0.0.1:8080", "address of the gateway (filter.wasm in front of the demo upstream)")
	fs.StringVar(&o.apiListen, "api-listen", "127.0.0.1:8090", "address of the sidecar's Gateway API")
	fs.StringVar(&o.upstreamListen, "upstream-listen", "127.0.0.1:0", "address of the demo echo upstream (port 0: any free port)")
	fs.StringVar(&o.redis, "redis", os.Getenv("TURNPIKE_REDIS"), "Redis URL for the sidecar; empty: the sidecar's embedded in-memory store (env TURNPIKE_REDIS)")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory holding turnpike-sidecar and turnpike-gateway (default: this binary's directory)")
	fs.StringVar(&o.wasm, "wasm", "", "filter.wasm (default: <bin-dir>/../filter.wasm, where make build puts it)")
	fs.IntVar(&o.workers, "workers", 2, "gateway workers (filter VMs)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level of the sidecar and the gateway")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 2*time.Minute, "how long to wait for each component to become ready")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: turnpike-quickstart [flags]\n\n"+
			"Starts turnpike-sidecar, a demo echo upstream and turnpike-gateway with filter.wasm,\n"+
			"creates a demo API, policy and key, and prints curl commands to try. Ctrl-C stops it.\n"+
			"TURNPIKE_SECRET sets the Gateway API secret (generated when unset).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the binaries: %w (pass --bin-dir)", err)
		}
		o.binDir = filepath.Dir(exe)
	}
	if o.wasm == "" {
		o.wasm = filepath.Join(o.binDir, "..", "filter.wasm")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "turnpike-quickstart: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "turnpike-quickstart: %v\n", err)
		os.Exit(1)
	}
}

// run starts everything, prints the guide to out, and blocks until ctx ends
// or a component dies. It returns nil only when everything started and
// stopped cleanly.
func run(ctx context.Context, o options, out, logs io.Writer) (err error) {
	for _, f := range []string{filepath.Join(o.binDir, "turnpike-sidecar"), filepath.Join(o.binDir, "turnpike-gateway"), o.wasm} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run `make build` first, or pass --bin-dir/--wasm)", err)
		}
	}
	for _, a := range []struct{ flag, addr string }{{"--gateway-listen", o.gatewayListen}, {"--api-listen", o.apiListen}} {
		if err := checkFree(a.addr); err != nil {
			return fmt.Errorf("%s is not free (%v): stop what uses it or pass %s", a.addr, err, a.flag)
		}
	}
	secret, secretGenerated := os.Getenv("TURNPIKE_SECRET"), false
	if secret == "" {
		secret, secretGenerated = randomHex(16), true
	}
	// The filter token is private to the sidecar and the gateway.
	filterToken := os.Getenv("TURNPIKE_FILTER_TOKEN")
	if filterToken == "" {
		filterToken = randomHex(16)
	}
	tmp, err := os.MkdirTemp("", "turnpike-quickstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	upstream, err := net.Listen("tcp", o.upstreamListen)
	if err != nil {
		return fmt.Errorf("demo upstream: %w", err)
	}
	echo := &http.Server{Handler: echoHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = echo.Serve(upstream) }()
	defer echo.Close() // deferred first: closes after the gateway stopped

	var children []*child // started order; stopped in reverse
	defer func() {
		for i := len(children) - 1; i >= 0; i-- {
			if stopErr := children[i].stop(15 * time.Second); stopErr != nil && err == nil {
				err = stopErr
			}
		}
		if err == nil {
			fmt.Fprintln(logs, "[quickstart] stopped")
		}
	}()

	fmt.Fprintf(logs, "[quickstart] starting turnpike-sidecar on %s (%s)\n", o.apiListen, storeName(o.redis))
	sidecar, err := startChild("sidecar", filepath.Join(o.binDir, "turnpike-sidecar"),
		[]string{"--listen", o.apiListen, "--log-level", o.logLevel},
		// Secrets and the Redis URL (it may hold a password) go through the
		// environment, not the command line that ps shows.
		[]string{"TURNPIKE_SECRET=" + secret, "TURNPIKE_FILTER_TOKEN=" + filterToken, "TURNPIKE_REDIS=" + o.redis}, logs)
	if err != nil {
		return err
	}
	children = append(children, sidecar)
	client := &http.Client{Timeout: 5 * time.Second}
	apiURL := "http://" + o.apiListen
	if err := waitReady(ctx, o.readyTimeout, sidecar, statusProbe(client, apiURL+"/ready", http.StatusOK)); err != nil {
		return interrupted(ctx, err)
	}

	key, err := (&gatewayAPI{base: apiURL, secret: secret, client: client}).seed(ctx)
	if err != nil {
		return interrupted(ctx, err)
	}

	cfg, err := pluginConfig(filterToken)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(tmp, "plugin-config.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(logs, "[quickstart] starting turnpike-gateway on %s (%d workers; the first start compiles filter.wasm)\n",
		o.gatewayListen, o.workers)
	gateway, err := startChild("gateway", filepath.Join(o.binDir, "turnpike-gateway"),
		[]string{"--listen", o.gatewayListen, "--wasm", o.wasm, "--plugin-config", cfgFile,
			"--upstream", "http://" + upstream.Addr().String(), "--cluster", "turnpike-sidecar=" + apiURL,
			"--workers", strconv.Itoa(o.workers), "--log-level", o.logLevel},
		nil, logs)
	if err != nil {
		return err
	}
	children = append(children, gateway)
	// 401 without a key proves the filter has its first snapshot (before
	// it, every request is 503) and knows the demo API, and spends none of
	// the demo key's rate or quota.
	gatewayProbe := statusProbe(client, "http://"+o.gatewayListen+demoPath, http.StatusUnauthorized)
	if err := waitReady(ctx, o.readyTimeout, gateway, gatewayProbe); err != nil {
		return interrupted(ctx, err)
	}

	printGuide(out, o.gatewayListen, o.apiListen, upstream.Addr().String(), secret, secretGenerated, key)

	select {
	case <-ctx.Done():
		fmt.Fprintln(logs, "\n[quickstart] stopping")
		return nil
	case <-sidecar.done:
		return fmt.Errorf("turnpike-sidecar stopped unexpectedly: %v", sidecar.exitError())
	case <-gateway.done:
		return fmt.Errorf("turnpike-gateway stopped unexpectedly: %v", gateway.exitError())
	}
}

// waitReady polls probe until it succeeds, failing early if the child
// exits or ctx ends (Ctrl-C during start-up).
func waitReady(ctx context.Context, limit time.Duration, c *child, probe func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := waitFor(ctx, limit, c.name, probe)
	select {
	case <-c.done:
		return fmt.Errorf("%s exited during start-up: %v (see its log above)", c.name, c.exitError())
	default:
	}
	return err
}

// interrupted turns a start-up error caused by Ctrl-C into a clean stop.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// checkFree reports whether addr can be listened on, so a busy port gets a
// clear message instead of a child's bind error.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func storeName(redis string) string {
	if redis == "" {
		return "embedded in-memory store, not durable; `make run REDIS=redis://...` for a real Redis"
	}
	return "Redis"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
