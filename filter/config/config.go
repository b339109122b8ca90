// Package config parses the filter's plugin configuration: the JSON object a
// proxy hands to proxy_on_configure. Every field is optional except the
// sidecar token; defaults are documented on Config and in filter/README.md.
//
// Errors name the offending field (for example `config: sidecar.timeout_ms:
// must be between 1 and 60000`), because the proxy only logs them and an
// operator has nothing else to go on.
package config

import (
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/valyala/fastjson"
)

// Mode is a failure mode: what the filter does when the sidecar cannot answer.
type Mode uint8

const (
	// Closed refuses the request with 503 and Retry-After.
	Closed Mode = iota
	// Open admits the request (quotas are then counted locally).
	Open
)

// HeaderMode selects what the X-RateLimit-* response headers carry.
type HeaderMode uint8

const (
	// HeadersQuotas is Tyk's default: quota limit, remaining and renewal time.
	HeadersQuotas HeaderMode = iota
	// HeadersRateLimits carries the rate limiter's limit, remaining and reset
	// (Tyk 5.13 rate_limit_response_headers: "rate_limits").
	HeadersRateLimits
	// HeadersNone emits no X-RateLimit-* headers.
	HeadersNone
)

// Switch is a setting that can also be left to the sidecar.
type Switch uint8

const (
	// FromSidecar follows the sidecar (its --enforce-org-quotas).
	FromSidecar Switch = iota
	// On and Off override the sidecar.
	On
	Off
)

// Config is the parsed plugin configuration. Durations are milliseconds.
type Config struct {
	// Cluster is the proxy cluster that reaches the sidecar
	// (sidecar.cluster, default "turnpike-sidecar").
	Cluster string
	// Authority is the :authority sent to the sidecar
	// (sidecar.authority, default: the cluster name).
	Authority string
	// Token is the sidecar's filter token (sidecar.token, required).
	Token string
	// LookupTimeoutMS bounds a session lookup or quota reservation
	// (sidecar.timeout_ms, default 1000).
	LookupTimeoutMS uint32
	// SyncTimeoutMS bounds one sync poll (sidecar.sync_timeout_ms, default 2000).
	SyncTimeoutMS uint32
	// SyncIntervalMS is the sync poll period and the tick period
	// (sync_interval_ms, default 250). Revocation takes at most about one
	// interval plus one poll.
	SyncIntervalMS uint32
	// RefreshMinIntervalMS is the shortest time between two refreshes of the
	// configuration asked for by requests that found no API, or a session
	// naming a policy the VM does not have (refresh_min_interval_ms,
	// default 100). It bounds the sidecar load a flood of unknown paths can
	// cause to one sync call per interval and VM.
	RefreshMinIntervalMS uint32
	// CacheSize bounds the per-VM session cache (session_cache.size,
	// default 10000 entries).
	CacheSize int
	// CacheMaxBytes bounds the same cache (three quarters) and the raw key
	// to hash cache (one quarter) by the estimated bytes of their entries
	// (session_cache.max_bytes, default 4 MiB); whichever of CacheSize and
	// CacheMaxBytes is reached first evicts. Keys beyond it are served from
	// shared data.
	CacheMaxBytes int
	// SharedSlots is the number of session slots in shared data, per proxy
	// (session_cache.shared_slots, default 131072).
	SharedSlots uint32
	// CacheTTLMS is how long a fetched session is used before it is fetched
	// again, independent of the sync feed (session_cache.ttl_ms, default 60000).
	CacheTTLMS int64
	// NegativeTTLMS is how long an unknown key is remembered as unknown
	// (negative_cache_ttl_ms, default 2000).
	NegativeTTLMS int64
	// MaxStaleMS is how long cached sessions keep working while the sidecar is
	// unreachable (max_stale_ms, default 300000).
	MaxStaleMS int64
	// QuotaFailure is the quota failure mode (failure_mode.quota, "closed"
	// (default) or "open").
	QuotaFailure Mode
	// RejectUnmatched answers requests that match no API with 404
	// (unmatched: "reject"); default "pass" lets them through untouched.
	RejectUnmatched bool
	// QuotaExceededStatus is 403 (Tyk, default) or 429.
	QuotaExceededStatus uint32
	// RateLimitHeaders selects the X-RateLimit-* headers (rate_limit_headers:
	// "quotas" (default), "rate_limits" or "none").
	RateLimitHeaders HeaderMode
	// IETFHeaders adds RateLimit-Policy and RateLimit (ietf_rate_limit_headers).
	IETFHeaders bool
	// StripCredential removes the key from the upstream request for every API
	// (strip_credential); an API's strip_auth_data does it for that API.
	StripCredential bool
	// IdentityHeaders adds X-Turnpike-Key-Hash, X-Turnpike-Alias and
	// X-Turnpike-Policies to upstream requests (identity_headers).
	IdentityHeaders bool
	// APIIDHeader sets x-turnpike-api-id to the API a request matched (and
	// removes a client's copy), for hosts that route on it (api_id_header,
	// default true). Off, the filter leaves the header alone: one host call
	// per request fewer, and in Envoy no route re-selection, which every
	// change of a request header triggers.
	APIIDHeader bool
	// HeadersStopIteration says the host keeps delivering the body while
	// the headers are paused (Envoy's allow_on_headers_stop_iteration:
	// true; allow_on_headers_stop_iteration here). The filter then holds
	// the headers of a request to an OAuth endpoint until it has answered
	// it; without it they go on (credentials removed) while the filter
	// holds the body and answers before the body is sent.
	HeadersStopIteration bool
	// Analytics records each decided request and ships the records to the
	// sidecar (analytics.*; off by default).
	Analytics Analytics
	// APIs are static API definitions (apis), used alongside those of the
	// sidecar's snapshot; the snapshot wins for the same api_id.
	APIs []*model.APIDefinition
	// EnforceOrgQuotas enforces organisation rate limits and quotas
	// (enforce_org_quotas, true or false; absent: as the sidecar's
	// --enforce-org-quotas says).
	EnforceOrgQuotas Switch
	// LeaseCoverMS sizes quota leases: a lease covers this long of the
	// proxy's recent traffic (quota_lease.cover_ms, default 2000; 0 = no
	// leases, one sidecar call per request with a quota).
	LeaseCoverMS int64
	// LeaseTTLMS is how long a lease may go without a grant or a spend
	// before its unspent units go back (quota_lease.ttl_ms, default 3000).
	LeaseTTLMS int64
	// LeaseMaxUnits bounds one lease (quota_lease.max_units, default 10000).
	LeaseMaxUnits int64
	// ResponseCache bounds the response cache of APIs with
	// cache_options.enable_cache (response_cache).
	ResponseCache ResponseCache
	// Batch configures batch requests (enable_batch_request_support).
	Batch Batch
	// BodyTransform bounds the body transforms (extended_paths.transform
	// and transform_response).
	BodyTransform BodyTransform
}

// BodyTransform bounds the bodies the filter buffers to transform
// (body_transform).
type BodyTransform struct {
	// MaxBodyBytes is the largest body transformed; a larger one passes
	// untransformed (body_transform.max_body_bytes, default 256 KiB: a
	// transform takes several times its body in linear memory, which never
	// shrinks; 1 MiB bodies measured 36.5 MiB per VM, 256 KiB 19.5 MiB).
	MaxBodyBytes int64
}

// Batch configures batch requests (batch).
type Batch struct {
	// UpstreamClusters names, per api_id, the proxy cluster that reaches
	// the API's upstream (batch.upstream_clusters); an API without one
	// answers its batch requests with 500.
	UpstreamClusters map[string]string
	// MaxRequests bounds the sub-requests of one batch (batch.max_requests,
	// default 20).
	MaxRequests int
	// MaxBodyBytes bounds a batch request's body (batch.max_body_bytes,
	// default 1 MiB).
	MaxBodyBytes int64
	// TimeoutMS bounds each sub-request's upstream call
	// (batch.timeout_ms, default 30000).
	TimeoutMS uint32
}

// ResponseCache bounds the response cache in shared data, per proxy.
type ResponseCache struct {
	// MaxBytes is the most the cached responses may hold in total
	// (response_cache.max_bytes, default 16 MiB).
	MaxBytes int64
	// MaxEntryBytes is the largest response cached; a larger one passes
	// uncached (response_cache.max_entry_bytes, default 1 MiB).
	MaxEntryBytes int64
	// Slots is the number of entries (response_cache.slots, default 4096):
	// a new entry replaces the one in its slot.
	Slots uint32
}

// Analytics configures request records (filter/README.md#analytics).
type Analytics struct {
	// Enabled records every request decided for an API, as Tyk's
	// enable_analytics (analytics.enabled, default false).
	Enabled bool
	// MaxRecords bounds the records a VM holds between two ticks
	// (analytics.max_records, default 2000); more are dropped and counted.
	MaxRecords int
	// MaxBytes bounds their encoded size (analytics.max_bytes, default
	// 1048576: 2000 records of about 350 bytes fit, so max_records binds
	// first; the sidecar accepts batches up to 16 MiB).
	MaxBytes int
}

// Default returns the configuration an empty JSON object yields, minus the
// required token.
func Default() Config {
	return Config{
		Cluster:              "turnpike-sidecar",
		APIIDHeader:          true,
		LookupTimeoutMS:      1000,
		SyncTimeoutMS:        2000,
		SyncIntervalMS:       250,
		RefreshMinIntervalMS: 100,
		CacheSize:            10000,
		CacheMaxBytes:        4 << 20,
		SharedSlots:          1 << 17,
		CacheTTLMS:           60000,
		NegativeTTLMS:        2000,
		MaxStaleMS:           300000,
		QuotaExceededStatus:  403,
		LeaseCoverMS:         2000,
		LeaseTTLMS:           3000,
		LeaseMaxUnits:        10000,
		ResponseCache:        ResponseCache{MaxBytes: 16 << 20, MaxEntryBytes: 1 << 20, Slots: 4096},
		BodyTransform:        BodyTransform{MaxBodyBytes: 256 << 10},
		Batch:                Batch{MaxRequests: 20, MaxBodyBytes: 1 << 20, TimeoutMS: 30000},
		Analytics:            Analytics{MaxRecords: 2000, MaxBytes: 1 << 20},
	}
}

// Error is a configuration error for one field.
type Error struct {
	Field string // dotted JSON path, e.g. "sidecar.timeout_ms"
	Msg   string
}

func (e *Error) Error() string { return "config: " + e.Field + ": " + e.Msg }

// Parse parses the plugin configuration. Empty input is an error, because
// the sidecar token has no safe default.
func Parse(data []byte) (Config, error) {
	c := Default()
	if len(data) == 0 {
		return c, &Error{"sidecar.token", "required (the configuration is empty)"}
	}
	var p fastjson.Parser
	root, err := p.ParseBytes(data)
	if err != nil {
		return c, &Error{"(root)", "invalid JSON: " + err.Error()}
	}
	obj, err := root.Object()
	if err != nil {
		return c, &Error{"(root)", "must be a JSON object"}
	}
	d := decoder{}
	obj.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "sidecar":
			d.object("sidecar", v, func(k string, v *fastjson.Value) {
				switch k {
				case "cluster":
					c.Cluster = d.str("sidecar.cluster", v, true)
				case "authority":
					c.Authority = d.str("sidecar.authority", v, true)
				case "token":
					c.Token = d.str("sidecar.token", v, true)
				case "timeout_ms":
					c.LookupTimeoutMS = uint32(d.num("sidecar.timeout_ms", v, 1, 60000))
				case "sync_timeout_ms":
					c.SyncTimeoutMS = uint32(d.num("sidecar.sync_timeout_ms", v, 1, 60000))
				default:
					d.unknown("sidecar." + k)
				}
			})
		case "sync_interval_ms":
			c.SyncIntervalMS = uint32(d.num("sync_interval_ms", v, 10, 60000))
		case "refresh_min_interval_ms":
			c.RefreshMinIntervalMS = uint32(d.num("refresh_min_interval_ms", v, 0, 60000))
		case "session_cache":
			d.object("session_cache", v, func(k string, v *fastjson.Value) {
				switch k {
				case "size":
					c.CacheSize = int(d.num("session_cache.size", v, 1, 10_000_000))
				case "ttl_ms":
					c.CacheTTLMS = d.num("session_cache.ttl_ms", v, 1, 86_400_000)
				case "max_bytes":
					c.CacheMaxBytes = int(d.num("session_cache.max_bytes", v, 64<<10, 1<<30))
				case "shared_slots":
					c.SharedSlots = uint32(d.num("session_cache.shared_slots", v, 1, 1<<22))
				default:
					d.unknown("session_cache." + k)
				}
			})
		case "negative_cache_ttl_ms":
			c.NegativeTTLMS = d.num("negative_cache_ttl_ms", v, 0, 3_600_000)
		case "max_stale_ms":
			c.MaxStaleMS = d.num("max_stale_ms", v, 0, 86_400_000)
		case "failure_mode":
			d.object("failure_mode", v, func(k string, v *fastjson.Value) {
				switch k {
				case "quota":
					switch d.str("failure_mode.quota", v, true) {
					case "closed":
						c.QuotaFailure = Closed
					case "open":
						c.QuotaFailure = Open
					default:
						d.fail("failure_mode.quota", `must be "closed" or "open"`)
					}
				default:
					d.unknown("failure_mode." + k)
				}
			})
		case "unmatched":
			switch d.str("unmatched", v, true) {
			case "pass":
				c.RejectUnmatched = false
			case "reject":
				c.RejectUnmatched = true
			default:
				d.fail("unmatched", `must be "pass" or "reject"`)
			}
		case "quota_exceeded_status":
			n := d.num("quota_exceeded_status", v, 403, 429)
			if n != 403 && n != 429 {
				d.fail("quota_exceeded_status", "must be 403 or 429")
			}
			c.QuotaExceededStatus = uint32(n)
		case "rate_limit_headers":
			switch d.str("rate_limit_headers", v, true) {
			case "quotas":
				c.RateLimitHeaders = HeadersQuotas
			case "rate_limits":
				c.RateLimitHeaders = HeadersRateLimits
			case "none":
				c.RateLimitHeaders = HeadersNone
			default:
				d.fail("rate_limit_headers", `must be "quotas", "rate_limits" or "none"`)
			}
		case "ietf_rate_limit_headers":
			c.IETFHeaders = d.boolean("ietf_rate_limit_headers", v)
		case "strip_credential":
			c.StripCredential = d.boolean("strip_credential", v)
		case "identity_headers":
			c.IdentityHeaders = d.boolean("identity_headers", v)
		case "api_id_header":
			c.APIIDHeader = d.boolean("api_id_header", v)
		case "allow_on_headers_stop_iteration":
			c.HeadersStopIteration = d.boolean("allow_on_headers_stop_iteration", v)
		case "analytics":
			d.object("analytics", v, func(k string, v *fastjson.Value) {
				switch k {
				case "enabled":
					c.Analytics.Enabled = d.boolean("analytics.enabled", v)
				case "max_records":
					c.Analytics.MaxRecords = int(d.num("analytics.max_records", v, 1, wire.MaxAnalyticsRecords))
				case "max_bytes":
					c.Analytics.MaxBytes = int(d.num("analytics.max_bytes", v, 1024, 16<<20))
				default:
					d.unknown("analytics." + k)
				}
			})
		case "apis":
			c.APIs = d.apis(v)
		case "enforce_org_quotas":
			c.EnforceOrgQuotas = Off
			if d.boolean("enforce_org_quotas", v) {
				c.EnforceOrgQuotas = On
			}
		case "quota_lease":
			d.object("quota_lease", v, func(k string, v *fastjson.Value) {
				switch k {
				case "cover_ms":
					c.LeaseCoverMS = d.num("quota_lease.cover_ms", v, 0, 60000)
				case "ttl_ms":
					c.LeaseTTLMS = d.num("quota_lease.ttl_ms", v, 100, 600000)
				case "max_units":
					c.LeaseMaxUnits = d.num("quota_lease.max_units", v, 1, 10000)
				default:
					d.unknown("quota_lease." + k)
				}
			})
		case "batch":
			d.object("batch", v, func(k string, v *fastjson.Value) {
				switch k {
				case "upstream_clusters":
					c.Batch.UpstreamClusters = map[string]string{}
					d.object("batch.upstream_clusters", v, func(id string, v *fastjson.Value) {
						c.Batch.UpstreamClusters[id] = d.str("batch.upstream_clusters."+id, v, true)
					})
				case "max_requests":
					c.Batch.MaxRequests = int(d.num("batch.max_requests", v, 1, 1000))
				case "max_body_bytes":
					c.Batch.MaxBodyBytes = d.num("batch.max_body_bytes", v, 1, 64<<20)
				case "timeout_ms":
					c.Batch.TimeoutMS = uint32(d.num("batch.timeout_ms", v, 1, 600000))
				default:
					d.unknown("batch." + k)
				}
			})
		case "body_transform":
			d.object("body_transform", v, func(k string, v *fastjson.Value) {
				if k != "max_body_bytes" {
					d.unknown("body_transform." + k)
					return
				}
				c.BodyTransform.MaxBodyBytes = d.num("body_transform.max_body_bytes", v, 0, 64<<20)
			})
		case "response_cache":
			d.object("response_cache", v, func(k string, v *fastjson.Value) {
				switch k {
				case "max_bytes":
					c.ResponseCache.MaxBytes = d.num("response_cache.max_bytes", v, 0, 1<<34)
				case "max_entry_bytes":
					c.ResponseCache.MaxEntryBytes = d.num("response_cache.max_entry_bytes", v, 1, 64<<20)
				case "slots":
					c.ResponseCache.Slots = uint32(d.num("response_cache.slots", v, 1, 1<<20))
				default:
					d.unknown("response_cache." + k)
				}
			})
		default:
			d.unknown(string(k))
		}
	})
	if d.err != nil {
		return c, d.err
	}
	if c.Token == "" {
		return c, &Error{"sidecar.token", "required"}
	}
	if c.Authority == "" {
		c.Authority = c.Cluster
	}
	return c, nil
}

// decoder records the first error; later fields are still visited but
// cannot overwrite it, so the reported field is the first bad one in input
// order.
type decoder struct{ err error }

func (d *decoder) fail(field, msg string) {
	if d.err == nil {
		d.err = &Error{field, msg}
	}
}

// unknown rejects unknown fields: a misspelt "sync_intervall_ms" silently
// falling back to a default is worse than a refused configuration.
func (d *decoder) unknown(field string) { d.fail(field, "unknown field") }

func (d *decoder) object(field string, v *fastjson.Value, f func(string, *fastjson.Value)) {
	o, err := v.Object()
	if err != nil {
		d.fail(field, "must be an object")
		return
	}
	o.Visit(func(k []byte, v *fastjson.Value) { f(string(k), v) })
}

func (d *decoder) str(field string, v *fastjson.Value, nonEmpty bool) string {
	b, err := v.StringBytes()
	if err != nil {
		d.fail(field, "must be a string")
		return ""
	}
	if nonEmpty && len(b) == 0 {
		d.fail(field, "must not be empty")
	}
	return string(b)
}

func (d *decoder) boolean(field string, v *fastjson.Value) bool {
	b, err := v.Bool()
	if err != nil {
		d.fail(field, "must be true or false")
	}
	return b
}

// num reads an integer in [lo, hi].
func (d *decoder) num(field string, v *fastjson.Value, lo, hi int64) int64 {
	n, err := v.Int64()
	if err != nil {
		d.fail(field, "must be an integer")
		return 0
	}
	if n < lo || n > hi {
		d.fail(field, "must be between "+strconv.FormatInt(lo, 10)+" and "+strconv.FormatInt(hi, 10))
		return 0
	}
	return n
}

func (d *decoder) apis(v *fastjson.Value) []*model.APIDefinition {
	arr, err := v.Array()
	if err != nil {
		d.fail("apis", "must be an array of API definitions")
		return nil
	}
	out := make([]*model.APIDefinition, 0, len(arr))
	seen := make(map[string]bool, len(arr))
	for i, a := range arr {
		field := "apis[" + strconv.Itoa(i) + "]"
		def, err := model.APIDefinitionFromValue(a)
		if err != nil {
			d.fail(field, err.Error())
			return nil
		}
		if def.APIID == "" {
			d.fail(field+".api_id", "required")
			return nil
		}
		if seen[def.APIID] {
			d.fail(field+".api_id", "duplicate "+strconv.Quote(def.APIID))
			return nil
		}
		seen[def.APIID] = true
		out = append(out, def)
	}
	return out
}
