package auth

import (
	"crypto/subtle"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"golang.org/x/crypto/blake2s"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/cache"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Basic is Tyk's basic authentication (use_basic_auth): "Authorization:
// Basic base64(user:password)", the user naming the session stored under
// basicauth.SessionID(org, user), the password checked against its
// basic_auth_data (bcrypt) once the session is resolved.
//
// bcrypt costs tens of milliseconds natively and several times that in a
// Wasm VM, so a successful check is remembered (per stored hash, with a
// salted BLAKE2s-256 digest of the password) for basic_auth.cache_ttl unless
// basic_auth.disable_caching; a failed check is never remembered as a
// success, and after FailureBurst failed checks of one user within
// FailureWindow further attempts are refused without running bcrypt until
// the window ends (a remembered correct password still passes). The time
// failed checks of all users together take is limited too: at most
// FailureCPUShare of the VM's time after a burst of FailureCPUBurst (a
// token bucket in nanoseconds, measured with the host's clock, so a loaded
// machine where bcrypt is slower gets fewer checks, not more CPU). An
// attack spread over many user names cannot make the VM spend its CPU on
// bcrypt either; while that budget is spent, only remembered passwords
// pass.
type Basic struct {
	org       string
	conf      *model.AuthConfig // auth_configs.basic: where the header is
	challenge string
	cacheTTL  int64 // ns; 0: caching disabled
	// denied is this API's "User not authorised", with its challenge.
	denied  *Denial
	missing *Denial
	// body reads the credentials from the request body when the header
	// gives none (basic_auth.extract_from_body); nil when off.
	body *basicauth.BodyRegexps
	// ids remembers the session id of each user name seen (at most
	// maxSessionIDs, then it starts again): a warm request then allocates
	// nothing. User names are not secret; the map lives as long as this
	// API's snapshot.
	ids map[string]string
}

const maxSessionIDs = 1024

// sessionID is basicauth.SessionID(b.org, user), remembered.
func (b *Basic) sessionID(user []byte) string {
	if id, ok := b.ids[string(user)]; ok { // no allocation: the compiler converts in place
		return id
	}
	if len(b.ids) >= maxSessionIDs {
		clear(b.ids)
	}
	u := string(user)
	id := basicauth.SessionID(b.org, u)
	b.ids[u] = id
	return id
}

// DenyNeedsBody is what Identify answers when the credentials are to be
// read from the request body: never sent, the pipeline reads the body and
// calls IdentifyBody (filter/internal/plugin/authbody.go).
var DenyNeedsBody = &Denial{400, "the credentials are in the request body", "needs_body"}

// Failure limiting, per user and VM.
const (
	FailureBurst    = 5
	FailureWindow   = 10 * time.Second
	FailureCPUBurst = 3 * time.Second
	FailureCPUShare = 10 // percent
	// minFailureCost is what a failed check costs at least, for clocks
	// that do not move during the call (a test host).
	minFailureCost = 100 * time.Millisecond
)

// defaultCacheTTL is Tyk's basic-auth cache TTL (defaultBasicAuthTTL).
const defaultCacheTTL = 60 * time.Second

// Outcomes of basic-auth and HMAC denials.
const (
	OutMalformed    = "malformed_credential" // 400 header not in the method's format
	OutUnauthorized = "unauthorized"         // 401/400 unknown user, wrong password or signature
	OutThrottled    = "auth_throttled"       // 401 too many failed password checks for the user
)

// NewBasic makes the basic-auth method of api, or Refused when its body
// regexps are missing or do not compile.
func NewBasic(api *model.APIDefinition) Method {
	conf := api.AuthConfigs["basic"]
	b := &Basic{org: api.OrgID, conf: &conf, challenge: `Basic realm="` + api.Name + `"`, ids: map[string]string{}}
	if !api.BasicAuth.DisableCaching {
		b.cacheTTL = int64(defaultCacheTTL)
		if ttl := api.BasicAuth.CacheTTL; ttl > 0 {
			b.cacheTTL = int64(ttl) * int64(time.Second)
		}
	}
	b.denied = &Denial{access.StatusUnauthorized, basicauth.MsgUnauthorized, OutUnauthorized}
	b.missing = &Denial{access.StatusUnauthorized, access.MsgAuthFieldMissing, OutMissingKey}
	if ba := api.BasicAuth; ba.ExtractFromBody {
		re, err := basicauth.CompileBody(ba.BodyUserRegexp, ba.BodyPasswordRegexp)
		if err != nil {
			return Refused{Field: "basic_auth.extract_from_body", Why: err.Error()}
		}
		b.body = re
	}
	return b
}

// Challenge is Tyk's challenge: the realm is the API's name.
func (b *Basic) Challenge() string { return b.challenge }

// Identify reads the user; the password is checked by Verify.
func (b *Basic) Identify(req Request, path string) (Identity, *Denial) {
	c := Extract(b.conf, req.RequestHeader, path)
	if c.Key == "" {
		if b.body != nil {
			return Identity{}, DenyNeedsBody
		}
		return Identity{}, b.missing
	}
	var buf [128]byte
	user, password, err := basicauth.AppendParseHeader(buf[:0], c.Key)
	if err != nil {
		if b.body != nil { // Tyk: any header failure falls back to the body
			return Identity{}, DenyNeedsBody
		}
		return Identity{}, &Denial{400, err.Error(), OutMalformed}
	}
	// c.Key stays: Verify reads the password from it without asking the
	// host for the header again (Detach copies it if the request pauses).
	if len(user) < MinKeyLength || len(user) > keys.MaxCustomLen {
		return Identity{}, b.denied // Tyk: shorter than min_token_length is unknown
	}
	id := Identity{Key: b.sessionID(user), Cred: c, Unknown: b.denied}
	if b.cacheTTL > 0 {
		id.PasswordDigest = passwords.digest(password)
	}
	return id, nil
}

// IdentifyBody reads the user and password from the request body (Identify
// answered DenyNeedsBody): Tyk's 400s when the regexps find none. The
// header's location stays in Cred, so strip_auth_data still removes it.
func (b *Basic) IdentifyBody(req Request, path string, body []byte) (Identity, *Denial) {
	user, password, err := b.body.Credentials(body)
	if err != nil {
		return Identity{}, &Denial{400, err.Error(), OutMalformed}
	}
	if len(user) < MinKeyLength || len(user) > keys.MaxCustomLen {
		return Identity{}, b.denied
	}
	c := Extract(b.conf, req.RequestHeader, path)
	c.Key = ""
	id := Identity{Key: basicauth.SessionID(b.org, user), Cred: c, Unknown: b.denied,
		BodyPassword: append([]byte{}, password...)} // never nil
	if b.cacheTTL > 0 {
		id.PasswordDigest = passwords.digest(id.BodyPassword)
	}
	return id, nil
}

// Verify checks the password against the session's basic_auth_data: a
// success remembered for the digest Identify made, else bcrypt (limited).
func (b *Basic) Verify(req Request, path string, id *Identity, s *model.Session) *Denial {
	if b.cacheTTL > 0 && passwords.remembered(s.BasicAuthData, id.PasswordDigest, now(req)) {
		return nil
	}
	var buf [128]byte
	password := id.BodyPassword
	if password == nil {
		var err error
		if _, password, err = basicauth.AppendParseHeader(buf[:0], id.Cred.Key); err != nil {
			return b.denied // cannot happen: Identify parsed the same header
		}
	}
	if !passwords.check(id.Key, s.BasicAuthData, password, id.PasswordDigest, func() int64 { return now(req) }, b.cacheTTL) {
		if passwords.throttled {
			return &Denial{b.denied.Status, b.denied.Message, OutThrottled}
		}
		return b.denied
	}
	return nil
}

// passwordState is this VM's memory of password checks (each VM is its
// own Wasm instance, so package state is per VM and single-threaded).
type passwordState struct {
	// ok maps a stored password hash to the digest of the password that
	// matched it. A new password has a new hash (bcrypt salts), so a
	// changed password never hits an old entry.
	ok *cache.LRU[digest]
	// salt is prefixed to the password before hashing: a random per-VM
	// value, so the digests in memory are not plain hashes of passwords
	// (no precomputed tables). A cryptographic hash (BLAKE2s-256: half
	// SHA-256's cost in Wasm) makes a remembered digest match only the
	// password that matched bcrypt: a client cannot find another password
	// with the same digest, as it could try to with a fast
	// non-cryptographic hash (which a remembered success is checked
	// against before any failure limit applies, so guesses are free).
	salt [saltLen]byte
	// failed counts failed checks per session id within a window.
	failed *cache.LRU[failures]
	// budget is the time failed checks may still take (ns), as of
	// budgetAt; it refills at FailureCPUShare percent of the time passing.
	budget, budgetAt int64
	// throttled says whether the last check was refused by the limit.
	throttled bool
}

// failures are a user's failed checks since the window started.
type failures struct {
	n   int
	end int64 // unix ns: the window ends, and the entry with it
}

// count counts one failure; the window starts at the first and later ones
// do not extend it.
func (f *failures) count(now int64) {
	if f.n == 0 {
		f.end = now + int64(FailureWindow)
	}
	f.n++
}

// Bounds of the memory: entries are small, and a flood of users or
// passwords only evicts older entries.
const (
	verifiedEntries = 4096
	failureEntries  = 4096
)

var passwords = newPasswordState()

func newPasswordState() *passwordState {
	p := &passwordState{ok: cache.New[digest](verifiedEntries), failed: cache.New[failures](failureEntries),
		budget: int64(FailureCPUBurst)}
	// The runtime's generator (ChaCha8 seeded from WASI random_get), not
	// crypto/rand: its first read arms a Go timer, and with one armed every
	// collection calls WASI poll_oneoff, fatal on some Envoys (newVMID in
	// plugin/refresh.go; TestFilterNeverCallsPollOneoff).
	binary.LittleEndian.PutUint64(p.salt[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(p.salt[8:], rand.Uint64())
	return p
}

// saltLen keeps salt and a password of up to 48 bytes within one BLAKE2s
// block (64 bytes).
const saltLen = 16

// digest is what the VM remembers of a password that matched:
// BLAKE2s-256(salt || password).
type digest [blake2s.Size]byte

func (p *passwordState) digest(password []byte) digest {
	var buf [128]byte // the common case hashes without allocating
	return blake2s.Sum256(append(append(buf[:0], p.salt[:]...), password...))
}

// remembered reports whether a success of the password with digest d is
// remembered for data (the session's stored password).
func (p *passwordState) remembered(data model.BasicAuthData, d digest, now int64) bool {
	if data.Password == "" {
		return false
	}
	r, ok := p.ok.Get(data.Password, now)
	return ok && subtle.ConstantTimeCompare(r[:], d[:]) == 1
}

// check reports whether password matches the stored basic_auth_data of
// user's session with bcrypt, within the failure limits, and remembers a
// success as d, the password's digest, for ttl (0: never). The caller
// found no success remembered for d. clock reads the host's clock.
func (p *passwordState) check(user string, data model.BasicAuthData, password []byte, d digest, clock func() int64, ttl int64) bool {
	p.throttled = false
	now := clock()
	f, _ := p.failed.Get(user, now)
	if f.n >= FailureBurst || p.refill(now) <= 0 {
		p.throttled = true
		return false
	}
	if basicauth.Verify(data.HashType, data.Password, string(password)) != nil {
		p.budget -= max(clock()-now, int64(minFailureCost))
		f.count(now)
		p.failed.Put(user, f, f.end)
		return false
	}
	if ttl > 0 {
		p.ok.Put(data.Password, d, now+ttl)
	}
	return true
}

// refill adds the budget earned since the last check and returns it.
func (p *passwordState) refill(now int64) int64 {
	if now > p.budgetAt {
		// Elapsed time is capped first: the product must not overflow.
		elapsed := min(now-p.budgetAt, int64(FailureCPUBurst)*100/FailureCPUShare)
		p.budget = min(p.budget+elapsed*FailureCPUShare/100, int64(FailureCPUBurst))
		p.budgetAt = now
	}
	return p.budget
}
