package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The change feed is a Redis stream of key hashes (field "h"), one entry per
// session write or delete, trimmed to about changesMaxLen entries. A cursor
// is a stream entry id. The feed always holds at least one entry (an empty
// "h" marker is added when it is empty), so every cursor handed out names a
// real entry and "older than the oldest entry" reliably means "trimmed".

// emptyCursor is returned only when the feed could not be initialised.
const emptyCursor = "0-0"

// Changes is one page of the change feed.
type Changes struct {
	Keys   []string // distinct key hashes, oldest first
	Orgs   []string // distinct org ids whose quota was reset or session deleted
	Cursor string   // position after the last entry read
	Reset  bool     // the caller's cursor is unknown or trimmed: drop every cached session
	More   bool     // more entries follow Cursor
}

// Feed entries are written by feedCommand (outbox.go): field "h" a key
// hash, "o" an organisation whose quota was reset or session deleted, so
// that filters drop the quota units they leased before.

// EnsureFeed adds the marker entry when the feed is empty. Concurrent
// callers may each add one; markers carry no hash and are skipped.
func (s *Store) EnsureFeed(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := s.c.XLen(ctx, changesKey).Result()
	if err != nil || n > 0 {
		return err
	}
	return s.c.Do(ctx, feedCommand("h", "").args()...).Err()
}

// Cursor is the current end of the feed, adding the marker entry first when
// the feed is gone (e.g. a flushed Redis) so the cursor names a real entry.
func (s *Store) Cursor(ctx context.Context) (string, error) {
	c, err := s.lastID(ctx)
	if err != nil || c != "" {
		return c, err
	}
	if err := s.EnsureFeed(ctx); err != nil {
		return "", err
	}
	c, err = s.lastID(ctx)
	if c == "" {
		c = emptyCursor
	}
	return c, err
}

func (s *Store) lastID(ctx context.Context) (string, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	msgs, err := s.c.XRevRangeN(ctx, changesKey, "+", "-", 1).Result()
	if err != nil || len(msgs) == 0 {
		return "", err
	}
	return msgs[0].ID, nil
}

// ChangesSince returns the key hashes changed after cursor, at most limit
// feed entries' worth. An empty cursor returns the current position.
func (s *Store) ChangesSince(ctx context.Context, cursor string, limit int) (Changes, error) {
	if cursor == "" {
		c, err := s.Cursor(ctx)
		return Changes{Cursor: c}, err
	}
	from, ok := parseID(cursor)
	if !ok {
		c, err := s.Cursor(ctx)
		return Changes{Cursor: c, Reset: true}, err
	}
	// One transaction on one key (one slot on a cluster too), so page,
	// oldest and newest agree.
	cmds, err := s.tx(ctx,
		func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.XRangeN(ctx, changesKey, from.next().String(), "+", int64(limit)+1)
		},
		func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.XRangeN(ctx, changesKey, "-", "+", 1) },
		func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.XRevRangeN(ctx, changesKey, "+", "-", 1)
		},
	)
	if err != nil {
		return Changes{}, err
	}
	page := cmds[0].(*redis.XMessageSliceCmd).Val()
	oldest := cmds[1].(*redis.XMessageSliceCmd).Val()
	newest := cmds[2].(*redis.XMessageSliceCmd).Val()
	if len(oldest) == 0 {
		// The feed itself was deleted (e.g. a flushed Redis): nothing the
		// caller holds can be trusted.
		c, err := s.Cursor(ctx)
		return Changes{Cursor: c, Reset: true}, err
	}
	first, _ := parseID(oldest[0].ID)
	last, _ := parseID(newest[0].ID)
	if from.less(first) || last.less(from) {
		// Trimmed past the caller, or a cursor from the future (another
		// Redis, or data lost on a failover).
		return Changes{Cursor: newest[0].ID, Reset: true}, nil
	}
	out := Changes{Cursor: cursor, More: len(page) > limit}
	if out.More {
		page = page[:limit]
	}
	seen := make(map[string]bool, len(page))
	for _, m := range page {
		out.Cursor = m.ID
		if o, _ := m.Values["o"].(string); o != "" {
			if !seen["o:"+o] {
				seen["o:"+o] = true
				out.Orgs = append(out.Orgs, o)
			}
			continue
		}
		h, _ := m.Values["h"].(string)
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		out.Keys = append(out.Keys, h)
	}
	return out, nil
}

// streamID is a parsed stream entry id "<ms>-<seq>".
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}, err1 == nil && err2 == nil
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq)
}

// next is the smallest id after id (XRANGE's start is inclusive).
func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{id.ms + 1, 0}
	}
	return streamID{id.ms, id.seq + 1}
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}
