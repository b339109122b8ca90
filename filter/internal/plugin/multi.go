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

// stepResolve is the index of "resolve session" in the pipeline.
var stepResolve = func() int {
	for i, s := range pipeline {
		if s.name == "resolve session" {
			return i
		}
	}
	panic("pipeline has no resolve session step")
}

func (h *httpContext) authenticateChain(c *auth.Chain) verdict {
	ids, failed, d := c.IdentifyAll(h.request(), h.path)
	if d != nil {
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
	h.useIdentity(h.chainIDs[i])
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
		h.step = stepResolve() - 1 // run's h.step++ lands on it
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
