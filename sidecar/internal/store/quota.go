package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/quota"
)

// reserveScript is shared/quota.Reserve run inside Redis, so that check and
// increment are one atomic step for every sidecar replica and gateway.
//
// The counter is Tyk's: an integer at quota-[<scope>-]<id> that expires when
// the window ends (EXPIREAT window end). No key means no open window. The
// clock is Redis's own (TIME), so replicas with skewed clocks agree; Redis 7
// replicates scripts by effects, so TIME inside a script is safe.
//
// A lease (ARGV[4] = 1) is a reservation that may be cut to
// shared/quota.LeaseUnits of what remains; the filter spends its units
// locally and gives back what it did not spend (releaseScript).
//
// KEYS[1] counter; ARGV quota_max, renewal_rate, units, lease (0 or 1).
// Returns {granted, remaining, window_end, window_ms}; remaining -1 =
// unlimited; window_ms = milliseconds left in the window (0 = never ends).
var reserveScript = redis.NewScript(`
local qmax = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local lease = ARGV[4] == '1'
if qmax <= 0 then
  return {math.max(units, 0), -1, 0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1])
local nowms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local pttl = redis.call('PTTL', KEYS[1])
local wend = 0
if rate > 0 then
  if pttl > 0 then
    -- EXPIREAT was set in whole seconds; round away the ms drift.
    wend = math.floor((nowms + pttl + 500) / 1000)
  else
    -- no counter, or one without expiry (left by a never-renewing
    -- configuration, or by Tyk): no window is open.
    used = 0
  end
elseif pttl > 0 then
  -- never renews now: keep the count, drop the old window's expiry.
  redis.call('PERSIST', KEYS[1])
end
if units <= 0 then
  return {0, math.max(qmax - used, 0), wend, math.max(pttl, 0)}
end
local left = math.max(qmax - used, 0)
if lease and left > 0 then
  -- shared/quota.LeaseUnits
  units = math.min(units, math.max(math.floor(left / ` + leaseShare + `), 1))
end
local granted = math.min(units, left)
local wms = 0
if rate > 0 and pttl > 0 then
  wms = pttl
end
if granted > 0 then
  if rate > 0 and wend == 0 then
    wend = now + rate
    wms = wend * 1000 - nowms
    redis.call('SET', KEYS[1], granted)
    redis.call('EXPIREAT', KEYS[1], wend)
  else
    redis.call('INCRBY', KEYS[1], granted)
  end
end
return {granted, math.max(qmax - used - granted, 0), wend, wms}
`)

var leaseShare = strconv.Itoa(quota.LeaseShare)

// releaseScript gives back units of a lease: it decrements the counter,
// but only while the window the units were granted in is still the
// counter's (window end = ARGV[2]) and never below zero. Units of a window
// that ended, or of a counter that was reset or deleted since, count
// nowhere any more and are dropped.
//
// KEYS[1] counter; ARGV units, window_id. Returns the units given back.
var releaseScript = redis.NewScript(`
local units = tonumber(ARGV[1])
local wid = tonumber(ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 or units <= 0 then
  return 0
end
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if math.floor((nowms + pttl + 500) / 1000) ~= wid then
  return 0
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local n = math.min(units, used)
if n > 0 then
  redis.call('DECRBY', KEYS[1], n)
end
return n
`)

// Reserve takes up to units of quota from the counter at key, atomically.
// The rules are shared/quota.Reserve's.
func (s *Store) Reserve(ctx context.Context, key string, quotaMax, renewalRate, units int64) (quota.Result, error) {
	g, err := s.reserve(ctx, key, quotaMax, renewalRate, units, false)
	return g.Result, err
}

// Grant is the outcome of a lease: a reservation, and how long its window
// still ran (milliseconds, Redis's clock; 0 = it never ends).
type Grant struct {
	quota.Result
	WindowMS int64
}

// Lease takes up to units of quota at key as a lease: what Reserve does,
// but cut to shared/quota.LeaseUnits of what remains. One script run.
func (s *Store) Lease(ctx context.Context, key string, quotaMax, renewalRate, units int64) (Grant, error) {
	return s.reserve(ctx, key, quotaMax, renewalRate, units, true)
}

func (s *Store) reserve(ctx context.Context, key string, quotaMax, renewalRate, units int64, lease bool) (Grant, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	flag := 0
	if lease {
		flag = 1
	}
	v, err := reserveScript.Run(ctx, s.c, []string{key}, quotaMax, renewalRate, units, flag).Int64Slice()
	if err != nil {
		return Grant{}, err
	}
	if len(v) != 4 {
		return Grant{}, fmt.Errorf("quota script returned %d values, want 4", len(v))
	}
	return Grant{Result: quota.Result{Granted: v[0], Remaining: v[1], ResetAt: v[2]}, WindowMS: v[3]}, nil
}

// Release gives back units of a lease granted in the window that ends at
// windowID (unix seconds) and returns how many were given back: none once
// that window ended or the counter was reset. One script run.
func (s *Store) Release(ctx context.Context, key string, windowID, units int64) (int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return releaseScript.Run(ctx, s.c, []string{key}, units, windowID).Int64()
}

// Counters reads quota counters without changing them (for GET key's
// quota_remaining). now is the caller's clock, unix seconds.
func (s *Store) Counters(ctx context.Context, now int64, keys ...string) ([]quota.State, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	cmds, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
			p.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]quota.State, len(keys))
	for i := range keys {
		used, err := cmds[2*i].(*redis.StringCmd).Int64()
		if err != nil {
			continue // missing or not a counter: an unused quota
		}
		out[i].Used = used
		if ttl := cmds[2*i+1].(*redis.DurationCmd).Val(); ttl > 0 {
			out[i].WindowEnd = now + int64((ttl.Milliseconds()+500)/1000)
		}
	}
	return out, nil
}
