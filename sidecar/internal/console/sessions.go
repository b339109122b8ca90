package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Console sessions live in Redis, so that every replica behind a load
// balancer accepts a session made on any other, a restart logs no one out,
// and a logout ends the session everywhere at once.
//
// One string per session: sessionKeyPrefix + hex SHA-256 of the session id
// → the session's CSRF token, with the idle lifetime as its TTL (extended
// on every use). The id itself (the cookie's value) is never stored: reading
// Redis yields no usable cookie, and a CSRF token alone grants nothing.
const sessionKeyPrefix = "turnpike-console-session:"

// errNoStore wraps a Redis failure: the console answers 503, not 401, so
// the page does not send the operator back to the login form.
var errNoStore = errors.New("console session store unavailable")

type sessions struct {
	c       redis.UniversalClient
	ttl     time.Duration
	timeout time.Duration
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return sessionKeyPrefix + hex.EncodeToString(sum[:])
}

// create stores a new session.
func (s *sessions) create(ctx context.Context, id, csrf string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Set(ctx, sessionKey(id), csrf, s.ttl).Err(); err != nil {
		return errors.Join(errNoStore, err)
	}
	return nil
}

// lookup returns the session's CSRF token and extends its lifetime; ""
// (and no error) when there is no such session. GET and PEXPIRE go in one
// round trip; PEXPIRE on a key deleted meanwhile (a logout on another
// replica) does nothing, so a lookup never brings a session back.
func (s *sessions) lookup(ctx context.Context, id string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	key := sessionKey(id)
	var get *redis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		p.PExpire(ctx, key, s.ttl)
		return nil
	})
	switch csrf, gerr := get.Result(); {
	case errors.Is(gerr, redis.Nil):
		return "", nil
	case gerr != nil:
		return "", errors.Join(errNoStore, gerr)
	case err != nil:
		return "", errors.Join(errNoStore, err)
	default:
		return csrf, nil
	}
}

// remove ends the session on every replica.
func (s *sessions) remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Del(ctx, sessionKey(id)).Err(); err != nil {
		return errors.Join(errNoStore, err)
	}
	return nil
}
