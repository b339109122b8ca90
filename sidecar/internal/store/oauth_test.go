package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// The atomic OAuth steps: a token is recorded only for the client as read
// and with its grant unused; replacing a client empties its token index.
func TestOAuthMintAndReplace(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		client := []byte(`{"id":"c1","secret":"s1"}`)
		if ok, err := s.PutOAuthClient(ctx, "api", "c1", client); err != nil || !ok {
			t.Fatalf("PutOAuthClient = %v, %v", ok, err)
		}
		if ok, _ := s.PutOAuthClient(ctx, "api", "c1", []byte(`{}`)); ok {
			t.Fatal("PutOAuthClient replaced an existing client")
		}
		if err := s.PutOAuthGrant(ctx, "api", "code1", []byte(`{}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		now := time.Now().Unix()
		mint := Mint{APIID: "api", ClientID: "c1", Client: client, KeyHash: hashN(1), Access: []byte(`{"a":1}`),
			ExpiresIn: 60, ExpiresAt: now + 60, RefreshHash: "r1", Refresh: []byte(`{"r":1}`), RefreshTTL: 600,
			GrantKind: OAuthAuthorize, GrantHash: "code1"}
		if err := s.MintOAuthAccess(ctx, mint); err != nil {
			t.Fatal(err)
		}
		mint.KeyHash = hashN(2)
		if err := s.MintOAuthAccess(ctx, mint); !errors.Is(err, ErrGrantUsed) {
			t.Fatalf("second use of the code: %v", err)
		}
		if b, err := s.OAuthRecord(ctx, "api", OAuthRefresh, "r1"); err != nil || string(b) != `{"r":1}` {
			t.Fatalf("refresh record = %s, %v", b, err)
		}
		stale := mint
		stale.Client, stale.GrantKind = []byte(`{"id":"c1","secret":"old"}`), ""
		if err := s.MintOAuthAccess(ctx, stale); !errors.Is(err, ErrClientChanged) {
			t.Fatalf("mint for a changed client: %v", err)
		}
		// A refresh replaces the old token in the index.
		refresh := Mint{APIID: "api", ClientID: "c1", Client: client, KeyHash: hashN(3), Access: []byte(`{}`),
			ExpiresIn: 60, ExpiresAt: now + 30, GrantKind: OAuthRefresh, GrantHash: "r1", OldKeyHash: hashN(1)}
		if err := s.MintOAuthAccess(ctx, refresh); err != nil {
			t.Fatal(err)
		}
		toks, err := s.OAuthTokens(ctx, "api", "c1", now)
		if err != nil || len(toks) != 1 || toks[0].KeyHash != hashN(3) || toks[0].Expires != now+30 {
			t.Fatalf("OAuthTokens = %+v, %v", toks, err)
		}
		if _, err := s.OAuthRecord(ctx, "api", OAuthAccess, hashN(1)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old access record: %v", err)
		}
		hashes, found, err := s.ReplaceOAuthClient(ctx, "api", "c1", nil, true)
		if err != nil || !found || !slices.Equal(hashes, []string{hashN(3)}) {
			t.Fatalf("ReplaceOAuthClient = %v, %v, %v", hashes, found, err)
		}
		if _, found, _ := s.ReplaceOAuthClient(ctx, "api", "c1", nil, true); found {
			t.Fatal("deleted client found")
		}
		if err := s.MintOAuthAccess(ctx, Mint{APIID: "api", ClientID: "c1", Client: client, KeyHash: hashN(4),
			Access: []byte(`{}`), ExpiresIn: 1, ExpiresAt: now}); !errors.Is(err, ErrClientChanged) {
			t.Fatalf("mint for a deleted client: %v", err)
		}
	})
}
