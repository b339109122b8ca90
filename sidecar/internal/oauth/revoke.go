package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// revoke answers <listen_path>/oauth/revoke (RFC 7009, Tyk's
// HandleRevokeToken: form token and token_type_hint, no client
// authentication, always 200 once a token is named).
func (s *Server) revoke(ctx context.Context, api *model.APIDefinition, params oa.Form) (wire.OAuthResponse, error) {
	token := params.Get("token")
	if token == "" {
		return status(400, "error", oa.MsgTokenRequired), nil
	}
	if err := s.RevokeToken(ctx, api.APIID, token, params.Get("token_type_hint")); err != nil {
		return wire.OAuthResponse{}, err
	}
	return status(200, "ok", oa.MsgTokenRevoked), nil
}

// revokeAll answers <listen_path>/oauth/revoke_all (Tyk's
// HandleRevokeAllTokens): every token of a client that proves its secret.
func (s *Server) revokeAll(ctx context.Context, api *model.APIDefinition, params oa.Form) (wire.OAuthResponse, error) {
	id, secret := params.Get("client_id"), params.Get("client_secret")
	switch {
	case id == "":
		return status(401, "error", oa.MsgClientIDRequired), nil
	case secret == "":
		return status(401, "error", oa.MsgSecretRequired), nil
	}
	code, msg, err := s.RevokeAll(ctx, api.APIID, id, secret)
	if err != nil {
		return wire.OAuthResponse{}, err
	}
	if code != 200 {
		return status(code, "error", msg), nil
	}
	return status(200, "ok", oa.MsgAllTokensRevoked), nil
}

// RevokeAll revokes every token of a client after checking its secret:
// 404 "error getting oauth client", 401 "client secret is wrong", or 200.
func (s *Server) RevokeAll(ctx context.Context, apiID, clientID, secret string) (int, string, error) {
	c, raw, err := s.LoadClient(ctx, apiID, clientID)
	if err != nil {
		return 0, "", err
	}
	if c == nil {
		return 404, oa.MsgClientNotFound, nil
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return 401, oa.MsgSecretWrong, nil
	}
	// Rewriting the client unchanged empties its token index atomically.
	hashes, _, err := s.d.Store.ReplaceOAuthClient(ctx, apiID, clientID, raw, true)
	if err != nil {
		return 0, "", storageErr(err)
	}
	return 200, "", s.revokeHashes(ctx, apiID, hashes)
}

// RevokeToken revokes an access or refresh token of an API (Tyk's
// RevokeToken: the hint says which; without one, both are tried). Only
// tokens this API issued are touched: a key that is no access token of it
// is left alone. Revoking a refresh token also revokes the access token
// issued with it (RFC 7009 §2.1).
func (s *Server) RevokeToken(ctx context.Context, apiID, token, hint string) error {
	if hint != oa.TokenTypeHintRefresh {
		if err := s.revokeAccess(ctx, apiID, keys.Hash(token)); err != nil {
			return err
		}
	}
	if hint != oa.TokenTypeHintAccess {
		return s.RevokeRefresh(ctx, apiID, token, true)
	}
	return nil
}

// RevokeRefresh deletes a refresh token; withAccess also revokes the
// access token issued with it.
func (s *Server) RevokeRefresh(ctx context.Context, apiID, token string, withAccess bool) error {
	h := keysHash(token)
	b, err := s.d.Store.OAuthRecord(ctx, apiID, store.OAuthRefresh, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storageErr(err)
	}
	if _, err := s.d.Store.DeleteOAuthRecord(ctx, apiID, store.OAuthRefresh, h, ""); err != nil {
		return storageErr(err)
	}
	var rf refresh
	if withAccess && json.Unmarshal(b, &rf) == nil && rf.Access != "" {
		return s.revokeAccess(ctx, apiID, rf.Access)
	}
	return nil
}

// revokeAccess deletes an access token's record and its session (with a
// change feed entry, so every filter drops it within a second).
func (s *Server) revokeAccess(ctx context.Context, apiID, hash string) error {
	b, err := s.d.Store.OAuthRecord(ctx, apiID, store.OAuthAccess, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storageErr(err)
	}
	var a access
	_ = json.Unmarshal(b, &a)
	if _, err := s.d.Store.DeleteOAuthRecord(ctx, apiID, store.OAuthAccess, hash, a.ClientID); err != nil {
		return storageErr(err)
	}
	if _, err := s.d.Store.DeleteSession(ctx, hash, nil); err != nil {
		return storageErr(err)
	}
	s.d.Logger.Info("OAuth token revoked", "api_id", apiID, "key_hash", hash)
	return nil
}

// revokeHashes revokes the access tokens (by key hash) taken from a
// client's index, with the refresh tokens issued with them.
func (s *Server) revokeHashes(ctx context.Context, apiID string, hashes []string) error {
	for _, h := range hashes {
		b, err := s.d.Store.OAuthRecord(ctx, apiID, store.OAuthAccess, h)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return storageErr(err)
		}
		var a access
		if b != nil && json.Unmarshal(b, &a) == nil && a.Refresh != "" {
			if _, err := s.d.Store.DeleteOAuthRecord(ctx, apiID, store.OAuthRefresh, a.Refresh, ""); err != nil {
				return storageErr(err)
			}
		}
		if _, err := s.d.Store.DeleteOAuthRecord(ctx, apiID, store.OAuthAccess, h, ""); err != nil {
			return storageErr(err)
		}
		// Expired tokens' sessions may be gone already; the feed entry is
		// written either way.
		if _, err := s.d.Store.DeleteSession(ctx, h, nil); err != nil {
			return storageErr(err)
		}
	}
	if len(hashes) > 0 {
		s.d.Logger.Info("OAuth tokens revoked", "api_id", apiID, "count", len(hashes))
	}
	return nil
}
