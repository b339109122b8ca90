package store

import (
	"context"
	"errors"
	"fmt"

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
// KEYS[1] counter; ARGV quota_max, renewal_rate, units.
// Returns {granted, remaining, window_end}; remaining -1 = unlimited.
var reserveScript = redis.NewScript(`
local qmax = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
if qmax <= 0 then
  return {math.max(units, 0), -1, 0}
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
  return {0, math.max(qmax - used, 0), wend}
end
local granted = math.min(units, math.max(qmax - used, 0))
if granted > 0 then
  if rate > 0 and wend == 0 then
    wend = now + rate
    redis.call('SET', KEYS[1], granted)
    redis.call('EXPIREAT', KEYS[1], wend)
  else
    redis.call('INCRBY', KEYS[1], granted)
  end
end
return {granted, math.max(qmax - used - granted, 0), wend}
`)

// Reserve takes up to units of quota from the counter at key, atomically.
// The rules are shared/quota.Reserve's.
func (s *Store) Reserve(ctx context.Context, key string, quotaMax, renewalRate, units int64) (quota.Result, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	v, err := reserveScript.Run(ctx, s.c, []string{key}, quotaMax, renewalRate, units).Int64Slice()
	if err != nil {
		return quota.Result{}, err
	}
	if len(v) != 3 {
		return quota.Result{}, fmt.Errorf("quota script returned %d values, want 3", len(v))
	}
	return quota.Result{Granted: v[0], Remaining: v[1], ResetAt: v[2]}, nil
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
