package plugin

import (
	"sort"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/auth"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// JWT sessions (Tyk's dynamically generated sessions, §9.1). A verified
// token of a centralised JWT API names its session by a derived id
// (auth.JWT); the session is resolved like any key's. When none is stored,
// the VM builds it from the token's policies and the sidecar stores it with
// one call (wire.JWTSessionPath); when the token changes the policies of
// the stored session, the same call replaces it. Later requests find the
// session like a key's, so an operator's edit or a deletion reaches them
// through the sync feed within a second, as for keys.
//
// In a chain (multiple authentication) only the base member's session is
// created or replaced; another JWT or OpenID Connect member is looked up
// and checked the same way (its lookup cached as any key's), and then
// dropped, as Tyk does (multi.go).

const callJWTSession = "jwt_session"

// jwksRefreshEvery bounds how often one VM asks the sidecar to refetch one
// API's JWKS for an unknown kid: a flood of forged kids must not become a
// flood of fetches (the sidecar rate-limits too).
const jwksRefreshEvery = 10 * time.Second

// jwtState is the Root's JWT bookkeeping.
type jwtState struct {
	// refresh are the APIs whose JWKS the next poll asks to refetch.
	refresh map[string]struct{}
	// asked is when each API's refetch was last asked (unix ns).
	asked map[string]int64
	// passed are the tokens (their sessions) that passed for an API as a
	// chain member that is not the base, with no session stored, under
	// snapshot passedSeq: a warm request skips building the session only
	// to drop it. Bounded by maxPassed, cleared with each snapshot.
	passed    map[*auth.JWTSession]*model.APIDefinition
	passedSeq uint64
}

// maxPassed bounds jwtState.passed (a few hundred KB of sessions at most,
// which the token cache holds anyway).
const maxPassed = 4096

func (st *jwtState) passedAbsent(js *auth.JWTSession, api *model.APIDefinition, seq uint64) bool {
	return st.passedSeq == seq && st.passed[js] == api
}

func (st *jwtState) notePassed(js *auth.JWTSession, api *model.APIDefinition, seq uint64) {
	if st.passedSeq != seq || len(st.passed) >= maxPassed {
		clear(st.passed)
		st.passedSeq = seq
	}
	if st.passed == nil {
		st.passed = make(map[*auth.JWTSession]*model.APIDefinition)
	}
	st.passed[js] = api
}

// configureJWT gives the JWT and OpenID Connect methods of the new
// snapshot, alone or members of a chain, their keys, the clock and the
// unknown-kid hook.
func (r *Root) configureJWT(s *wire.Snapshot) {
	for api, m := range r.snap.methods {
		if c, ok := m.(*auth.Chain); ok { // multiple authentication: its members
			for _, m := range c.Members {
				r.configureJWTMethod(s, api, m)
			}
			continue
		}
		r.configureJWTMethod(s, api, m)
	}
}

// configureJWTMethod configures m, one method of api, if it verifies tokens.
func (r *Root) configureJWTMethod(s *wire.Snapshot, api *model.APIDefinition, m auth.Method) {
	switch m := m.(type) {
	case *auth.JWT:
		keys := s.JWKS[api.APIID]
		m.SetEnv(keys, r.now, r.jwksMiss)
		if m.NeedsKeys() && len(keys) == 0 {
			// Logged per snapshot, which changes rarely.
			r.log(host.Warn, "JWT API "+api.APIID+" has no verification keys yet (its JWKS not fetched, or a "+
				"PEM jwt_source on a static API: only the sidecar parses PEM): its tokens are refused")
		}
	case *auth.OpenID: // one key set per provider
		m.SetEnv(s.JWKS, r.now, r.jwksMiss)
		if missing := m.MissingKeys(); len(missing) > 0 {
			r.log(host.Warn, "OpenID Connect API "+api.APIID+" has no keys yet for "+strings.Join(missing, ", ")+
				" (discovery or JWKS not fetched by the sidecar): their tokens are refused")
		}
	}
}

// jwksMiss notes that a token named a kid apiID's key set lacks; the next
// sync poll asks the sidecar to refetch (at most every jwksRefreshEvery).
func (r *Root) jwksMiss(apiID string) {
	st := &r.jwt
	now := r.now()
	if at, ok := st.asked[apiID]; ok && now-at < int64(jwksRefreshEvery) {
		return
	}
	if st.asked == nil {
		st.asked, st.refresh = map[string]int64{}, map[string]struct{}{}
	}
	st.asked[apiID] = now
	st.refresh[apiID] = struct{}{}
}

// jwksRefreshParam is the wire.SyncQuery.JWKSRefresh of the next poll, and
// forgets what it names.
func (r *Root) jwksRefreshParam() string {
	if len(r.jwt.refresh) == 0 {
		return ""
	}
	ids := make([]string, 0, len(r.jwt.refresh))
	for id := range r.jwt.refresh {
		ids = append(ids, id)
	}
	clear(r.jwt.refresh)
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// noStoredSession answers a key hash no session is stored under: a
// centralised JWT's session is created (jwtSession), any other credential
// is refused (with Tyk's JWT message for a one-to-one token).
func (h *httpContext) noStoredSession() verdict {
	switch t := h.identity.JWT; {
	case t != nil && t.Session != nil:
		h.entry = nil
		return next
	case t != nil: // one-to-one: the token names no key
		return h.deny(auth.DenyJWTInvalid)
	}
	return h.unknownKey()
}

// jwtSession resolves the session of a centralised JWT's identity like a
// key's (lookupSession), then creates it on the identity's first request,
// or replaces it when the token changes its policies (or extends its
// expiry, or names another OAuth client), as Tyk's processCentralisedJWT
// does.
func (h *httpContext) jwtSession() verdict {
	resumed := h.resumed
	if !h.jwtLooked {
		if v := h.lookupSession(); v != next {
			return v // waiting for the lookup (resumed above), or refused
		}
		h.jwtLooked, resumed = true, false
	}
	t := h.identity.JWT
	r := h.root
	if resumed {
		switch {
		case h.lookupFailed:
			return h.reply(unavailable(), outUnavailable)
		case h.entry.unknown() && h.jwtTries < 2:
			// The answer was a lookup this stream joined: try the write.
			h.entry = nil
		case h.entry.unknown():
			return h.reply(replyKeyNotFound, outKeyNotFound)
		default:
			return next
		}
	}
	js := t.Session
	if !h.isBase() && h.entry == nil && r.jwt.passedAbsent(js, h.api, r.snap.seq) {
		return h.memberPassed(true) // checked before under this snapshot
	}
	cfg, d := js.Config, js.Dynamic
	var stored *model.Session // effective: the stored session with policies applied
	var ids []string
	if h.entry != nil {
		eff := r.effective(h.entry, h.api)
		if eff.s == nil {
			return h.reply(replyKeyNotFound, outKeyNotFound)
		}
		stored, ids = eff.s, eff.s.PolicyIDs()
	}
	ch, err := cfg.Choose(js.Policies, stored != nil, ids, r.snap.policies)
	if err != nil {
		return h.deny(auth.JWTDenial(err))
	}
	var s *model.Session
	if stored == nil {
		s, err = cfg.NewSession(ch, d, r.snap.policies, h.now/int64(time.Second))
	} else {
		if !ch.Update && d.Exp <= stored.Expires && d.ClientID == stored.OauthClientID {
			return h.jwtSessionReady() // the warm path
		}
		// The stored session, not the effective one: policies are applied
		// again from its own fields.
		var own *model.Session
		if own, err = model.DecodeSession(h.entry.json); err == nil {
			s, err = cfg.Update(own, ch, d, r.snap.policies)
		}
	}
	if err != nil {
		return h.deny(auth.JWTDenial(err))
	}
	return h.jwtSessionBuilt(js, s, stored != nil)
}

// jwtSessionBuilt stores s, the session built or updated for the request,
// or, for a chain member that is not the base, drops it: Tyk builds every
// member's session but stores only the base's. The member passed.
func (h *httpContext) jwtSessionBuilt(js *auth.JWTSession, s *model.Session, replace bool) verdict {
	if h.isBase() {
		return h.writeJWTSession(s, replace)
	}
	if !replace {
		h.root.jwt.notePassed(js, h.api, h.root.snap.seq)
	}
	return h.memberPassed(!replace)
}

// memberPassed ends a JWT or OpenID Connect member that is not the base
// once its token and policies passed; absent: it has no stored session.
func (h *httpContext) memberPassed(absent bool) verdict {
	if absent {
		h.root.keepAbsent(h.hash, h.now)
	}
	return h.memberDone()
}

// keepAbsent keeps the cached "no session" answer for hash as long as a
// found session is kept (session_cache.ttl_ms from its lookup), not just
// negative_cache_ttl_ms: the session of a JWT or OpenID Connect member that
// is not the base is never written, so without this every identity would
// cost a lookup every 2 s on each VM. The sync feed evicts the entry when
// the session is created (say, by an API where that method is the base),
// as it evicts a changed session. Only an entry the lookup cached is kept
// (not one answered while the key changed).
func (r *Root) keepAbsent(hash string, now int64) {
	if e, ok := r.sessions.Get(hash, now); ok && e.unknown() {
		r.sessions.PutSized(hash, e, e.fetched+r.ttl(), e.bytes())
	}
}

// jwtSessionReady goes on with a stored session that needs no change: the
// request's session, or, for a chain member that is not the base, the end
// of that member (multi.go).
func (h *httpContext) jwtSessionReady() verdict {
	if !h.isBase() {
		return h.memberPassed(false)
	}
	return next
}

// writeJWTSession sends s to the sidecar to be stored under the request's
// key hash. Streams of the same identity wait on one call, as on a lookup,
// and the answer (the session as stored) is cached like a lookup's.
func (h *httpContext) writeJWTSession(s *model.Session, replace bool) verdict {
	r := h.root
	h.jwtTries++
	h.entry = nil
	if l, ok := r.lookups[h.hash]; ok {
		l.waiters = append(l.waiters, h.id)
		return wait
	}
	r.m.calls[callJWTSession].Increment(1)
	body := s.AppendJSON(r.scratch[:0])
	hash := h.hash
	err := r.postFromRoot(h.id, wire.JWTSessionPath(hash, replace), body, r.cfg.LookupTimeoutMS,
		func(ans *host.CallResponse) { r.onLookup(hash, ans) })
	if err != nil {
		r.m.failures[callJWTSession].Increment(1)
		r.log(host.Warn, "JWT session call failed: "+err.Error())
		return h.reply(unavailable(), outUnavailable)
	}
	r.lookups[hash] = &lookup{waiters: []uint32{h.id}}
	return wait
}
