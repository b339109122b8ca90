package store

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The filters' response cache lives in each proxy's shared data, keyed
// with the API's cache generation. DELETE /tyk/cache/{apiID} bumps that
// generation here and the config version with it, so every replica's next
// snapshot carries the new generation and every filter stops serving the
// old entries at its next sync poll.

// InvalidateCache bumps the response cache generation of an API.
func (s *Store) InvalidateCache(ctx context.Context, apiID string) error {
	incr := func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.HIncrBy(ctx, cacheGenKey, apiID, 1) }
	_, err := s.write(ctx, cacheGenKey, []step{incr}, bumpCommand)
	return err
}

// CacheGenerations returns every API's response cache generation (APIs
// never invalidated are absent: generation 0).
func (s *Store) CacheGenerations(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	m, err := s.c.HGetAll(ctx, cacheGenKey).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for id, v := range m {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[id] = n
		}
	}
	return out, nil
}
