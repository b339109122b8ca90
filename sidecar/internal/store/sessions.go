package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// QuotaKey is the Redis key of a quota counter: quota-<id> or
// quota-<scope>-<id> (Tyk layout), where id is a key hash or an org id.
func QuotaKey(scope, id string) string {
	if scope == "" {
		return quotaPrefix + id
	}
	return quotaPrefix + scope + "-" + id
}

// Session returns the stored session JSON of a key hash, and the change feed
// cursor read before it: a change recorded after the cursor may be newer than
// the returned data, one recorded at or before it is not.
func (s *Store) Session(ctx context.Context, hash string) (data []byte, cursor string, err error) {
	cmds, err := s.ordered(ctx,
		func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.XRevRangeN(ctx, changesKey, "+", "-", 1)
		},
		func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.Get(ctx, sessionPrefix+hash) },
	)
	if err != nil {
		return nil, "", err
	}
	if msgs := cmds[0].(*redis.XMessageSliceCmd).Val(); len(msgs) > 0 {
		cursor = msgs[0].ID
	} else {
		cursor = emptyCursor
	}
	data, err = cmds[1].(*redis.StringCmd).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, cursor, ErrNotFound
	}
	return data, cursor, err
}

// PutSession stores a session under its key hash, deletes the given quota
// counters (a quota reset) and records the change, all in one transaction.
// ttl <= 0 stores the session without expiry.
func (s *Store) PutSession(ctx context.Context, hash string, data []byte, ttl time.Duration, resetCounters []string) error {
	set := func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		// Clamped because go-redis reads -1 as KEEPTTL, which would keep an
		// old expiry on a session that should now have none.
		return c.Set(ctx, sessionPrefix+hash, data, max(ttl, 0))
	}
	_, err := s.write(ctx, sessionPrefix+hash, []step{set},
		append(delCommands(resetCounters), feedCommand("h", hash))...)
	return err
}

// DeleteSession removes a session and its quota counters and records the
// change. It reports whether the session existed.
func (s *Store) DeleteSession(ctx context.Context, hash string, counters []string) (bool, error) {
	del := func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.Del(ctx, sessionPrefix+hash) }
	cmds, err := s.write(ctx, sessionPrefix+hash, []step{del}, append(delCommands(counters), feedCommand("h", hash))...)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() > 0, nil
}

// SessionHashes lists the hashes of all stored sessions.
func (s *Store) SessionHashes(ctx context.Context) ([]string, error) {
	keys, err := s.scan(ctx, sessionPrefix+"*")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, strings.TrimPrefix(k, sessionPrefix))
	}
	return out, nil
}

// CreateSession stores a session under its key hash unless one is stored
// there already (SET NX), and records the change. It reports whether it
// stored it. ttl <= 0 stores the session without expiry.
func (s *Store) CreateSession(ctx context.Context, hash string, data []byte, ttl time.Duration) (bool, error) {
	setNX := func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.SetNX(ctx, sessionPrefix+hash, data, max(ttl, 0))
	}
	cmds, err := s.write(ctx, sessionPrefix+hash, []step{setNX}, feedCommand("h", hash))
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.BoolCmd).Val(), nil
}
