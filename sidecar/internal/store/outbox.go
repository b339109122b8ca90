package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Atomic writes on Redis Cluster: the outbox.
//
// A write has data (a session, a policy, an org session: keys of one hash
// slot) and follow-ups in other slots: the change-feed entry, the config
// version bump, quota counter resets, the org index. Standalone Redis and
// Sentinel run all of it in one MULTI/EXEC. A cluster cannot (MULTI and Lua
// stay within one slot), and renaming Tyk's keys with hash tags would put
// every session in a few slots. So on a cluster the follow-ups are written
// down next to the data: one MULTI in the data's slot stores the data and
// appends the follow-ups to that slot's outbox, a list whose key is given a
// hash tag chosen to land in the same slot (slotTag). Then the writer runs
// the follow-ups and removes the entry. If it dies in between, the entry
// stays, and any replica's sweep (DrainOutboxes) runs it later. So the data
// and its follow-ups are committed together or not at all; the follow-ups
// are applied at least once, promptly by the writer, after a crash within
// the sweep's period.

const (
	outboxPrefix = "turnpike-outbox-" // + "{<tag of the slot>}"
	// OutboxSweep is how often a replica sweeps the outboxes, and how old
	// an entry must be before a sweep runs it (its writer has given up on
	// it by then: the writer's whole write runs under one op timeout).
	OutboxSweep = 5 * time.Second
	slots       = 16384
)

// command is one Redis command of a write's follow-ups.
type command []string

func (c command) args() []any {
	a := make([]any, len(c))
	for i, s := range c {
		a[i] = s
	}
	return a
}

// feedCommand appends a field to the change feed ("h" key hash, "o" org).
func feedCommand(field, value string) command {
	return command{"XADD", changesKey, "MAXLEN", "~", strconv.Itoa(changesMaxLen), "*", field, value}
}

var bumpCommand = command{"INCR", configVersion}

func delCommands(keys []string) []command {
	out := make([]command, 0, len(keys))
	for _, k := range keys {
		out = append(out, command{"DEL", k}) // one key each: keys of a cluster's slots differ
	}
	return out
}

// outboxEntry is one write's pending follow-ups.
type outboxEntry struct {
	ID       string    `json:"id"` // random: the entry's JSON is unique, so LREM removes exactly it
	Written  int64     `json:"t"`  // unix ms, the writer's clock
	Commands []command `json:"c"`
}

// write stores data (steps whose keys all live in key's hash slot) and
// applies the follow-up commands, atomically: one MULTI/EXEC on standalone
// Redis and Sentinel, the outbox on a cluster. It returns the data steps'
// commands. On a cluster, once the data is committed the write has
// succeeded: a follow-up that fails is left to the sweep.
func (s *Store) write(ctx context.Context, key string, data []step, follow ...command) ([]redis.Cmder, error) {
	if !s.cluster || len(follow) == 0 {
		steps := data
		for _, f := range follow {
			steps = append(steps[:len(steps):len(steps)], func(ctx context.Context, c redis.Cmdable) redis.Cmder {
				return c.(doer).Do(ctx, f.args()...) // a Pipeliner: tx queues every step
			})
		}
		cmds, err := s.tx(ctx, steps...)
		return cmds[:len(data)], err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	entry, err := json.Marshal(outboxEntry{ID: hex.EncodeToString(id), Written: time.Now().UnixMilli(), Commands: follow})
	if err != nil {
		return nil, err
	}
	box := outboxKey(Slot(key))
	cmds := make([]redis.Cmder, 0, len(data))
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range data {
			cmds = append(cmds, st(ctx, p))
		}
		p.RPush(ctx, box, entry)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if err != nil {
		return cmds, err
	}
	if s.afterCommit != nil && s.afterCommit() {
		return cmds, nil // a test's crash: the follow-ups stay in the outbox
	}
	_ = s.applyEntry(ctx, box, string(entry), follow) // on failure the sweep retries
	return cmds, nil
}

// doer is what runs a command given as arguments.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// tx runs steps in one MULTI/EXEC (on a cluster their keys must share a
// slot) and returns their commands, which hold the replies.
func (s *Store) tx(ctx context.Context, steps ...step) ([]redis.Cmder, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	cmds := make([]redis.Cmder, 0, len(steps))
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range steps {
			cmds = append(cmds, st(ctx, p))
		}
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return cmds, err
}

// applyEntry runs an entry's follow-ups in order and then removes it from
// its outbox; it stops at the first failure, leaving the entry.
func (s *Store) applyEntry(ctx context.Context, box, entry string, follow []command) error {
	for _, f := range follow {
		if err := s.c.Do(ctx, f.args()...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return s.c.LRem(ctx, box, 1, entry).Err()
}

// DrainOutboxes runs the follow-ups of cluster writes whose writer did not
// finish them (it crashed, or Redis failed) and that are older than
// olderThan, and reports how many entries it ran. A no-op off a cluster.
// Every replica sweeps every OutboxSweep: one LLEN per slot, pipelined (one
// round trip per master). Two replicas may run the same entry: its
// follow-ups are harmless twice (a second feed entry or version bump costs a
// filter one refetch or reload; a second counter reset can only forgive).
func (s *Store) DrainOutboxes(ctx context.Context, olderThan time.Duration) (int, error) {
	if !s.cluster {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	lens := make([]*redis.IntCmd, slots)
	// Each command holds its own reply: a master that is down fails only
	// its slots' LLENs.
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for slot := range slots {
			lens[slot] = p.LLen(ctx, outboxKey(slot))
		}
		return nil
	})
	ran := 0
	var firstErr error
	cutoff := time.Now().Add(-olderThan).UnixMilli()
	for slot, n := range lens {
		if n.Err() != nil && firstErr == nil {
			firstErr = n.Err()
		}
		if n.Val() == 0 {
			continue
		}
		// A box that fails (its follow-ups' masters down) does not hold up
		// the others.
		if err := s.drainBox(ctx, outboxKey(slot), cutoff, &ran); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return ran, firstErr
}

// drainBox runs the entries of one outbox written before cutoff (unix ms),
// in order, until one fails.
func (s *Store) drainBox(ctx context.Context, box string, cutoff int64, ran *int) error {
	entries, err := s.c.LRange(ctx, box, 0, 99).Result()
	if err != nil {
		return err
	}
	for _, raw := range entries {
		var e outboxEntry
		if json.Unmarshal([]byte(raw), &e) != nil {
			_ = s.c.LRem(ctx, box, 1, raw).Err() // not ours to run
			continue
		}
		if e.Written > cutoff {
			continue // its writer may still be at it
		}
		if err := s.applyEntry(ctx, box, raw, e.Commands); err != nil {
			return err
		}
		*ran++
	}
	return nil
}

// outboxKey is the outbox of a hash slot.
func outboxKey(slot int) string { return outboxPrefix + "{" + slotTags()[slot] + "}" }

// slotTags holds, for each hash slot, a short hash tag that maps to it:
// the smallest decimal number whose CRC16 falls in the slot.
var slotTags = sync.OnceValue(func() []string {
	tags := make([]string, slots)
	for left, n := slots, 0; left > 0; n++ {
		t := strconv.Itoa(n)
		if s := crc16(t) % slots; tags[s] == "" {
			tags[s] = t
			left--
		}
	}
	return tags
})

// Slot is the Redis Cluster hash slot of a key: CRC16 of the key, or of
// its first non-empty {hash tag}, mod 16384.
func Slot(key string) int {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return crc16(key) % slots
			}
		}
		break
	}
	return crc16(key) % slots
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(s string) int {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc)
}
