// Package config reads the sidecar's configuration from command-line flags
// and their TURNPIKE_* environment equivalents, both defined once by the
// table in settings (package shared/flagenv derives the variables).
//
// Precedence: an explicit flag wins over the environment, which wins over the
// default. Every flag is listed, with its variable, by --help.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/turnpike-dev/turnpike/shared/flagenv"
)

// Config is the validated sidecar configuration.
type Config struct {
	Listen          string
	MetricsListen   string // "" = /metrics is served on Listen
	RedisURL        string // "" = embedded in-memory Redis (not durable)
	Secret          string // Gateway API secret (X-Tyk-Authorization)
	FilterToken     string // Filter API token (X-Turnpike-Filter-Token)
	PoliciesFile    string // "" = policies live in Redis and are managed through the API
	AppsDir         string // "" = API definitions live in Redis; else {api-id}.json files here
	MaxBodyBytes    int64
	LogLevel        slog.Level
	LogFormat       string // "text" or "json"
	ShutdownTimeout time.Duration
	RedisTimeout    time.Duration
	AllowMasterKeys bool
	// AllowPlainPasswords lets keys store basic-auth passwords in clear
	// (basic_auth_data.hash_type "plain"); refused otherwise.
	AllowPlainPasswords bool
	// EnforceOrgQuotas is sent to the filters: enforce org rate limits
	// and quotas unless their configuration says otherwise.
	EnforceOrgQuotas bool
	ConfigPoll       time.Duration // how often the config version counter / policies file is checked
	// JWKS fetching (JWT APIs whose jwt_source is a URL).
	JWKSTimeout  time.Duration
	JWKSMaxBytes int64
	JWKSMinTTL   time.Duration // floor of Cache-Control max-age
	JWKSMaxTTL   time.Duration // ceiling of Cache-Control max-age
	// TykAnalytics writes the filters' request records to Tyk's analytics
	// list for Tyk Pump (Tyk's enable_analytics).
	TykAnalytics bool
	// Usage aggregates live this long per minute and per hour bucket.
	UsageMinuteRetention time.Duration
	UsageHourRetention   time.Duration
	// QuotaWaitReplicas > 0 makes each quota grant wait (Redis WAIT, up to
	// QuotaWaitTimeout) until that many replicas have it.
	QuotaWaitReplicas int
	QuotaWaitTimeout  time.Duration
}

// ErrHelp is returned by Parse when --help was requested; the usage text has
// already been written.
var ErrHelp = flagenv.ErrHelp

// settings is the one definition of every setting: flag name (the
// environment variable is TURNPIKE_ + the name in capitals), default, help,
// and the Config field it fills.
func settings(c *Config) *flagenv.Set {
	return &flagenv.Set{
		Program: "turnpike-sidecar",
		Prefix:  "TURNPIKE_",
		Intro: `turnpike-sidecar: owns Turnpike's state in Redis and serves the Tyk-compatible
Gateway API (/tyk/...), the Filter API (/turnpike/v1/...), /hello, /ready and /metrics.

Usage: turnpike-sidecar [flags]
`,
		Settings: []flagenv.Setting{
			flagenv.String(&c.Listen, "listen", ":8090",
				"`address` to serve the Gateway API, the Filter API, /hello, /ready and /metrics on"),
			flagenv.String(&c.MetricsListen, "metrics-listen", "",
				"`address` to serve /metrics on instead of --listen (which then no longer serves it);\n"+
					"/metrics needs no authentication, so keep it off public interfaces, e.g. 127.0.0.1:9090"),
			flagenv.String(&c.RedisURL, "redis", "",
				"Redis `URL`; empty starts an embedded in-memory Redis (NOT durable). Forms:\n"+
					"redis://[user:pass@]host:6379[/db], rediss://... (TLS), unix:///path/redis.sock,\n"+
					"redis+sentinel://[user:pass@]sentinel:26379[/db]?master_name=NAME&addr=sentinel2:26379 (rediss+sentinel:// for TLS),\n"+
					"redis+cluster://[user:pass@]node:6379?addr=node2:6379 (rediss+cluster:// for TLS)"),
			flagenv.String(&c.Secret, "secret", "", "Gateway API `secret` expected in X-Tyk-Authorization (required)"),
			flagenv.String(&c.FilterToken, "filter-token", "", "Filter API `token` expected in X-Turnpike-Filter-Token (required)"),
			flagenv.String(&c.PoliciesFile, "policies", "",
				"policies.json `file` (JSON object keyed by policy id); when set, policies come from this file\n"+
					"(re-read when it changes) and the policy write API is disabled; when empty, policies live in Redis"),
			flagenv.String(&c.AppsDir, "apps", "",
				"`directory` of API definitions as {api-id}.json files (Tyk's app_path); when set, APIs come from\n"+
					"these files (re-read when they change) and the /tyk/apis write routes write, replace and delete them;\n"+
					"when empty, API definitions live in Redis"),
			flagenv.PositiveInt64(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "maximum request body size in `bytes`"),
			flagenv.Func("log-level", "info", "log `level`: debug, info, warn or error", "debug, info, warn or error",
				func(v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }),
			flagenv.OneOf(&c.LogFormat, "log-format", "text", "log `format`: text or json", "text", "json"),
			flagenv.PositiveDuration(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second,
				"how long in-flight requests may run after SIGTERM (`duration`)"),
			flagenv.PositiveDuration(&c.RedisTimeout, "redis-timeout", 2*time.Second,
				"timeout of each Redis operation and of connecting (`duration`)"),
			flagenv.Bool(&c.AllowMasterKeys, "allow-master-keys", false,
				"accept keys without access rights (they pass every API), like Tyk's allow_master_keys"),
			flagenv.Bool(&c.AllowPlainPasswords, "allow-plain-passwords", false,
				`accept basic_auth_data with hash_type "plain": the password is stored in clear (default: bcrypt only)`),
			flagenv.Bool(&c.EnforceOrgQuotas, "enforce-org-quotas", false,
				"tell the filters to enforce organisation rate limits and quotas (Tyk's enforce_org_quotas);\n"+
					"a filter's own enforce_org_quotas setting wins"),
			flagenv.PositiveDuration(&c.ConfigPoll, "config-poll", 200*time.Millisecond,
				"how often to check the shared config version and the policies file (`duration`)"),
			flagenv.PositiveDuration(&c.JWKSTimeout, "jwks-timeout", 5*time.Second,
				"timeout of fetching a JWT API's JWKS URL (`duration`)"),
			flagenv.PositiveInt64(&c.JWKSMaxBytes, "jwks-max-bytes", 1<<20, "maximum size of a JWKS document in `bytes`"),
			flagenv.PositiveDuration(&c.JWKSMinTTL, "jwks-min-ttl", 30*time.Second,
				"shortest time a fetched JWKS is kept, whatever its Cache-Control says (`duration`)"),
			flagenv.PositiveDuration(&c.JWKSMaxTTL, "jwks-max-ttl", time.Hour,
				"longest time a fetched JWKS is kept before it is fetched again (`duration`)"),
			flagenv.Bool(&c.TykAnalytics, "tyk-analytics", false,
				"write the filters' request records (analytics.enabled in the filter) to the Redis list\n"+
					"analytics-tyk-system-analytics in Tyk's format, for Tyk Pump to read; only with a Pump draining it"),
			flagenv.PositiveDuration(&c.UsageMinuteRetention, "usage-minute-retention", 48*time.Hour,
				"how long per-minute usage aggregates are kept (`duration`)"),
			flagenv.PositiveDuration(&c.UsageHourRetention, "usage-hour-retention", 90*24*time.Hour,
				"how long per-hour usage aggregates are kept (`duration`)"),
			flagenv.Int(&c.QuotaWaitReplicas, "quota-wait-replicas", 0,
				"answer a quota grant only once this many Redis replicas have it (Redis WAIT), so a failover\n"+
					"cannot grant its units twice; too few within --quota-wait-timeout: the grant is given back\n"+
					"and the filter gets 503. 0 = do not wait"),
			flagenv.PositiveDuration(&c.QuotaWaitTimeout, "quota-wait-timeout", 100*time.Millisecond,
				"how long a quota grant waits for --quota-wait-replicas replicas (`duration`; shorter than --redis-timeout)"),
		},
	}
}

// Parse reads args (without the program name) and the environment through
// getenv. Usage and errors go to out.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	rest, err := settings(&c).Parse(args, getenv, out)
	var errs flagenv.ValueErrors
	if err != nil && !errors.As(err, &errs) {
		return Config{}, err // --help, or a malformed command line
	}
	if len(rest) > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (all settings are flags; see --help)", rest[0])
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("--secret (or TURNPIKE_SECRET) is required: the Gateway API is never served without authentication"))
	}
	if c.FilterToken == "" {
		errs = append(errs, errors.New("--filter-token (or TURNPIKE_FILTER_TOKEN) is required: the Filter API is never served without authentication"))
	}
	if c.QuotaWaitReplicas < 0 {
		errs = append(errs, errors.New("--quota-wait-replicas must not be negative"))
	}
	if c.QuotaWaitReplicas > 0 && c.QuotaWaitTimeout >= c.RedisTimeout {
		// WAIT's reply is a socket read, cut at --redis-timeout.
		errs = append(errs, errors.New("--quota-wait-timeout must be shorter than --redis-timeout"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// Usage writes the --help text: every flag with its default and environment
// variable.
func Usage(out io.Writer) { settings(&Config{}).Usage(out) }
