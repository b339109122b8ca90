package oauth

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// token answers POST <listen_path>/oauth/token (osin's HandleAccessRequest
// and FinishAccessRequest, Tyk's SaveAccess).
func (s *Server) token(ctx context.Context, api *model.APIDefinition, r oa.Request) (wire.OAuthResponse, error) {
	t, e := oa.CheckToken(r, api.Oauth2Meta.AllowedAccessTypes)
	if e != nil {
		return oauthError(e), nil
	}
	c, raw, e, err := s.authenticate(ctx, api.APIID, t.ClientID, t.ClientSecret)
	if err != nil {
		return wire.OAuthResponse{}, err
	}
	if e != nil {
		return oauthError(e), nil
	}
	m := mintReq{client: c, raw: raw, scope: t.Scope}
	switch t.GrantType {
	case oa.GrantClientCredentials:
		// osin issues no refresh token for client credentials.
	case oa.GrantAuthorizationCode:
		e, err = s.fromCode(ctx, api, c, t, &m)
	case oa.GrantRefreshToken:
		e, err = s.fromRefresh(ctx, api, c, t, &m)
	}
	if err != nil {
		return wire.OAuthResponse{}, err
	}
	if e != nil {
		return oauthError(e), nil
	}
	return s.mint(ctx, api, m)
}

// mintReq is what a grant hands to mint.
type mintReq struct {
	client      *Client
	raw         []byte // the client as read: minting fails if it changed since
	scope       string
	userData    string
	redirectURI string
	refresh     bool   // issue a refresh token
	grantKind   string // store.OAuthAuthorize or store.OAuthRefresh: consumed by the mint
	grantHash   string
	oldKeyHash  string // the access token a refresh replaces
}

// fromCode checks an authorization code (osin's
// handleAuthorizationCodeRequest order): unknown, used or expired →
// invalid_grant; issued to another client → invalid_grant; a redirect_uri
// other than the one the code was issued for → invalid_request.
func (s *Server) fromCode(ctx context.Context, api *model.APIDefinition, c *Client, t oa.TokenRequest, m *mintReq) (*oa.Error, error) {
	h := keysHash(t.Code)
	b, err := s.d.Store.OAuthRecord(ctx, api.APIID, store.OAuthAuthorize, h)
	if errors.Is(err, store.ErrNotFound) {
		return oa.Err(oa.ErrInvalidGrant), nil
	}
	if err != nil {
		return nil, storageErr(err)
	}
	var g grant
	if json.Unmarshal(b, &g) != nil || g.CreatedAt+g.ExpiresIn < s.d.Now().Unix() || g.ClientID != c.ID {
		return oa.Err(oa.ErrInvalidGrant), nil
	}
	redirect := t.RedirectURI
	if redirect == "" {
		redirect = c.RedirectURI
	}
	if !validRedirect(c.RedirectURI, redirect) || g.RedirectURI != redirect {
		return oa.Err(oa.ErrInvalidRequest), nil
	}
	m.scope, m.userData, m.redirectURI = g.Scope, g.UserData, redirect
	m.refresh, m.grantKind, m.grantHash = true, store.OAuthAuthorize, h
	return nil, nil
}

// fromRefresh checks a refresh token (osin's handleRefreshTokenRequest):
// unknown, used or revoked → invalid_grant; issued to another client →
// invalid_client. The new token keeps the grant's scope unless the
// request names one.
func (s *Server) fromRefresh(ctx context.Context, api *model.APIDefinition, c *Client, t oa.TokenRequest, m *mintReq) (*oa.Error, error) {
	h := keysHash(t.RefreshToken)
	b, err := s.d.Store.OAuthRecord(ctx, api.APIID, store.OAuthRefresh, h)
	if errors.Is(err, store.ErrNotFound) {
		return oa.Err(oa.ErrInvalidGrant), nil
	}
	if err != nil {
		return nil, storageErr(err)
	}
	var rf refresh
	if json.Unmarshal(b, &rf) != nil {
		return oa.Err(oa.ErrInvalidGrant), nil
	}
	if rf.ClientID != c.ID {
		return oa.Err(oa.ErrInvalidClient), nil
	}
	if m.scope == "" {
		m.scope = rf.Scope
	}
	m.userData, m.redirectURI = rf.UserData, rf.RedirectURI
	m.refresh, m.grantKind, m.grantHash, m.oldKeyHash = true, store.OAuthRefresh, h, rf.Access
	return nil, nil
}

// mint issues an access token: a new key whose session is stored first
// (with its change feed entry), then recorded with the grant consumed in
// one atomic step (store.MintOAuthAccess). If that step finds the client
// changed or the grant used, the session is deleted again: it was never
// handed out, and a token of a deleted client or a reused code must not
// survive.
func (s *Server) mint(ctx context.Context, api *model.APIDefinition, m mintReq) (wire.OAuthResponse, error) {
	snap := s.d.Snapshots.Current()
	now := s.d.Now()
	expiresIn := int64(oa.AccessExpiration)
	sess, err := sessionFor(snap, m.client, m.userData, expiresIn, now)
	if err != nil {
		// Tyk: "Couldn't use policy or key rules to create token, failing".
		s.d.Logger.Warn("OAuth token not issued: no usable session", "api_id", api.APIID, "client_id", m.client.ID, "error", err)
		return oauthError(oa.Err(oa.ErrServerError)), nil
	}
	token, err := keys.Generate(s.d.Rand)
	if err != nil {
		return wire.OAuthResponse{}, err
	}
	hash := keys.Hash(token)
	out := oa.Token{AccessToken: token, ExpiresIn: expiresIn, Scope: m.scope}
	mt := store.Mint{APIID: api.APIID, ClientID: m.client.ID, Client: m.raw, KeyHash: hash, ExpiresIn: expiresIn,
		ExpiresAt: now.Unix() + expiresIn, GrantKind: m.grantKind, GrantHash: m.grantHash, OldKeyHash: m.oldKeyHash}
	if m.refresh {
		if out.RefreshToken, err = s.randomToken(); err != nil {
			return wire.OAuthResponse{}, err
		}
		mt.RefreshHash, mt.RefreshTTL = keysHash(out.RefreshToken), oa.RefreshExpiration
		mt.Refresh, _ = json.Marshal(refresh{ClientID: m.client.ID, Access: hash, RedirectURI: m.redirectURI,
			Scope: m.scope, UserData: m.userData})
	}
	mt.Access, _ = json.Marshal(access{ClientID: m.client.ID, Refresh: mt.RefreshHash, Expires: mt.ExpiresAt})
	if err := s.d.Store.PutSession(ctx, hash, sess.AppendJSON(nil), lifetime(sess, snap, expiresIn), nil); err != nil {
		return wire.OAuthResponse{}, storageErr(err)
	}
	if err := s.d.Store.MintOAuthAccess(ctx, mt); err != nil {
		if _, derr := s.d.Store.DeleteSession(ctx, hash, nil); derr != nil {
			s.d.Logger.Error("OAuth token not recorded and its session not deleted", "key_hash", hash, "error", derr)
		}
		switch {
		case errors.Is(err, store.ErrClientChanged):
			return oauthError(oa.Err(oa.ErrUnauthorizedClient)), nil
		case errors.Is(err, store.ErrGrantUsed):
			return oauthError(oa.Err(oa.ErrInvalidGrant)), nil
		}
		return wire.OAuthResponse{}, storageErr(err)
	}
	if m.oldKeyHash != "" {
		// osin removes the access token a refresh replaces.
		if _, err := s.d.Store.DeleteSession(ctx, m.oldKeyHash, nil); err != nil {
			s.d.Logger.Warn("replaced OAuth token not deleted", "key_hash", m.oldKeyHash, "error", err)
		}
	}
	s.d.Logger.Info("OAuth token issued", "api_id", api.APIID, "client_id", m.client.ID, "key_hash", hash,
		"grant", m.grantKind)
	return wire.OAuthResponse{Status: 200, Body: string(oa.AppendToken(nil, out))}, nil
}
