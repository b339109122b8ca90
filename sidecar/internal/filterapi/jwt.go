package filterapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
)

// POST /turnpike/v1/jwt-sessions/{keyHash}[?replace=1]: a session a filter
// built from a JWT (Tyk's dynamically generated sessions). Stored unless
// one is stored already (two VMs may create the same identity's session at
// once: the first wins), or in any case with replace; the answer is the
// session now stored, as a session lookup answers.
func (a *API) jwtSession(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("keyHash")
	if !keys.IsHash(hash) {
		writeError(w, wire.StatusBadRequest, "key hash must be 64 lower-case hex digits")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed session: "+err.Error())
		return
	}
	s, err := model.DecodeSession(body)
	if err != nil {
		writeError(w, wire.StatusBadRequest, "malformed session: "+err.Error())
		return
	}
	if s.DateCreated == "" {
		s.DateCreated = time.Now().UTC().Format(time.RFC3339)
	}
	data, ttl := s.AppendJSON(nil), lifetime(s, a.d.Snapshots.Current())
	if r.URL.Query().Get(wire.QueryReplace) == "1" {
		err = a.d.Store.PutSession(r.Context(), hash, data, ttl, nil)
	} else {
		_, err = a.d.Store.CreateSession(r.Context(), hash, data, ttl)
	}
	if err != nil {
		a.storageFailed(w, err)
		return
	}
	a.d.Logger.Info("JWT session stored", "key_hash", hash, "alias", s.Alias)
	a.session(w, r)
}

// lifetime is the Redis TTL of a session, as for keys (Tyk §7.7): its own
// session_lifetime, else the largest of its APIs', else none.
func lifetime(s *model.Session, snap *snapshot.Snapshot) time.Duration {
	secs := s.SessionLifetime
	if secs <= 0 {
		for id := range s.AccessRights {
			if api, ok := snap.APIs[id]; ok {
				secs = max(secs, api.SessionLifetime)
			}
		}
	}
	return time.Duration(max(secs, 0)) * time.Second
}

// refreshJWKS asks the fetcher to refetch the JWKS of the APIs a filter
// named (an unknown kid); the fetcher rate-limits. With wait (a fresh poll:
// a request is waiting for it), it returns when those fetches are done,
// or after jwksWait, so that the poll brings the new keys.
func (a *API) refreshJWKS(ctx context.Context, ids string, snap *snapshot.Snapshot, wait bool) {
	if a.d.JWKS == nil || ids == "" {
		return
	}
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, jwksWait)
		defer cancel()
	}
	var wg sync.WaitGroup
	for _, id := range strings.Split(ids, ",") {
		if api, ok := snap.APIs[id]; ok {
			for _, url := range snapshot.KeyURLs(api) {
				if !wait {
					a.d.JWKS.Refresh(url)
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.d.JWKS.RefreshWait(ctx, url)
				}()
			}
		}
	}
	wg.Wait()
}

// jwksWait bounds how long a fresh poll waits for the JWKS fetches it
// asked for: well within the filter's sync timeout (2 s by default), so a
// slow identity provider delays the poll, never fails it.
const jwksWait = time.Second
