package oauth

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"slices"

	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
)

// ClientRequest is Tyk's NewClientRequest: the body of client create and
// update, and every client answer of the Gateway API (api_id is only
// read; Tyk never writes it back).
type ClientRequest struct {
	ClientID    string          `json:"client_id"`
	RedirectURI string          `json:"redirect_uri"`
	APIID       string          `json:"api_id,omitempty"`
	PolicyID    string          `json:"policy_id,omitempty"`
	Secret      string          `json:"secret"`
	MetaData    json.RawMessage `json:"meta_data"`
	Description string          `json:"description"`
}

// Reply is the client as the Gateway API answers it.
func (c *Client) Reply() ClientRequest {
	return ClientRequest{ClientID: c.ID, RedirectURI: c.RedirectURI, PolicyID: c.PolicyID, Secret: c.Secret,
		MetaData: c.MetaData, Description: c.Description}
}

// uuid4 is a random (version 4) UUID's 16 bytes.
func (s *Server) uuid4() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.d.Rand, b); err != nil {
		return nil, err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b, nil
}

// NewClientID is Tyk's generated client id: a UUID v4 in 32 hex digits.
func (s *Server) NewClientID() (string, error) {
	b, err := s.uuid4()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// NewSecret is Tyk's generated client secret, from the CSPRNG: standard
// base64 of a dashed UUID v4 (122 random bits).
func (s *Server) NewSecret() (string, error) {
	b, err := s.uuid4()
	if err != nil {
		return "", err
	}
	h := hex.EncodeToString(b)
	dashed := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	return base64.StdEncoding.EncodeToString([]byte(dashed)), nil
}

// CreateClient registers a client on each API. A client id already
// registered on an API is replaced, as Tyk does, and the tokens of the
// client it replaces are revoked (they were issued to other credentials).
func (s *Server) CreateClient(ctx context.Context, apiIDs []string, c *Client) error {
	data := c.Encode()
	for _, api := range apiIDs {
		created, err := s.d.Store.PutOAuthClient(ctx, api, c.ID, data)
		if err != nil {
			return storageErr(err)
		}
		if !created {
			if _, err := s.ReplaceClient(ctx, api, c.ID, data, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReplaceClient rewrites (data non-nil) or deletes a client of an API;
// with revoke its tokens are revoked in the same step (every filter drops
// them within a second, through the change feed). found is false when the
// API has no such client.
func (s *Server) ReplaceClient(ctx context.Context, apiID, clientID string, data []byte, revoke bool) (bool, error) {
	hashes, found, err := s.d.Store.ReplaceOAuthClient(ctx, apiID, clientID, data, revoke)
	if err != nil {
		return false, storageErr(err)
	}
	return found, s.revokeHashes(ctx, apiID, hashes)
}

// OAuthAPIs lists the OAuth APIs of a snapshot, sorted, of one
// organisation unless orgID is "".
func OAuthAPIs(snap *snapshot.Snapshot, orgID string) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(snap.APIs)) {
		if api := API(snap, id); api != nil && (orgID == "" || api.OrgID == orgID) {
			out = append(out, id)
		}
	}
	return out
}

// ClientAPIs lists the OAuth APIs a client is registered on.
func (s *Server) ClientAPIs(ctx context.Context, clientID, orgID string) ([]string, error) {
	out := []string{}
	for _, api := range OAuthAPIs(s.d.Snapshots.Current(), orgID) {
		c, _, err := s.LoadClient(ctx, api, clientID)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, api)
		}
	}
	return out, nil
}

// PurgeLapsed drops expired tokens from every client's token index.
func (s *Server) PurgeLapsed(ctx context.Context) error {
	now := s.d.Now().Unix()
	for _, api := range OAuthAPIs(s.d.Snapshots.Current(), "") {
		clients, err := s.d.Store.OAuthClients(ctx, api)
		if err != nil {
			return storageErr(err)
		}
		for id := range clients {
			if _, err := s.d.Store.PurgeLapsedOAuthTokens(ctx, api, id, now); err != nil {
				return storageErr(err)
			}
		}
	}
	return nil
}
