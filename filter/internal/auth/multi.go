package auth

import (
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Chain is Tyk's multiple authentication (and any API with static mutual
// TLS, see Precheck): an API that enables several
// methods requires every one of them to pass, in Tyk's middleware order
// (model.APIDefinition.AuthMethods), and base_identity_provided_by names
// the method whose session provides access rights, rate limits and quota.
//
// Tyk's rules (each auth middleware stores its session on the request only
// when base_identity_provided_by names it or is unset): unset, the last
// method's session counts (it overwrites the others'); a name that matches
// no enabled method leaves the request without a session, which Tyk's
// KeyExpired middleware answers 400 "Session state is missing or unset!".
// One exception: a one-to-one JWT (no jwt_source) stores the key it names
// whatever base_identity_provided_by says, so it is the base when no later
// member is.
//
// JWT and OpenID Connect sessions are dynamic (made from the token): a
// member that is not the base verifies its token and its policies exactly
// as alone, but its session is neither stored nor used (Tyk builds it and
// drops it); the pipeline asks IsBase before writing one.
//
// The pipeline identifies every member first (IdentifyAll), then resolves
// and verifies each member's own session in order, and continues with the
// base member's (filter/internal/plugin).
type Chain struct {
	Members []Method
	Names   []string // the switch enabling each member (use_basic_auth, ...)
	// Base is the index of the member whose session counts, -1 when
	// base_identity_provided_by names none of them.
	Base int
	// Precheck, when set, is the API's static mutual TLS, checked before
	// any member (use_mutual_tls_auth).
	Precheck *MTLS
}

// DenySessionMissing: base_identity_provided_by names no enabled method,
// so no session provides the identity (Tyk's KeyExpired middleware).
var DenySessionMissing = &Denial{400, access.MsgSessionMissing, "session_missing"}

func (c *Chain) add(name string, m Method) {
	c.Members = append(c.Members, m)
	c.Names = append(c.Names, name)
}

// finish returns the method For hands out: the only member when it alone
// provides the identity, else the chain with its base found.
func (c Chain) finish(base string) Method {
	c.Base = len(c.Members) - 1
	if base != "" {
		c.Base = -1
		want := model.BaseIdentities[base]
		for i, n := range c.Names {
			if n == want {
				c.Base = i
			}
		}
	}
	for i, m := range c.Members {
		if j, ok := m.(*JWT); ok && j.oneToOne && i > c.Base {
			c.Base = i // Tyk's one-to-one JWT sets the session unconditionally
		}
	}
	if len(c.Members) == 1 && c.Base == 0 && c.Precheck == nil {
		return c.Members[0]
	}
	return &c
}

// IsBase reports whether member i's session is the request's: the one a
// dynamic (JWT, OpenID Connect) member may store.
func (c *Chain) IsBase(i int) bool { return i == c.Base }

// IdentifyAll identifies the request with every member in order. On a
// denial, failed is the member that denied it (its challenge applies). A
// basic-auth member reading credentials from the body (as in Tyk, also in
// a chain) answers DenyNeedsBody when the header has none: the pipeline
// reads the body and calls IdentifyAllWithBody.
func (c *Chain) IdentifyAll(req Request, path string) (ids []Identity, failed int, d *Denial) {
	return c.identifyAll(req, path, nil, false)
}

// IdentifyAllWithBody is IdentifyAll once the request body is read (nil:
// the request has none): a member that needs it identifies from it.
func (c *Chain) IdentifyAllWithBody(req Request, path string, body []byte) (ids []Identity, failed int, d *Denial) {
	return c.identifyAll(req, path, body, true)
}

func (c *Chain) identifyAll(req Request, path string, body []byte, read bool) (ids []Identity, failed int, d *Denial) {
	if c.Precheck != nil {
		if d = c.Precheck.Check(req); d != nil {
			return nil, 0, d
		}
	}
	ids = make([]Identity, len(c.Members))
	for i, m := range c.Members {
		ids[i], d = m.Identify(req, path)
		if b, ok := m.(*Basic); ok && d == DenyNeedsBody && read {
			ids[i], d = b.IdentifyBody(req, path, body)
		}
		if d != nil {
			return nil, i, d
		}
	}
	return ids, 0, nil
}

// Identify identifies the request with every member and returns the base
// member's identity. It checks credentials only as far as Identify does:
// the pipeline verifies each member's session (IdentifyAll).
func (c *Chain) Identify(req Request, path string) (Identity, *Denial) {
	ids, _, d := c.IdentifyAll(req, path)
	if d != nil {
		return Identity{}, d
	}
	if c.Base < 0 {
		return Identity{}, DenySessionMissing
	}
	return ids[c.Base], nil
}
