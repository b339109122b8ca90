// Package oauth is the sidecar's OAuth 2.0 authorization server, which
// behaves as Tyk's built-in one (Tyk's gateway/oauth_manager.go over
// github.com/lonelycode/osin): clients registered per API, authorization
// codes, access tokens minted as keys whose session comes from the
// client's policy, refresh tokens and revocation. The filter answers the
// endpoints under an API's listen path with what Handle returns; the
// Gateway API (/tyk/oauth/...) manages clients through this package too.
//
// The request checks and the response bodies are shared/oauth's, the code
// the filter runs as well; the Redis layout and its atomic steps are
// sidecar/internal/store's (oauth.go).
package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	oa "github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/turnpike-dev/turnpike/shared/policy"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// Deps is what the server needs.
type Deps struct {
	Store     *store.Store
	Snapshots *snapshot.Keeper
	Rand      io.Reader        // secrets, tokens and codes (crypto/rand.Reader)
	Now       func() time.Time // clock (time.Now)
	Logger    *slog.Logger
}

// Server is the authorization server of every OAuth API.
type Server struct{ d Deps }

// New makes a server.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Server{d: d}
}

// Client is a registered client as stored: Tyk's OAuthClient JSON, which
// is exactly what Tyk's API returns of a client (id, secret, redirect URI,
// policy, meta data, description) and nothing more.
type Client struct {
	ID          string          `json:"id"`
	Secret      string          `json:"secret"`
	RedirectURI string          `json:"redirecturi"`
	MetaData    json.RawMessage `json:"meta_data,omitempty"`
	PolicyID    string          `json:"policyid"`
	Description string          `json:"description"`
}

// Encode is the stored form.
func (c *Client) Encode() []byte {
	b, _ := json.Marshal(c) // strings and a RawMessage checked on input
	return b
}

// DecodeClient reads a stored client.
func DecodeClient(b []byte) (*Client, error) {
	c := new(Client)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, err
	}
	return c, nil
}

// grant is an authorization code's record.
type grant struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	Scope       string `json:"scope,omitempty"`
	UserData    string `json:"user_data,omitempty"` // key_rules: the session to issue instead of the policy's
	CreatedAt   int64  `json:"created_at"`
	ExpiresIn   int64  `json:"expires_in"`
}

// access is an access token's record (by key hash).
type access struct {
	ClientID string `json:"client_id"`
	Refresh  string `json:"refresh,omitempty"` // hash of the refresh token issued with it
	Expires  int64  `json:"expires"`
}

// refresh is a refresh token's record (by token hash).
type refresh struct {
	ClientID    string `json:"client_id"`
	Access      string `json:"access"` // key hash of the access token issued with it
	RedirectURI string `json:"redirect_uri,omitempty"`
	Scope       string `json:"scope,omitempty"`
	UserData    string `json:"user_data,omitempty"`
}

// errStorage wraps Redis failures: the caller answers 503.
type errStorage struct{ error }

func storageErr(err error) error { return errStorage{err} }

// IsStorage reports whether err is a storage failure (answer 503, retry).
func IsStorage(err error) bool {
	var e errStorage
	return errors.As(err, &e)
}

// API returns the OAuth API of a snapshot (nil when absent or not OAuth).
func API(snap *snapshot.Snapshot, apiID string) *model.APIDefinition {
	if api := snap.APIs[apiID]; api != nil && api.UseOauth2 && !api.UseKeylessAccess {
		return api
	}
	return nil
}

// Handle answers a request to an endpoint under an OAuth API's listen
// path, as the filter relays it. The error is a storage failure only.
func (s *Server) Handle(ctx context.Context, req wire.OAuthRequest) (wire.OAuthResponse, error) {
	api := API(s.d.Snapshots.Current(), req.APIID)
	if api == nil {
		return wire.OAuthResponse{Status: 404, Body: string(model.AppendError(nil, "OAuth API not found"))}, nil
	}
	r, formErr := oa.ParseRequest(req.Method, req.Authorization, req.ContentType, req.Query, []byte(req.Body))
	switch req.Endpoint {
	case oa.EndpointToken:
		if formErr != nil {
			return oauthError(oa.Err(oa.ErrInvalidRequest)), nil
		}
		return s.token(ctx, api, r)
	case oa.EndpointAuthorize:
		return s.authorize(ctx, api, r, req.Query)
	case oa.EndpointRevoke:
		if formErr != nil {
			return status(400, "error", oa.MsgFormMalformed), nil
		}
		return s.revoke(ctx, api, r.Params)
	case oa.EndpointRevokeAll:
		if formErr != nil {
			return status(400, "error", oa.MsgFormMalformed), nil
		}
		return s.revokeAll(ctx, api, r.Params)
	}
	return wire.OAuthResponse{Status: 404, Body: string(model.AppendError(nil, "Not Found"))}, nil
}

// oauthError is osin's error answer with Tyk's status.
func oauthError(e *oa.Error) wire.OAuthResponse {
	return wire.OAuthResponse{Status: oa.ErrorStatus, Body: string(oa.AppendError(nil, e))}
}

// status is Tyk's {"status","message"} envelope.
func status(code int, st, msg string) wire.OAuthResponse {
	return wire.OAuthResponse{Status: code, Body: string(oa.AppendStatus(nil, st, msg))}
}

// LoadClient reads a client of an API (nil, nil when absent).
func (s *Server) LoadClient(ctx context.Context, apiID, clientID string) (*Client, []byte, error) {
	raw, err := s.d.Store.OAuthClient(ctx, apiID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, storageErr(err)
	}
	c, err := DecodeClient(raw)
	if err != nil {
		s.d.Logger.Error("stored OAuth client does not decode", "api_id", apiID, "error", err)
		return nil, nil, nil
	}
	return c, raw, nil
}

// authenticate finds the client of a token request and checks its secret
// as osin's getClient: unknown client, wrong secret and a client without a
// redirect URI are all unauthorized_client (Tyk answers an unknown client
// with server_error; Turnpike does not say whether the client exists).
func (s *Server) authenticate(ctx context.Context, apiID, id, secret string) (*Client, []byte, *oa.Error, error) {
	c, raw, err := s.LoadClient(ctx, apiID, id)
	if err != nil {
		return nil, nil, nil, err
	}
	if c == nil || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 || c.RedirectURI == "" {
		return nil, nil, oa.Err(oa.ErrUnauthorizedClient), nil
	}
	return c, raw, nil, nil
}

// randomToken is a 256-bit random string for codes and refresh tokens.
func (s *Server) randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.d.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validRedirect is osin's ValidateUri: same scheme and host, the path
// under the registered one, no fragments.
func validRedirect(base, redirect string) bool {
	if base == "" || redirect == "" {
		return false
	}
	b, err1 := url.Parse(base)
	r, err2 := url.Parse(redirect)
	if err1 != nil || err2 != nil || b.Fragment != "" || r.Fragment != "" {
		return false
	}
	return b.Scheme == r.Scheme && b.Host == r.Host && strings.HasPrefix(r.Path, b.Path)
}

// withQuery adds params to a URL's query (sorted, as url.Values.Encode), as
// osin's GetRedirectUrl.
func withQuery(u string, params map[string]string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	p.RawQuery = q.Encode()
	return p.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// keysHash is the hash codes and refresh tokens are stored under.
func keysHash(s string) string { return keys.Hash(s) }

// sessionFor makes the session of a new access token (Tyk's SaveAccess):
// the key_rules the code was authorized with when they decode as a
// session, else the client's policy; policies applied; oauth_client_id
// set; expires from expires_in; the client's meta_data merged in, the
// session's own values winning.
func sessionFor(snap *snapshot.Snapshot, c *Client, userData string, expiresIn int64, now time.Time) (*model.Session, error) {
	var sess *model.Session
	if userData != "" {
		if d, err := model.DecodeSession([]byte(userData)); err == nil {
			sess = d
		}
	}
	if sess == nil {
		if c.PolicyID == "" {
			return nil, errors.New("client has no policy")
		}
		if _, ok := snap.Policy(c.PolicyID); !ok {
			return nil, errors.New("policy " + strconv.Quote(c.PolicyID) + " not found")
		}
		sess = &model.Session{ApplyPolicies: []string{c.PolicyID}}
	}
	if err := policy.Apply(sess, snap, nil); err != nil {
		return nil, err
	}
	if len(sess.AccessRights) == 0 {
		return nil, errors.New("the session would grant every API (no access rights)")
	}
	sess.OauthClientID = c.ID
	sess.Expires = now.Unix() + expiresIn
	sess.DateCreated = now.UTC().Format(time.RFC3339)
	sess.LastUpdated = itoa(now.Unix())
	if len(c.MetaData) > 0 {
		var meta map[string]json.RawMessage
		if json.Unmarshal(c.MetaData, &meta) == nil && len(meta) > 0 {
			if sess.MetaData == nil {
				sess.MetaData = make(map[string]model.RawValue, len(meta))
			}
			for k, v := range meta {
				if _, ok := sess.MetaData[k]; !ok {
					sess.MetaData[k] = model.RawValue(v)
				}
			}
		}
	}
	return sess, nil
}

// lifetime is the session's Redis TTL: its session_lifetime, else the
// largest of its APIs', else the token's own life (an expired token's
// session is of no use).
func lifetime(sess *model.Session, snap *snapshot.Snapshot, expiresIn int64) time.Duration {
	secs := sess.SessionLifetime
	if secs <= 0 {
		for id := range sess.AccessRights {
			if api, ok := snap.APIs[id]; ok {
				secs = max(secs, api.SessionLifetime)
			}
		}
	}
	if secs <= 0 {
		secs = expiresIn
	}
	return time.Duration(secs) * time.Second
}
