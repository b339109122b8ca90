package plugin

import "github.com/turnpike-dev/turnpike/filter/internal/auth"

// Multiple authentication (auth.Chain): every member identifies the
// request first; then, member by member in Tyk's order, the steps from
// "resolve session" to "verify credential" run for that member's identity
// (its own lookup, policies and check). When the last member passes, the
// request goes on with the base member's session, method and credential.

// memberState is what the steps after "verify credential" use of the base
// member.
type memberState struct {
	method   auth.Method
	identity auth.Identity
	hash     string
	entry    *sessionEntry
	eff      *effective
}

func (h *httpContext) authenticateChain(c *auth.Chain) verdict {
	ab := &h.authBody
	var ids []auth.Identity
	var failed int
	var d *auth.Denial
	if ab.chain == nil {
		ids, failed, d = c.IdentifyAll(h.request(), h.path)
		if d == auth.DenyNeedsBody { // a basic-auth member reads the body (authbody.go)
			ab.chain = c
			if h.bodyFollows {
				return h.awaitAuthBody()
			}
			ab.read = true // no body: Tyk reads an empty one
		}
	}
	if ab.chain != nil { // the body is in
		ids, failed, d = c.IdentifyAllWithBody(h.request(), h.path, ab.body)
		ab.body = nil
		if h.detached { // the wait for the body detached the request already
			for i := range ids {
				ids[i].Detach()
			}
		}
	}
	if d != nil {
		if ab.chain == nil && h.awaitKeys(d) { // (with a body read, it is gone)
			return wait
		}
		h.authMethod = c.Members[failed] // its challenge
		return h.deny(d)
	}
	h.chain, h.chainIDs = c, ids
	h.startMember(0)
	return next
}

// startMember makes member i the one the next steps resolve and verify.
func (h *httpContext) startMember(i int) {
	h.chainAt = i
	h.authMethod = h.chain.Members[i]
	h.entry, h.stale, h.eff, h.lookupFailed = nil, nil, nil, false
	h.jwtLooked, h.jwtTries = false, 0
	h.useIdentity(h.chainIDs[i])
}

// isBase reports whether the identity being resolved provides the
// request's session: always without a chain, else only the base member's.
// A JWT or OpenID Connect session is stored only then (jwtsession.go).
func (h *httpContext) isBase() bool { return h.chain == nil || h.chain.IsBase(h.chainAt) }

// memberDone ends a member whose session is not the request's once its
// token and policies passed (a non-base JWT or OpenID Connect member): its
// session, maybe stored nowhere, has no policies to apply nor credential to
// verify, so the chain moves on as if "verify credential" had passed.
func (h *httpContext) memberDone() verdict {
	h.step = stepVerify
	return h.nextMember()
}

// nextMember runs after a member passed "verify credential": the next
// member goes back to "resolve session"; after the last, the base member's
// state is restored and the pipeline goes on.
func (h *httpContext) nextMember() verdict {
	c := h.chain
	if h.chainAt == c.Base {
		h.base = memberState{h.authMethod, h.identity, h.hash, h.entry, h.eff}
	}
	if h.chainAt+1 < len(c.Members) {
		h.startMember(h.chainAt + 1)
		h.step = stepResolve - 1 // run's h.step++ lands on it
		return next
	}
	if c.Base < 0 {
		return h.deny(auth.DenySessionMissing)
	}
	b := h.base
	h.authMethod, h.identity, h.cred, h.hash, h.entry, h.eff = b.method, b.identity, b.identity.Cred, b.hash, b.entry, b.eff
	h.cred.Key = ""
	return next
}
