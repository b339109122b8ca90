package auth

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// clocked is a request with the host's clock.
type clocked struct {
	headers
	now int64
}

func (c *clocked) Now() int64 { return c.now }

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func basicAPI() *model.APIDefinition {
	return &model.APIDefinition{APIID: "b", Name: "Basic API", OrgID: "org1", UseBasicAuth: true}
}

func TestBasicIdentify(t *testing.T) {
	b := For(basicAPI()).(*Basic)
	if b.Challenge() != `Basic realm="Basic API"` {
		t.Errorf("challenge %q", b.Challenge())
	}
	for _, tc := range []struct {
		name, auth, key string
		status          int
		msg             string
	}{
		{"ok", basicHeader("alice", "pw"), "org1alice", 0, ""},
		{"org-prefixed user", basicHeader("org1alice", "pw"), "org1alice", 0, ""},
		{"missing", "", "", 401, "Authorization field missing"},
		{"one word", "Basic", "", 400, basicauth.MsgMalformedHeader},
		{"bad base64", "Basic %%%", "", 400, basicauth.MsgBadEncoding},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), "", 400, basicauth.MsgMalformedValues},
		{"user too short", basicHeader("al", "pw"), "", 401, basicauth.MsgUnauthorized},
	} {
		id, d := b.Identify(headers{"authorization": tc.auth}, "/b/")
		if tc.status == 0 {
			if d != nil || id.Key != tc.key || id.Unknown == nil || id.Unknown.Status != 401 || id.Cred.From != Header {
				t.Errorf("%s: %+v %+v", tc.name, id, d)
			}
			continue
		}
		if d == nil || d.Status != tc.status || d.Message != tc.msg {
			t.Errorf("%s: denial %+v, want %d %q", tc.name, d, tc.status, tc.msg)
		}
	}
	// A user seen before costs no allocation (its session id is remembered).
	req := headers{"authorization": basicHeader("alice", "pw")}
	if n := testing.AllocsPerRun(100, func() { b.Identify(req, "/b/") }); n != 0 {
		t.Errorf("warm Identify: %v allocations", n)
	}
}

func TestBasicVerifyCachesAndLimits(t *testing.T) {
	hash, err := basicauth.Hash("right")
	if err != nil {
		t.Fatal(err)
	}
	api := basicAPI()
	api.BasicAuth.CacheTTL = 30
	b := For(api).(*Basic)
	s := &model.Session{BasicAuthData: model.BasicAuthData{Password: hash, HashType: "bcrypt"}}
	start := time.Now().UnixNano()
	verify := func(user, pw string, at time.Duration) *Denial {
		req := &clocked{headers{"authorization": basicHeader(user, pw)}, start + int64(at)}
		id, d := b.Identify(req, "/")
		if d != nil {
			t.Fatalf("identify: %+v", d)
		}
		return b.Verify(req, "/", &id, s)
	}
	if d := verify("cache-user", "right", 0); d != nil {
		t.Fatalf("right password: %+v", d)
	}
	// A success is remembered: the same password passes without bcrypt...
	if d := verify("cache-user", "right", time.Second); d != nil {
		t.Fatalf("cached: %+v", d)
	}
	// ... a wrong password is never answered from the cache ...
	if d := verify("cache-user", "wrong", 2*time.Second); d == nil || d.Status != 401 || d.Message != "User not authorised" {
		t.Fatalf("wrong password: %+v", d)
	}
	// ... and the memory ends with cache_ttl.
	if d := verify("cache-user", "right", 31*time.Second); d != nil {
		t.Fatalf("after ttl, bcrypt again: %+v", d)
	}
	// Failures: FailureBurst checks run bcrypt, then the user is refused
	// without one until the window ends (unless its right password is
	// remembered); other users are unaffected.
	if hash, err = basicauth.Hash("right"); err != nil {
		t.Fatal(err)
	}
	s = &model.Session{BasicAuthData: model.BasicAuthData{Password: hash, HashType: "bcrypt"}}
	for i := range FailureBurst {
		if d := verify("victim", "wrong", time.Duration(i)*time.Millisecond); d == nil || d.Outcome != OutUnauthorized {
			t.Fatalf("failure %d: %+v", i, d)
		}
	}
	if d := verify("victim", "right", 10*time.Millisecond); d == nil || d.Outcome != OutThrottled || d.Status != 401 {
		t.Fatalf("throttled user with the right password: %+v", d)
	}
	if d := verify("other-user", "right", 10*time.Millisecond); d != nil {
		t.Fatalf("another user: %+v", d)
	}
	if d := verify("victim", "right", FailureWindow); d != nil {
		t.Fatalf("after the window: %+v", d)
	}
	// Now remembered: a new burst of failures does not lock it out.
	for i := range FailureBurst + 1 {
		verify("victim", "wrong", FailureWindow+time.Duration(i+1)*time.Millisecond)
	}
	if d := verify("victim", "right", FailureWindow+time.Second); d != nil {
		t.Fatalf("remembered password while throttled: %+v", d)
	}
}

func TestBasicCacheDisabledAndPlain(t *testing.T) {
	api := basicAPI()
	api.BasicAuth.DisableCaching = true
	b := For(api).(*Basic)
	if b.cacheTTL != 0 {
		t.Fatalf("disable_caching: ttl %d", b.cacheTTL)
	}
	for _, tc := range []struct {
		data model.BasicAuthData
		pw   string
		ok   bool
	}{
		{model.BasicAuthData{Password: "plain-pw", HashType: ""}, "plain-pw", true},
		{model.BasicAuthData{Password: "plain-pw", HashType: ""}, "plain-PW", false},
		{model.BasicAuthData{}, "", false}, // a key without basic-auth data
	} {
		req := headers{"authorization": basicHeader("plain-user", tc.pw)}
		id, _ := b.Identify(req, "/")
		if d := b.Verify(req, "/", &id, &model.Session{BasicAuthData: tc.data}); (d == nil) != tc.ok {
			t.Errorf("%+v with %q: %+v", tc.data, tc.pw, d)
		}
	}
}

// An attack spread over many users is bounded by the VM-wide time budget;
// a remembered password still passes meanwhile.
func TestBasicVMFailureBudget(t *testing.T) {
	b := For(basicAPI()).(*Basic)
	// A plain password: the same budget, without bcrypt's time in the test.
	s := &model.Session{BasicAuthData: model.BasicAuthData{Password: "right", HashType: basicauth.HashPlain}}
	at := time.Now().Add(time.Hour).UnixNano() // the budget is full again
	verify := func(user, pw string, dt time.Duration) *Denial {
		req := &clocked{headers{"authorization": basicHeader(user, pw)}, at + int64(dt)}
		id, _ := b.Identify(req, "/")
		return b.Verify(req, "/", &id, s)
	}
	if d := verify("budget-known", "right", 0); d != nil {
		t.Fatal(d)
	}
	// The test clock stands still during bcrypt: each failure costs
	// minFailureCost, so the burst allows this many.
	n := int(FailureCPUBurst / minFailureCost)
	for i := range n {
		if d := verify("budget-"+strconv.Itoa(i), "wrong", 0); d == nil || d.Outcome != OutUnauthorized {
			t.Fatalf("failure %d: %+v", i, d)
		}
	}
	if d := verify("budget-fresh", "wrong", 0); d == nil || d.Outcome != OutThrottled {
		t.Fatalf("budget spent: %+v", d)
	}
	if d := verify("budget-known", "right", 0); d != nil {
		t.Fatalf("remembered password while the budget is spent: %+v", d)
	}
	// It refills at FailureCPUShare percent of the time passing; a check
	// runs while some budget is left, and may overdraw it.
	refill := minFailureCost * 100 / FailureCPUShare
	if d := verify("budget-fresh", "wrong", refill/2); d == nil || d.Outcome != OutUnauthorized {
		t.Fatalf("partly refilled: %+v", d)
	}
	if d := verify("budget-fresh", "wrong", refill/2); d == nil || d.Outcome != OutThrottled {
		t.Fatalf("overdrawn: %+v", d)
	}
	if d := verify("budget-fresh", "wrong", refill/2+refill); d == nil || d.Outcome != OutUnauthorized {
		t.Fatalf("refilled: %+v", d)
	}
}

// extract_from_body: a missing or malformed header falls back to the body
// (Tyk's order); a good header is used alone. Misconfigured regexps are
// refused (multi_test.go: in a chain).
func TestBasicFromBody(t *testing.T) {
	api := basicAPI()
	api.BasicAuth = model.BasicAuthMeta{ExtractFromBody: true, DisableCaching: true,
		BodyUserRegexp: `user=(\w+)`, BodyPasswordRegexp: `pass=(\w*)`}
	b := For(api).(*Basic)
	for _, h := range []string{"", "Basic", "Basic %%%"} {
		if _, d := b.Identify(headers{"authorization": h}, "/b/"); d != DenyNeedsBody {
			t.Errorf("header %q: %+v, want DenyNeedsBody", h, d)
		}
	}
	if id, d := b.Identify(headers{"authorization": basicHeader("alice", "pw")}, "/b/"); d != nil || id.Key != "org1alice" || id.BodyPassword != nil {
		t.Errorf("a good header: %+v %+v", id, d)
	}
	at := time.Now().Add(2 * time.Hour).UnixNano()
	plain := &model.Session{BasicAuthData: model.BasicAuthData{Password: "s3cret", HashType: basicauth.HashPlain}}
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{"user=alice&pass=s3cret", 0, ""},
		{"user=alice&pass=wrong", 401, basicauth.MsgUnauthorized},
		{"user=alice&pass=", 401, basicauth.MsgUnauthorized}, // an empty password is checked, not read from the header
		{"pass=s3cret", 400, "Body do not contain username"},
		{"user=alice", 400, "Body do not contain password"},
		{"user=al&pass=s3cret", 401, basicauth.MsgUnauthorized}, // too short a user
	} {
		// The header is ignored: the body path was taken. The clock is past
		// the other tests' (the VM-wide failure budget is full again).
		req := &clocked{headers{"authorization": basicHeader("mallory", "s3cret")}, at}
		id, d := b.IdentifyBody(req, "/b/", []byte(tc.body))
		if d == nil {
			if id.Key != "org1alice" || id.Cred.From != Header {
				t.Errorf("%q: identity %+v", tc.body, id)
			}
			d = b.Verify(req, "/b/", &id, plain)
		}
		switch {
		case tc.status == 0 && d != nil:
			t.Errorf("%q: %+v", tc.body, d)
		case tc.status != 0 && (d == nil || d.Status != tc.status || d.Message != tc.msg):
			t.Errorf("%q: %+v, want %d %q", tc.body, d, tc.status, tc.msg)
		}
	}

	for name, a := range map[string]*model.APIDefinition{
		"no password regexp": {UseBasicAuth: true, BasicAuth: model.BasicAuthMeta{ExtractFromBody: true, BodyUserRegexp: "(x)"}},
		"bad regexp":         {UseBasicAuth: true, BasicAuth: model.BasicAuthMeta{ExtractFromBody: true, BodyUserRegexp: "(", BodyPasswordRegexp: "(x)"}},
	} {
		if r, ok := For(a).(Refused); !ok || r.Field != "basic_auth.extract_from_body" {
			t.Errorf("%s: %#v, want refused", name, For(a))
		}
	}
}

// BenchmarkBasicRemembered is the auth step of a request whose password is
// remembered (Identify, then Verify without bcrypt). Natively it is a few
// hundred ns; what it costs in the VM is in filter/bench_test.go
// (basic-auth-cached-vs-warm), or run this one as a wasip1 test binary.
func BenchmarkBasicRemembered(b *testing.B) {
	hash, err := basicauth.Hash("bench-pw")
	if err != nil {
		b.Fatal(err)
	}
	basic := For(basicAPI()).(*Basic)
	s := &model.Session{BasicAuthData: model.BasicAuthData{Password: hash, HashType: "bcrypt"}}
	req := &clocked{headers{"authorization": basicHeader("bench-user", "bench-pw")}, time.Now().UnixNano()}
	check := func() {
		id, d := basic.Identify(req, "/b/")
		if d != nil {
			b.Fatal(d)
		}
		if d := basic.Verify(req, "/b/", &id, s); d != nil {
			b.Fatal(d)
		}
	}
	check() // bcrypt: from now on remembered
	b.ReportAllocs()
	for b.Loop() {
		check()
	}
}

// A remembered success matches only the password that passed bcrypt:
// passwords differing in one byte, a prefix, an extension or the empty
// password never hit the entry (they are checked with bcrypt and fail).
func TestBasicRememberedDigestIsExact(t *testing.T) {
	p := newPasswordState()
	hash, err := basicauth.Hash("right-password")
	if err != nil {
		t.Fatal(err)
	}
	data := model.BasicAuthData{Password: hash, HashType: "bcrypt"}
	clock := func() int64 { return 1 }
	right := []byte("right-password")
	if !p.check("org1u", data, right, p.digest(right), clock, int64(time.Minute)) {
		t.Fatal("the right password failed")
	}
	if !p.remembered(data, p.digest(right), 1) {
		t.Fatal("the success was not remembered")
	}
	for _, wrong := range []string{"right-passworD", "right-passwor", "right-password\x00", "", "Right-password"} {
		if p.remembered(data, p.digest([]byte(wrong)), 1) {
			t.Errorf("%q is remembered", wrong)
		}
		if p.check("org1u", data, []byte(wrong), p.digest([]byte(wrong)), clock, int64(time.Minute)) {
			t.Errorf("%q passed", wrong)
		}
		if p.digest([]byte(wrong)) == p.digest([]byte("right-password")) {
			t.Errorf("%q has the remembered digest", wrong)
		}
	}
	// Another VM (another salt) remembers another digest of the same password.
	if newPasswordState().digest([]byte("right-password")) == p.digest([]byte("right-password")) {
		t.Error("two VMs share a salt")
	}
}
