// Package config reads the sidecar's configuration from command-line flags
// and their TURNPIKE_* environment equivalents.
//
// Precedence: an explicit flag wins over the environment, which wins over the
// default. Every flag is listed, with its variable, by --help.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the validated sidecar configuration.
type Config struct {
	Listen          string
	RedisURL        string // "" = embedded in-memory Redis (not durable)
	Secret          string // Gateway API secret (X-Tyk-Authorization)
	FilterToken     string // Filter API token (X-Turnpike-Filter-Token)
	PoliciesFile    string // "" = policies live in Redis and are managed through the API
	MaxBodyBytes    int64
	LogLevel        slog.Level
	LogFormat       string // "text" or "json"
	ShutdownTimeout time.Duration
	RedisTimeout    time.Duration
	AllowMasterKeys bool
	ConfigPoll      time.Duration // how often the config version counter / policies file is checked
}

// ErrHelp is returned by Parse when --help was requested; the usage text has
// already been written.
var ErrHelp = flag.ErrHelp

// envName turns a flag name into its environment variable: policies ->
// TURNPIKE_POLICIES, max-body-bytes -> TURNPIKE_MAX_BODY_BYTES.
func envName(flagName string) string {
	return "TURNPIKE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type flagDef struct {
	name, def, usage string
}

// defs is the single list of flags: Parse and the help text both read it,
// so the help cannot drift from what is accepted.
var defs = []flagDef{
	{"listen", ":8090", "`address` to serve the Gateway API, the Filter API, /hello, /ready and /metrics on"},
	{"redis", "", "Redis `URL`; empty starts an embedded in-memory Redis (NOT durable). Forms:\n" +
		"redis://[user:pass@]host:6379[/db], rediss://... (TLS), unix:///path/redis.sock,\n" +
		"redis+sentinel://[user:pass@]sentinel:26379[/db]?master_name=NAME&addr=sentinel2:26379 (rediss+sentinel:// for TLS),\n" +
		"redis+cluster://[user:pass@]node:6379?addr=node2:6379 (rediss+cluster:// for TLS)"},
	{"secret", "", "Gateway API `secret` expected in X-Tyk-Authorization (required)"},
	{"filter-token", "", "Filter API `token` expected in X-Turnpike-Filter-Token (required)"},
	{"policies", "", "policies.json `file` (JSON object keyed by policy id); when set, policies come from this file\n" +
		"(re-read when it changes) and the policy write API is disabled; when empty, policies live in Redis"},
	{"max-body-bytes", "1048576", "maximum request body size in `bytes`"},
	{"log-level", "info", "log `level`: debug, info, warn or error"},
	{"log-format", "text", "log `format`: text or json"},
	{"shutdown-timeout", "15s", "how long in-flight requests may run after SIGTERM (`duration`)"},
	{"redis-timeout", "2s", "timeout of each Redis operation and of connecting (`duration`)"},
	{"allow-master-keys", "false", "accept keys without access rights (they pass every API), like Tyk's allow_master_keys"},
	{"config-poll", "200ms", "how often to check the shared config version and the policies file (`duration`)"},
}

// Parse reads args (without the program name) and the environment through
// getenv. Usage and errors go to out.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet("turnpike-sidecar", flag.ContinueOnError)
	fs.SetOutput(out)
	vals := make(map[string]func() string, len(defs))
	for _, d := range defs {
		def := d.def
		if v := getenv(envName(d.name)); v != "" {
			def = v
		}
		if isBool(d) {
			// A bool flag may be given bare (--allow-master-keys); a bad
			// environment value is reported by build, not silently dropped.
			b, err := strconv.ParseBool(def)
			p := fs.Bool(d.name, b, d.usage)
			raw := def
			vals[d.name] = func() string {
				if err != nil && *p == b {
					return raw
				}
				return strconv.FormatBool(*p)
			}
			continue
		}
		p := fs.String(d.name, def, d.usage)
		vals[d.name] = func() string { return *p }
	}
	fs.Usage = func() { Usage(out) }
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (all settings are flags; see --help)", fs.Arg(0))
	}
	return build(func(name string) string { return vals[name]() })
}

func build(get func(string) string) (Config, error) {
	var errs []error
	c := Config{
		Listen:       get("listen"),
		RedisURL:     get("redis"),
		Secret:       get("secret"),
		FilterToken:  get("filter-token"),
		PoliciesFile: get("policies"),
		LogFormat:    get("log-format"),
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("--secret (or TURNPIKE_SECRET) is required: the Gateway API is never served without authentication"))
	}
	if c.FilterToken == "" {
		errs = append(errs, errors.New("--filter-token (or TURNPIKE_FILTER_TOKEN) is required: the Filter API is never served without authentication"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	n, err := strconv.ParseInt(get("max-body-bytes"), 10, 64)
	if err != nil || n <= 0 {
		errs = append(errs, fmt.Errorf("--max-body-bytes: want a positive integer, got %q", get("max-body-bytes")))
	}
	c.MaxBodyBytes = n
	if err := c.LogLevel.UnmarshalText([]byte(get("log-level"))); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: want debug, info, warn or error, got %q", get("log-level")))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format: want text or json, got %q", c.LogFormat))
	}
	c.AllowMasterKeys, err = strconv.ParseBool(get("allow-master-keys"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--allow-master-keys: want true or false, got %q", get("allow-master-keys")))
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"shutdown-timeout", &c.ShutdownTimeout}, {"redis-timeout", &c.RedisTimeout}, {"config-poll", &c.ConfigPoll}} {
		v, err := time.ParseDuration(get(d.name))
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("--%s: want a positive duration such as 2s or 500ms, got %q", d.name, get(d.name)))
		}
		*d.dst = v
	}
	return c, errors.Join(errs...)
}

func isBool(d flagDef) bool { return d.def == "false" || d.def == "true" }

// Usage writes the --help text: every flag with its default and environment
// variable.
func Usage(out io.Writer) {
	fmt.Fprint(out, `turnpike-sidecar: owns Turnpike's state in Redis and serves the Tyk-compatible
Gateway API (/tyk/...), the Filter API (/turnpike/v1/...), /hello, /ready and /metrics.

Usage: turnpike-sidecar [flags]

Every flag can also be set through the environment variable shown; a flag on
the command line wins over the environment.

Flags:
`)
	for _, d := range defs {
		name, usage := flag.UnquoteUsage(&flag.Flag{Name: d.name, Usage: d.usage})
		head := "  --" + d.name
		if name != "" && !isBool(d) {
			head += " " + name
		}
		fmt.Fprintf(out, "%s\n", head)
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(out, "        %s\n", line)
		}
		def := d.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "        (default %s; env %s)\n", def, envName(d.name))
	}
}
