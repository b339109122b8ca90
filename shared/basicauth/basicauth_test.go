package basicauth

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSessionID(t *testing.T) {
	for _, tc := range []struct{ org, user, want string }{
		{"org1", "alice", "org1alice"},
		{"org1", "org1alice", "org1alice"}, // already prefixed: not twice
		{"", "alice", "alice"},
		{"org1", "org", "org1org"},
	} {
		if got := SessionID(tc.org, tc.user); got != tc.want {
			t.Errorf("SessionID(%q, %q) = %q, want %q", tc.org, tc.user, got, tc.want)
		}
	}
}

// Tyk's cases (mw_basic_auth.go basicAuthHeaderCredentials).
func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name, value, user, pass string
		err                     error
	}{
		{"ok", "Basic " + b64("alice:s3cret"), "alice", "s3cret", nil},
		{"scheme not checked", "Whatever " + b64("alice:pw"), "alice", "pw", nil},
		{"empty password", "Basic " + b64("alice:"), "alice", "", nil},
		{"empty scheme", " " + b64("a:b"), "a", "b", nil},
		{"one word", b64("alice:pw"), "", "", ErrMalformedHeader},
		{"three words", "Basic " + b64("a:b") + " x", "", "", ErrMalformedHeader},
		{"double space", "Basic  " + b64("a:b"), "", "", ErrMalformedHeader},
		{"not base64", "Basic !!!", "", "", ErrBadEncoding},
		{"url base64", "Basic " + strings.NewReplacer("+", "-", "/", "_").Replace(b64("a:>>>?")), "", "", ErrBadEncoding},
		{"no colon", "Basic " + b64("alice"), "", "", ErrMalformedValues},
		{"colon in password", "Basic " + b64("alice:p:w"), "", "", ErrMalformedValues},
	} {
		u, p, err := ParseHeader(tc.value)
		if err != tc.err || u != tc.user || p != tc.pass {
			t.Errorf("%s: got %q %q %v, want %q %q %v", tc.name, u, p, err, tc.user, tc.pass, tc.err)
		}
	}
}

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2a$10$") || strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q: want bcrypt at cost 10", h)
	}
	for _, tc := range []struct {
		name, typ, stored, pw string
		ok                    bool
	}{
		{"bcrypt", HashBcrypt, h, "s3cret", true},
		{"bcrypt wrong", HashBcrypt, h, "s3cret ", false},
		{"unknown type is bcrypt (Tyk's default)", "whatever", h, "s3cret", true},
		{"plain", HashPlain, "pw", "pw", true},
		{"plain wrong", HashPlain, "pw", "pW", false},
		{"plain empty stored never matches", HashPlain, "", "", false},
		{"bcrypt empty stored", HashBcrypt, "", "", false},
		{"sha256 unsupported", "sha256", "x", "x", false},
		{"garbage bcrypt", HashBcrypt, "not-a-hash", "pw", false},
	} {
		if err := Verify(tc.typ, tc.stored, tc.pw); (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if _, err := Hash(strings.Repeat("x", 73)); err == nil {
		t.Error("a password over bcrypt's 72 bytes must be refused, not truncated")
	}
}

func TestBodyCredentials(t *testing.T) {
	const userRe, passRe = `<User>(.*)</User>`, `<Password>(.*)</Password>`
	for _, tc := range []struct {
		name           string
		userRe, passRe string
		body           string
		user, password string
		err            error
	}{
		{"both", userRe, passRe, `<User>alice</User><Password>pa:ss word</Password>`, "alice", "pa:ss word", nil},
		{"first match wins", userRe, passRe, "<User>a</User>\n<User>b</User><Password>p</Password>", "a", "p", nil},
		{"no user", userRe, passRe, `<Password>p</Password>`, "", "", ErrBodyNoUser},
		{"no password", userRe, passRe, `<User>alice</User>`, "", "", ErrBodyNoPassword},
		{"empty body", userRe, passRe, ``, "", "", ErrBodyNoUser},
		{"user regexp without a group", `<User>alice</User>`, passRe, `<User>alice</User><Password>p</Password>`, "", "", ErrBodyUserGroup},
		{"password regexp without a group", userRe, `<Password>p</Password>`, `<User>alice</User><Password>p</Password>`, "", "", ErrBodyPasswordGroup},
		{"JSON", `"user":\s*"([^"]*)"`, `"pass":\s*"([^"]*)"`, `{"user": "bob", "pass":"x"}`, "bob", "x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := CompileBody(tc.userRe, tc.passRe)
			if err != nil {
				t.Fatal(err)
			}
			u, p, err := b.Credentials([]byte(tc.body))
			if u != tc.user || p != tc.password || err != tc.err {
				t.Errorf("got %q %q %v, want %q %q %v", u, p, err, tc.user, tc.password, tc.err)
			}
		})
	}
}

func TestCompileBodyErrors(t *testing.T) {
	for _, tc := range [][2]string{{"", "(x)"}, {"(x)", ""}, {"(", "(x)"}, {"(x)", "[z-a]"}} {
		if _, err := CompileBody(tc[0], tc[1]); err == nil {
			t.Errorf("CompileBody(%q, %q) compiled", tc[0], tc[1])
		}
	}
}
