package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Which config version each filter VM holds, for /tyk/reload?block=true.
// Every filter sync poll that names its VM (vm=ID) records
// "<Redis ms time> <version>" in one hash, so every sidecar replica sees the
// polls made to any of them. An entry older than FilterTTL is ignored; the
// hash expires FilterTTL after the last poll, and holds at most MaxFilters
// VMs (stale entries are dropped when it is full; past that, new VMs are not
// tracked).
const (
	filtersKey = "turnpike-filters"
	// FilterTTL is how long a poll counts as recent: a dozen polls at the
	// filter's default 250 ms interval, three at a 1 s one.
	FilterTTL = 3 * time.Second
	// MaxFilters bounds the tracked VMs.
	MaxFilters = 10000
)

// filterPollScript records one poll. The clock is Redis's (TIME), so
// replicas with skewed clocks agree.
//
// KEYS[1] hash; ARGV vm, version, ttl ms, max entries. Returns 1 if tracked.
var filterPollScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, max = tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= max then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local seen = tonumber(string.match(all[i + 1], '^%d+'))
    if not seen or seen < now - ttl then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
  if redis.call('HLEN', KEYS[1]) >= max then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], now .. ' ' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// FilterPolled records that filter VM vm polled holding config version
// version; ttl is FilterTTL and max MaxFilters but in tests. It reports
// whether the VM is tracked (false when max recent VMs already are).
func (s *Store) FilterPolled(ctx context.Context, vm, version string, ttl time.Duration, max int) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := filterPollScript.Run(ctx, s.c, []string{filtersKey}, vm, version, ttl.Milliseconds(), max).Int()
	return n == 1, err
}

// Filters returns the config version of every filter VM that polled within
// ttl (FilterTTL but in tests), by VM id.
func (s *Store) Filters(ctx context.Context, ttl time.Duration) (map[string]string, error) {
	polls, err := s.FilterPolls(ctx, ttl)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(polls))
	for vm, p := range polls {
		out[vm] = p.Version
	}
	return out, nil
}

// FilterPoll is a filter VM's last poll: the config version it holds and
// when it polled (unix ms, Redis's clock).
type FilterPoll struct {
	Version string
	Seen    int64
}

// FilterPolls returns, by VM id, the config version and poll time of every
// filter VM that polled within ttl (the console's status page; Filters).
func (s *Store) FilterPolls(ctx context.Context, ttl time.Duration) (map[string]FilterPoll, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var now *redis.TimeCmd
	var all *redis.MapStringStringCmd
	// Not a MULTI: on Redis Cluster TIME has no slot. The reply is the same.
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		now = p.Time(ctx)
		all = p.HGetAll(ctx, filtersKey)
		return nil
	})
	if err != nil {
		return nil, err
	}
	oldest := now.Val().Add(-ttl).UnixMilli()
	out := make(map[string]FilterPoll, len(all.Val()))
	for vm, v := range all.Val() {
		ms, version, _ := strings.Cut(v, " ")
		if seen, err := strconv.ParseInt(ms, 10, 64); err == nil && seen >= oldest {
			out[vm] = FilterPoll{Version: version, Seen: seen}
		}
	}
	return out, nil
}
