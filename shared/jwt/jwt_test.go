package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/jwt/jwttest"
)

var (
	rsaKey, _  = rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _   = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _   = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _   = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	hmacSecret = []byte("a-shared-secret-of-some-length")
)

func TestVerify(t *testing.T) {
	claims := map[string]any{"sub": "user"}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name   string
		alg    string
		sign   any // signing key
		method Method
		verify any // verification key
		want   error
	}{
		{"HS256", "HS256", hmacSecret, HMAC, hmacSecret, nil},
		{"HS384", "HS384", hmacSecret, HMAC, hmacSecret, nil},
		{"HS512", "HS512", hmacSecret, HMAC, hmacSecret, nil},
		{"RS256", "RS256", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"RS384", "RS384", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"RS512", "RS512", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"PS256", "PS256", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"PS384", "PS384", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"PS512", "PS512", rsaKey, RSA, &rsaKey.PublicKey, nil},
		{"ES256", "ES256", ecKey, ECDSA, &ecKey.PublicKey, nil},
		{"ES384", "ES384", ec384, ECDSA, &ec384.PublicKey, nil},
		{"ES512", "ES512", ec521, ECDSA, &ec521.PublicKey, nil},
		{"wrong secret", "HS256", []byte("other"), HMAC, hmacSecret, ErrSignature},
		{"empty secret", "HS256", []byte("x"), HMAC, []byte{}, ErrKey},
		{"wrong RSA key", "RS256", otherRSA, RSA, &rsaKey.PublicKey, ErrSignature},
		{"ES256 key of another curve", "ES256", ecKey, ECDSA, &ec384.PublicKey, ErrKey},
		// Key confusion: an HMAC token on an RSA API is refused before any
		// key is used as a secret.
		{"HS256 on an RSA API", "HS256", hmacSecret, RSA, &rsaKey.PublicKey, ErrUnexpectedMethod},
		{"RS256 on an HMAC API", "RS256", rsaKey, HMAC, hmacSecret, ErrUnexpectedMethod},
		{"ES256 on an RSA API", "ES256", ecKey, RSA, &rsaKey.PublicKey, ErrUnexpectedMethod},
		{"none", "none", nil, HMAC, hmacSecret, ErrUnexpectedMethod},
		{"unknown alg", "HS999", hmacSecret, HMAC, hmacSecret, ErrUnknownAlg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw string
			if tc.alg == "HS999" {
				raw = jwttest.MustSign("HS256", hmacSecret, nil, claims)
				raw = strings.Replace(raw, raw[:strings.IndexByte(raw, '.')],
					"eyJhbGciOiJIUzk5OSIsInR5cCI6IkpXVCJ9", 1) // {"alg":"HS999","typ":"JWT"}
			} else {
				raw = jwttest.MustSign(tc.alg, tc.sign, nil, claims)
			}
			tok, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			err = tok.CheckMethod(tc.method)
			if err == nil {
				err = tok.Verify(tc.verify)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyTamperedPayload(t *testing.T) {
	raw := jwttest.MustSign("ES256", ecKey, nil, map[string]any{"sub": "user", "pol": "gold"})
	parts := strings.Split(raw, ".")
	forged := jwttest.MustSign("ES256", ecKey, nil, map[string]any{"sub": "admin", "pol": "gold"})
	parts[1] = strings.Split(forged, ".")[1]
	tok, err := Parse(strings.Join(parts, "."))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(&ecKey.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("got %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	good := jwttest.MustSign("HS256", hmacSecret, nil, map[string]any{"sub": "u"})
	p := strings.Split(good, ".")
	for _, raw := range []string{
		"", "abc", "a.b", good + ".x", p[0] + ".!!." + p[2], "W10." + p[1] + "." + p[2], // header []
		p[0] + ".bm90IGpzb24." + p[2], // payload "not json"
		p[0] + "." + p[1] + ".%%",
	} {
		if _, err := Parse(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v", raw, err)
		}
	}
	// Padding is accepted, as golang-jwt does.
	if _, err := Parse(p[0] + "=." + p[1] + "." + p[2]); err != nil {
		t.Errorf("padded header: %v", err)
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"": HMAC, "hmac": HMAC, "rsa": RSA, "ecdsa": ECDSA} {
		if m, err := ParseMethod(in); err != nil || m != want {
			t.Errorf("%q: %v %v", in, m, err)
		}
	}
	if _, err := ParseMethod("RS256"); err == nil {
		t.Error("RS256 accepted as a method")
	}
}

func TestCheckTimes(t *testing.T) {
	const now = 1_700_000_000
	for _, tc := range []struct {
		name   string
		claims map[string]any
		skews  Skews
		want   error
	}{
		{"no time claims", map[string]any{}, Skews{}, nil},
		{"valid", map[string]any{"exp": now + 60, "iat": now - 1, "nbf": now}, Skews{}, nil},
		{"expired", map[string]any{"exp": now - 1}, Skews{}, ErrExpired},
		{"expires now", map[string]any{"exp": now}, Skews{}, ErrExpired},
		{"expired within skew", map[string]any{"exp": now - 5}, Skews{Exp: 10}, nil},
		{"expired beyond skew", map[string]any{"exp": now - 10}, Skews{Exp: 10}, ErrExpired},
		{"exp 0 is absent", map[string]any{"exp": 0}, Skews{}, nil},
		{"exp not a number", map[string]any{"exp": "tomorrow"}, Skews{}, ErrExpired},
		{"issued in the future", map[string]any{"iat": now + 5}, Skews{}, ErrUsedBefore},
		{"issued in the future within skew", map[string]any{"iat": now + 5}, Skews{Iat: 5}, nil},
		{"not valid yet", map[string]any{"nbf": now + 1}, Skews{}, ErrNotValidYet},
		{"not valid yet within skew", map[string]any{"nbf": now + 3}, Skews{Nbf: 3}, nil},
		// Tyk reports the last failing check.
		{"expired and not valid yet", map[string]any{"exp": now - 1, "nbf": now + 1}, Skews{}, ErrNotValidYet},
		{"expired and issued later", map[string]any{"exp": now - 1, "iat": now + 1}, Skews{}, ErrUsedBefore},
	} {
		tok := parse(t, tc.claims)
		if err := tok.CheckTimes(now, tc.skews); err != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func parse(t *testing.T, claims map[string]any) *Token {
	t.Helper()
	return parseH(t, nil, claims)
}

func parseH(t *testing.T, header, claims map[string]any) *Token {
	t.Helper()
	tok, err := Parse(jwttest.MustSign("HS256", hmacSecret, header, claims))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		name   string
		field  string
		claims map[string]any
		want   string
		err    string
	}{
		{"sub", "", map[string]any{"sub": "u1"}, "u1", ""},
		{"base field", "email", map[string]any{"sub": "u1", "email": "a@b"}, "a@b", ""},
		{"base field absent falls back to sub", "email", map[string]any{"sub": "u1"}, "u1", ""},
		{"nested path", "user.id", map[string]any{"user": map[string]any{"id": "n1"}, "sub": "u1"}, "n1", ""},
		{"literal dotted name first", "user.id", map[string]any{"user.id": "lit", "user": map[string]any{"id": "n1"}}, "lit", ""},
		{"empty base field", "email", map[string]any{"sub": "u1", "email": ""}, "",
			"found an empty user ID in predefined base claim, claim: email"},
		{"empty sub", "", map[string]any{"sub": ""}, "", "found an empty user ID in sub claim"},
		{"nothing", "email", map[string]any{"name": "x"}, "", "no suitable claims for user ID were found"},
		{"base field not a string", "uid", map[string]any{"uid": 7, "sub": "u1"}, "u1", ""},
	} {
		id, err := parse(t, tc.claims).Identity(tc.field)
		if id != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%s: got %q %v, want %q %q", tc.name, id, err, tc.want, tc.err)
		}
	}
}

func TestKeyIdentity(t *testing.T) {
	tok := parseH(t, map[string]any{"kid": "key-1"}, map[string]any{"sub": "u1"})
	if id, _ := tok.KeyIdentity(false, ""); id != "key-1" {
		t.Errorf("kid: %q", id)
	}
	if id, _ := tok.KeyIdentity(true, ""); id != "u1" {
		t.Errorf("jwt_skip_kid: %q", id)
	}
	if id, _ := parseH(t, map[string]any{"kid": 5}, map[string]any{"sub": "u1"}).KeyIdentity(false, ""); id != "u1" {
		t.Errorf("non-string kid: %q", id)
	}
}

func TestScopesAndClientID(t *testing.T) {
	for _, tc := range []struct {
		claim  string
		claims map[string]any
		want   string
	}{
		{"", map[string]any{"scope": "read write"}, "read,write"},
		{"scp", map[string]any{"scp": []any{"a", 1, "b"}}, "a,b"},
		{"realm.roles", map[string]any{"realm": map[string]any{"roles": []any{"admin"}}}, "admin"},
		{"", map[string]any{"scope": 3}, ""},
	} {
		if got := strings.Join(parse(t, tc.claims).Scopes(tc.claim), ","); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.claims, got, tc.want)
		}
	}
	if got := parse(t, map[string]any{"cid": "okta", "client_id": "gluu"}).ClientID(); got != "okta" {
		t.Errorf("client id %q", got)
	}
	if got := MapScopes(map[string]string{"r": "p1", "w": "p2", "x": "p1"}, []string{"w", "r", "x", "zz"}); strings.Join(got, ",") != "p1,p2" {
		t.Errorf("MapScopes %v", got)
	}
}

func TestSessionID(t *testing.T) {
	// md5("user@example.com") = b58996c504c5638798eb6b511e6f49af
	if got := SessionID("org1", "user@example.com"); got != "org1b58996c504c5638798eb6b511e6f49af" {
		t.Errorf("got %s", got)
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in       string
		url, raw string
		err      bool
	}{
		{"", "", "", false},
		{"https://idp/jwks", "https://idp/jwks", "", false},
		{"HTTP://idp/jwks", "HTTP://idp/jwks", "", false},
		{"aHR0cHM6Ly9pZHAvandrcw==", "https://idp/jwks", "", false}, // base64 of the URL
		{"c2VjcmV0", "", "secret", false},
		{"not base64!", "", "", true},
	} {
		s, err := ParseSource(tc.in)
		if (err != nil) != tc.err || s.URL != tc.url || string(s.Data) != tc.raw {
			t.Errorf("%q: got %+v %v", tc.in, s, err)
		}
	}
}
