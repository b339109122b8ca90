package store

import (
	"context"
	"errors"
	"sort"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Policies, API definitions and org sessions form the "config": every write
// of them increments turnpike-config-version, which every replica polls to
// know when to reload its snapshot.

// Kind selects one of the config hashes.
type Kind int

// The config kinds stored in Redis hashes.
const (
	Policies Kind = iota
	APIs
)

func (k Kind) key() string {
	if k == APIs {
		return apisKey
	}
	return policiesKey
}

// ConfigVersion is the shared config version counter (0 before any write).
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	v, err := s.c.Get(ctx, configVersion).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// BumpConfigVersion makes every replica reload its snapshot.
func (s *Store) BumpConfigVersion(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.Incr(ctx, configVersion).Err()
}

// All returns every object of a kind, id -> JSON.
func (s *Store) All(ctx context.Context, k Kind) (map[string][]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	m, err := s.c.HGetAll(ctx, k.key()).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m))
	for id, v := range m {
		out[id] = []byte(v)
	}
	return out, nil
}

// Get returns one object of a kind.
func (s *Store) Get(ctx context.Context, k Kind, id string) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	b, err := s.c.HGet(ctx, k.key(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// Put stores one object and bumps the config version. It reports whether
// the object is new.
func (s *Store) Put(ctx context.Context, k Kind, id string, data []byte) (created bool, err error) {
	hset := func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.HSet(ctx, k.key(), id, data) }
	cmds, err := s.write(ctx, k.key(), []step{hset}, bumpCommand)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() == 1, nil
}

// Delete removes one object and bumps the config version. It reports
// whether the object existed.
func (s *Store) Delete(ctx context.Context, k Kind, id string) (bool, error) {
	hdel := func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.HDel(ctx, k.key(), id) }
	cmds, err := s.write(ctx, k.key(), []step{hdel}, bumpCommand)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() > 0, nil
}

// Org returns an org session's JSON.
func (s *Store) Org(ctx context.Context, orgID string) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	b, err := s.c.Get(ctx, orgPrefix+orgID).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// OrgIDs lists the ids of stored org sessions, sorted.
func (s *Store) OrgIDs(ctx context.Context) ([]string, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	ids, err := s.c.SMembers(ctx, orgsIndexKey).Result()
	sort.Strings(ids)
	return ids, err
}

// Orgs returns every org session, org id -> JSON.
func (s *Store) Orgs(ctx context.Context) (map[string][]byte, error) {
	ids, err := s.OrgIDs(ctx)
	if err != nil || len(ids) == 0 {
		return map[string][]byte{}, err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	cmds, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Get(ctx, orgPrefix+id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make(map[string][]byte, len(ids))
	for i, cmd := range cmds {
		// An id whose session is gone (deleted by another tool) is skipped.
		if b, err := cmd.(*redis.StringCmd).Bytes(); err == nil {
			out[ids[i]] = b
		}
	}
	return out, nil
}

// PutOrg stores an org session, optionally resetting its quota counter, and
// bumps the config version. It reports whether the org is new.
func (s *Store) PutOrg(ctx context.Context, orgID string, data []byte, resetQuota bool) (created bool, err error) {
	steps := []step{
		func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.Exists(ctx, orgPrefix+orgID) },
		func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.Set(ctx, orgPrefix+orgID, data, 0) },
	}
	follow := []command{{"SADD", orgsIndexKey, orgID}}
	if resetQuota {
		follow = append(follow, command{"DEL", QuotaKey("", orgID)}, feedCommand("o", orgID))
	}
	cmds, err := s.write(ctx, orgPrefix+orgID, steps, append(follow, bumpCommand)...)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() == 0, nil
}

// DeleteOrg removes an org session and its quota counter and bumps the
// config version. It reports whether the org existed.
func (s *Store) DeleteOrg(ctx context.Context, orgID string) (bool, error) {
	del := func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.Del(ctx, orgPrefix+orgID) }
	cmds, err := s.write(ctx, orgPrefix+orgID, []step{del},
		command{"SREM", orgsIndexKey, orgID}, command{"DEL", QuotaKey("", orgID)}, feedCommand("o", orgID), bumpCommand)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() > 0, nil
}

// policiesActiveKey marks the policies hash as migrated to explicit
// "active" flags. The hash tag keeps it in the hash's Redis Cluster slot, so
// both can be watched in one transaction.
const policiesActiveKey = "{" + policiesKey + "}-explicit-active"

// MigratePolicyActive runs once per Redis, before a replica first loads the
// config. Earlier versions stored every policy with "active" written from a
// flag that defaulted to false and was never read, so a stored false is not
// the user's; since "active": false now unloads a policy, such policies are
// rewritten with "active": true, keeping their behaviour. It reports how
// many policies it rewrote.
func (s *Store) MigratePolicyActive(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	for {
		rewritten := 0
		err := s.c.Watch(ctx, func(tx *redis.Tx) error {
			rewritten = 0
			if n, err := tx.Exists(ctx, policiesActiveKey).Result(); err != nil || n == 1 {
				return err
			}
			all, err := tx.HGetAll(ctx, policiesKey).Result()
			if err != nil {
				return err
			}
			fixed := map[string]any{}
			for id, doc := range all {
				if p, err := model.DecodePolicy([]byte(doc)); err == nil && !p.Active {
					p.Active = true
					fixed[id] = p.AppendJSON(nil)
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if len(fixed) > 0 {
					p.HSet(ctx, policiesKey, fixed)
				}
				p.Set(ctx, policiesActiveKey, "1", 0)
				return nil
			})
			rewritten = len(fixed)
			return err
		}, policiesKey, policiesActiveKey)
		if !errors.Is(err, redis.TxFailedErr) { // else a concurrent write: read again
			return rewritten, err
		}
	}
}
