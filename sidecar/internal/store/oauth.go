package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// OAuth data of one API. Every key of an API carries the hash tag {api_id},
// so the scripts below, which touch several of them, run on one Redis
// Cluster slot. Codes and refresh tokens are stored under their SHA-256
// (nothing ever returns them); access tokens are keys, stored as sessions
// under their hash like every key (apikey-<hash>), with a record here.
//
//	oauth-data.{<api>}.clients                 hash client_id -> client JSON (Tyk's stored form)
//	oauth-data.{<api>}.authorize.<sha256>      authorization code grant JSON, TTL the code's life
//	oauth-data.{<api>}.access.<key hash>       access token record JSON, TTL expires_in
//	oauth-data.{<api>}.refresh.<sha256>        refresh grant JSON, TTL 14 days
//	oauth-data.{<api>}.client-tokens.<client>  sorted set: access token key hashes by expiry
func oauthKey(apiID, kind, id string) string {
	k := "oauth-data.{" + apiID + "}." + kind
	if id != "" {
		k += "." + id
	}
	return k
}

// OAuth key kinds.
const (
	OAuthAuthorize = "authorize"
	OAuthAccess    = "access"
	OAuthRefresh   = "refresh"
	oauthClients   = "clients"
	oauthTokens    = "client-tokens"
)

// OAuthClient returns a client's stored JSON (ErrNotFound when the API has
// no such client).
func (s *Store) OAuthClient(ctx context.Context, apiID, clientID string) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	b, err := s.c.HGet(ctx, oauthKey(apiID, oauthClients, ""), clientID).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// OAuthClients returns every client of an API: client id -> stored JSON.
func (s *Store) OAuthClients(ctx context.Context, apiID string) (map[string]string, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.HGetAll(ctx, oauthKey(apiID, oauthClients, "")).Result()
}

// PutOAuthClient stores a new client; created is false (and nothing is
// written) when the API has a client with that id already.
func (s *Store) PutOAuthClient(ctx context.Context, apiID, clientID string, data []byte) (created bool, err error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.HSetNX(ctx, oauthKey(apiID, oauthClients, ""), clientID, data).Result()
}

// replaceClientScript replaces (ARGV[2] non-empty) or deletes a client,
// and, when ARGV[3] is "1", empties its token index, returning the key
// hashes it held so the caller revokes them. In one step, so that a token
// minted concurrently either sees the old client and is in the returned
// list, or sees the change and fails (mintScript compares the client).
//
// KEYS[1] clients hash, KEYS[2] the client's token index.
// ARGV client_id, new client JSON ("" = delete), revoke ("1"/"").
// Returns false when the client does not exist, else the revoked hashes.
var replaceClientScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return false
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[3] ~= '1' then
  return {}
end
local hashes = redis.call('ZRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return hashes
`)

// ReplaceOAuthClient replaces (data non-nil) or deletes (data nil) a
// client. With revoke, the client's token index is emptied at the same
// time and the access token key hashes it held are returned: the caller
// revokes them (RevokeOAuthAccess). found is false when there was no
// such client (nothing changed).
func (s *Store) ReplaceOAuthClient(ctx context.Context, apiID, clientID string, data []byte, revoke bool) (hashes []string, found bool, err error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	flag := ""
	if revoke {
		flag = "1"
	}
	res, err := replaceClientScript.Run(ctx, s.c,
		[]string{oauthKey(apiID, oauthClients, ""), oauthKey(apiID, oauthTokens, clientID)},
		clientID, string(data), flag).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return res, err == nil, err
}

// PutOAuthGrant stores an authorization code grant under the code's hash.
func (s *Store) PutOAuthGrant(ctx context.Context, apiID, codeHash string, data []byte, ttl time.Duration) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.Set(ctx, oauthKey(apiID, OAuthAuthorize, codeHash), data, ttl).Err()
}

// OAuthRecord reads an authorize, access or refresh record (ErrNotFound when
// absent or expired).
func (s *Store) OAuthRecord(ctx context.Context, apiID, kind, id string) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	b, err := s.c.Get(ctx, oauthKey(apiID, kind, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// DeleteOAuthRecord deletes an authorize, access or refresh record and
// reports whether it existed. Deleting an access record removes the token
// from clientID's index too (clientID may be "" when unknown).
func (s *Store) DeleteOAuthRecord(ctx context.Context, apiID, kind, id, clientID string) (bool, error) {
	steps := []step{func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.Del(ctx, oauthKey(apiID, kind, id))
	}}
	if kind == OAuthAccess && clientID != "" {
		steps = append(steps, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.ZRem(ctx, oauthKey(apiID, oauthTokens, clientID), id)
		})
	}
	// The API's keys share its hash tag: one slot, one MULTI everywhere.
	cmds, err := s.write(ctx, oauthKey(apiID, kind, id), steps)
	if err != nil {
		return false, err
	}
	return cmds[0].(*redis.IntCmd).Val() > 0, nil
}

// mintScript records a new access token, after checking in the same step
// that the client is still the one the token was minted for (not deleted,
// rotated or updated since) and consuming the grant it was minted from (an
// authorization code or a refresh token, each usable once).
//
// KEYS[1] clients hash, KEYS[2] the client's token index, KEYS[3] access
// record, KEYS[4] new refresh record, KEYS[5] consumed grant, KEYS[6] old
// access record (refresh grant). Unused keys repeat KEYS[1] (same slot).
// ARGV client_id, client JSON, key hash, access JSON, access TTL s, expiry
// (unix s), refresh JSON ("" = none), refresh TTL s, consume ("1"/""), old
// key hash ("" = none).
// Returns "ok", "client" or "grant".
var mintScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 'client'
end
if ARGV[9] == '1' and redis.call('DEL', KEYS[5]) == 0 then
  return 'grant'
end
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[4], ARGV[7], 'EX', ARGV[8])
end
if ARGV[10] ~= '' then
  redis.call('DEL', KEYS[6])
  redis.call('ZREM', KEYS[2], ARGV[10])
end
return 'ok'
`)

// Mint is what MintOAuthAccess records.
type Mint struct {
	APIID, ClientID string
	Client          []byte // the client JSON the token was minted for
	KeyHash         string
	Access          []byte // access record
	ExpiresIn       int64  // seconds
	ExpiresAt       int64  // unix seconds
	RefreshHash     string // "" = no refresh token
	Refresh         []byte
	RefreshTTL      int64  // seconds
	GrantKind       string // OAuthAuthorize or OAuthRefresh: the grant consumed; "" = none
	GrantHash       string
	OldKeyHash      string // refresh grant: the access token it replaces
}

// Minting fails with these when the client changed or the grant was used.
var (
	ErrClientChanged = errors.New("oauth client changed")
	ErrGrantUsed     = errors.New("oauth grant already used")
)

// MintOAuthAccess records an access token whose session the caller has
// stored (PutSession): atomically checks the client, consumes the grant,
// writes the access (and refresh) record and indexes the token.
func (s *Store) MintOAuthAccess(ctx context.Context, m Mint) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	clients := oauthKey(m.APIID, oauthClients, "")
	keysList := []string{clients, oauthKey(m.APIID, oauthTokens, m.ClientID),
		oauthKey(m.APIID, OAuthAccess, m.KeyHash), clients, clients, clients}
	if m.RefreshHash != "" {
		keysList[3] = oauthKey(m.APIID, OAuthRefresh, m.RefreshHash)
	}
	consume := ""
	if m.GrantKind != "" {
		keysList[4], consume = oauthKey(m.APIID, m.GrantKind, m.GrantHash), "1"
	}
	if m.OldKeyHash != "" {
		keysList[5] = oauthKey(m.APIID, OAuthAccess, m.OldKeyHash)
	}
	res, err := mintScript.Run(ctx, s.c, keysList, m.ClientID, string(m.Client), m.KeyHash, string(m.Access),
		m.ExpiresIn, m.ExpiresAt, string(m.Refresh), m.RefreshTTL, consume, m.OldKeyHash).Text()
	switch {
	case err != nil:
		return err
	case res == "client":
		return ErrClientChanged
	case res == "grant":
		return ErrGrantUsed
	case res != "ok":
		return fmt.Errorf("mint script answered %q", res)
	}
	return nil
}

// OAuthToken is one entry of a client's token index.
type OAuthToken struct {
	KeyHash string
	Expires int64
}

// OAuthTokens lists a client's unexpired access tokens (by key hash),
// soonest expiry first. now is unix seconds.
func (s *Store) OAuthTokens(ctx context.Context, apiID, clientID string, now int64) ([]OAuthToken, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	zs, err := s.c.ZRangeByScoreWithScores(ctx, oauthKey(apiID, oauthTokens, clientID),
		&redis.ZRangeBy{Min: strconv.FormatInt(now, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]OAuthToken, 0, len(zs))
	for _, z := range zs {
		h, _ := z.Member.(string)
		out = append(out, OAuthToken{KeyHash: h, Expires: int64(z.Score)})
	}
	return out, nil
}

// PurgeLapsedOAuthTokens drops expired entries (score < now) from a
// client's token index and returns how many it dropped.
func (s *Store) PurgeLapsedOAuthTokens(ctx context.Context, apiID, clientID string, now int64) (int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.ZRemRangeByScore(ctx, oauthKey(apiID, oauthTokens, clientID), "-inf", "("+strconv.FormatInt(now, 10)).Result()
}
