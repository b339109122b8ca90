package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Dial builds a client for a --redis URL. It does not connect: go-redis dials
// lazily, and the caller decides how to wait for the server (see app).
//
// Every socket read and write gives up after timeout (--redis-timeout)
// unless the URL sets read_timeout/write_timeout. go-redis does not stop a
// read when the operation's context expires (only with
// ContextTimeoutEnabled, which would also cut connection set-up short under
// load), so with its default 5 s read timeout, retried, a slow Redis held
// requests for 10 s (tests/fault); now a command fails after timeout, and
// the retry stops at the operation's deadline.
//
// Forms (query parameters are go-redis options such as dial_timeout,
// pool_size, db):
//
//	redis://[user:pass@]host:port[/db]          standalone
//	rediss://...                                 standalone over TLS
//	unix:///path/redis.sock[?db=N]               standalone over a socket
//	redis+sentinel://[user:pass@]s1:26379[/db]?master_name=NAME[&addr=s2:26379]
//	rediss+sentinel://...                        Sentinel-managed master over TLS
//	redis+cluster://[user:pass@]n1:6379[?addr=n2:6379]
//	rediss+cluster://...                         Redis Cluster over TLS
//
// For Sentinel, user:pass in the URL authenticate against the sentinels;
// the master's credentials go in the username= and password= parameters.
func Dial(rawURL string, timeout time.Duration) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid --redis URL: %v", redactErr(err, rawURL))
	}
	base, mode, _ := strings.Cut(u.Scheme, "+")
	// go-redis parses only redis:// and rediss://; the +sentinel/+cluster
	// suffix is ours, so strip it before handing the URL over.
	u.Scheme = base
	plain := u.String()
	fail := func(err error) (redis.UniversalClient, error) {
		return nil, fmt.Errorf("invalid --redis URL %s: %v", Redact(rawURL), redactErr(err, plain))
	}
	switch {
	case mode == "" && (base == "redis" || base == "rediss" || base == "unix"):
		o, err := redis.ParseURL(plain)
		if err != nil {
			return fail(err)
		}
		o.DialTimeout = timeout
		o.ReadTimeout, o.WriteTimeout = orTimeout(o.ReadTimeout, timeout), orTimeout(o.WriteTimeout, timeout)
		return redis.NewClient(o), nil
	case mode == "sentinel" && (base == "redis" || base == "rediss"):
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return fail(err)
		}
		if o.MasterName == "" {
			return fail(fmt.Errorf("a Sentinel URL needs ?master_name=NAME"))
		}
		o.DialTimeout = timeout
		o.ReadTimeout, o.WriteTimeout = orTimeout(o.ReadTimeout, timeout), orTimeout(o.WriteTimeout, timeout)
		return redis.NewFailoverClient(o), nil
	case mode == "cluster" && (base == "redis" || base == "rediss"):
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return fail(err)
		}
		o.DialTimeout = timeout
		o.ReadTimeout, o.WriteTimeout = orTimeout(o.ReadTimeout, timeout), orTimeout(o.WriteTimeout, timeout)
		if o.ClusterStateReloadInterval == 0 || o.ClusterStateReloadInterval > clusterStateRefresh {
			o.ClusterStateReloadInterval = clusterStateRefresh
		}
		return followFailovers(redis.NewClusterClient(o)), nil
	default:
		return nil, fmt.Errorf("invalid --redis URL %s: unsupported scheme %q (use redis://, rediss://, unix://, "+
			"redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://)", Redact(rawURL), u.Scheme)
	}
}

// orTimeout is set, or timeout when set is 0 (not given in the URL).
func orTimeout(set, timeout time.Duration) time.Duration {
	if set != 0 {
		return set
	}
	return timeout
}

// Embedded starts an in-memory Redis (miniredis) on a loopback port and
// returns a client for it. Everything is lost when the process exits.
func Embedded(timeout time.Duration) (redis.UniversalClient, *miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	// Without ClockTTL miniredis never expires keys on its own, and quota
	// windows would never end.
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("start embedded redis: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), DialTimeout: timeout})
	return c, m, nil
}

// Redact hides the password of a Redis URL so it can be logged.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// redactErr strips the URL (which may carry a password) out of a parse error.
func redactErr(err error, rawURL string) string {
	msg := err.Error()
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, Redact(rawURL))
	}
	return msg
}

// clusterStateRefresh is how old the slot map may get before a command
// refreshes it in the background, failures or not (go-redis: 60 s).
const clusterStateRefresh = 5 * time.Second

// followFailovers makes a cluster client follow a failover as soon as
// Redis has made it. go-redis refreshes its slot map on MOVED and ASK and
// otherwise only once a minute; a killed master answers neither, so until
// that refresh every command for its slots dials the dead address (46-55 s
// of failures measured after the replica was promoted). Here every network
// error of a node asks for a refresh: go-redis's ReloadState runs one
// CLUSTER SLOTS at a time, at most once per 200 ms, so a dead node costs
// at most five refreshes a second, however many commands fail. The first
// refresh after the promotion routes the slots to the new master.
func followFailovers(c *redis.ClusterClient) *redis.ClusterClient {
	h := reloadOnNetworkError{c: c}
	// Node clients, so that a command's own retries already use the new map.
	c.OnNewNode(func(n *redis.Client) { n.AddHook(h) })
	return c
}

// reloadOnNetworkError is a go-redis hook that refreshes the cluster's slot
// map when a node cannot be reached.
type reloadOnNetworkError struct{ c *redis.ClusterClient }

func (h reloadOnNetworkError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetworkError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnNetworkError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

func (h reloadOnNetworkError) check(err error) {
	if networkError(err) {
		h.c.ReloadState(context.Background())
	}
}

// networkError reports whether err means the node could not be reached or
// did not answer (refused, reset, timed out), as opposed to an answer from
// Redis (nil, a command error, MOVED/ASK, which go-redis handles) or the
// caller giving up.
func networkError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var reply redis.Error
	return !errors.As(err, &reply)
}
