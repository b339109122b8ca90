// Package auth is the filter's authentication step: one Method per Tyk auth
// mode of an API definition, each in its own file, all behind one
// interface. A method reads the request's credential and says which session
// it names, or denies the request; the pipeline then resolves that session
// (filter/internal/plugin). The parts a sidecar needs as well (key formats
// and hashing, password and signature checks) live in shared/.
package auth

import (
	"slices"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Request is what a method reads of a request: its headers by lower-case
// name ("" when absent; :method, :path and :authority included) and the
// host's properties (Envoy attributes such as connection.mtls). Results may
// be views of the callback's memory. host.Host is one.
type Request interface {
	RequestHeader(name string) string
	Property(path ...string) ([]byte, bool)
}

// Identity is who a request says it is.
type Identity struct {
	// Key is the secret the session is stored under (before hashing): for
	// auth tokens, the API key itself. It may be a view of the request's
	// memory.
	Key string
	// Cred is where the credential was, so it can be stripped before the
	// request goes upstream.
	Cred Credential
	// Unknown is the denial when Key names no session (or one whose
	// policies cannot be applied); nil means DenyUnknown. Basic auth
	// answers 401 with a challenge, HMAC 400 (Tyk's messages).
	Unknown *Denial
	// JWT is the request's verified (or, one-to-one, parsed) JWT; nil for
	// other methods. Not a view of the request: it is cached per VM.
	JWT *JWTToken
	// DateName and Date are the request's date header as HMAC's Identify
	// read it ("x-aux-date" or "date", and its value, a view), so Verify
	// signs the same date without reading the headers again (host calls).
	DateName, Date string
	// BodyPassword is basic auth's password when the credentials came from
	// the request body (Basic.IdentifyBody), never a view; nil otherwise
	// (Verify reads the header's from Cred.Key).
	BodyPassword []byte
	// PasswordDigest is basic auth's digest of the presented password,
	// made by Identify (or IdentifyBody) from the bytes it decoded when
	// the API remembers passwords, so Verify finds a remembered success
	// without decoding the header a second time.
	PasswordDigest digest
}

// Detach copies what the identity holds of the request's memory, before the
// request pauses (the views are only valid during one callback). A field
// added to Identity that may be a view is copied here too.
func (id *Identity) Detach() {
	id.Key = strings.Clone(id.Key)
	id.Cred.Key = strings.Clone(id.Cred.Key) // basic auth and HMAC keep their header there
	id.Date = strings.Clone(id.Date)
}

// Denial is a request refused by authentication: the status and Tyk's
// message, and the outcome its metric counts.
type Denial struct {
	Status  int
	Message string
	Outcome string
}

// Outcomes of authentication denials (turnpike.decision.<outcome>).
const (
	OutMissingKey  = "missing_key"   // 401 Authorization field missing
	OutKeyNotFound = "key_not_found" // 403 unknown, malformed or too short key
	OutRefused     = "auth_refused"  // 403 the API enables an auth method Turnpike does not enforce
)

var (
	// DenyMissing: no credential where the API expects one.
	DenyMissing = &Denial{access.StatusUnauthorized, access.MsgAuthFieldMissing, OutMissingKey}
	// DenyUnknown: a credential that names no session. Tyk answers 403
	// without saying whether the key exists.
	DenyUnknown = &Denial{access.StatusForbidden, access.MsgKeyNotFound, OutKeyNotFound}
	// DenyRefused: the API asks for an auth method Turnpike does not
	// enforce. Never a decision by another method: falling back to the
	// auth token would let a key through where, say, a JWT is required.
	DenyRefused = &Denial{access.StatusForbidden, access.MsgKeyNotFound, OutRefused}
)

// Method authenticates the requests of one API.
type Method interface {
	// Identify finds the request's credential and the session it names.
	// path is the request's normalized :path, with its query string.
	Identify(req Request, path string) (Identity, *Denial)
}

// Challenger is a Method whose 401 answers carry a WWW-Authenticate
// challenge naming its scheme (RFC 7235 §4.1). A method that is not one
// sends none.
type Challenger interface {
	Challenge() string
}

// Verifier is a Method whose credential is checked against the session it
// names once the session is resolved (a password, a signature): the
// pipeline's "verify credential" step calls it with the effective session.
type Verifier interface {
	Verify(req Request, path string, id *Identity, s *model.Session) *Denial
}

// For returns the method that authenticates requests to api: the auth
// token when no switch is set, the one method an API enables, a Chain of
// them when it enables several (Tyk's multiple authentication), or Refused
// when api enables an auth method Turnpike does not enforce. It is meant
// to run once per API and snapshot, not per request: each method parses
// its configuration when it is made.
func For(api *model.APIDefinition) Method {
	var chain Chain
	methods := api.AuthMethods()
	oauth := slices.Contains(methods, "use_oauth2")
	for _, m := range methods {
		var mm Method
		switch m {
		case "use_keyless": // keyless APIs never get here
			continue
		case "use_standard_auth":
			if oauth {
				continue // the bearer token is the key both check
			}
			mm = authToken(api)
		case "use_oauth2":
			mm = NewOAuth(api)
		case "use_mutual_tls_auth":
			chain.Precheck = NewMTLS(api)
			continue
		case "use_basic_auth":
			mm = NewBasic(api)
		case "enable_signature_checking":
			mm = NewHMAC(api)
		case "enable_jwt":
			mm = NewJWT(api)
		case "use_openid":
			mm = NewOpenID(api)
		default:
			return Refused{Field: m}
		}
		chain.add(m, mm)
	}
	if len(chain.Members) == 0 {
		chain.add("use_standard_auth", authToken(api))
	}
	return chain.finish(api.BaseIdentityProvidedBy)
}

// authToken is api's auth token: a key, or the client certificate.
func authToken(api *model.APIDefinition) Method {
	if api.Auth.UseCertificate {
		return CertToken{org: api.OrgID}
	}
	return AuthToken{&api.Auth}
}

// Unknowner is a Method with its own answer to a credential that names no
// session (Tyk's OAuth: 403 Key not authorised).
type Unknowner interface {
	Unknown() *Denial
}

// clock is what a Request may offer besides headers: the host's clock
// (host.Host has it). Without it, the system clock.
type clock interface{ Now() int64 }

// now is the request's time in unix nanoseconds.
func now(req Request) int64 {
	if c, ok := req.(clock); ok {
		return c.Now()
	}
	return time.Now().UnixNano()
}
