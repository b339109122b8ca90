package hmacsig

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Fields
		err      bool
	}{
		{"full", `Signature keyId="k1",algorithm="hmac-sha256",headers="(request-target) date",signature="abc%3D"`,
			Fields{"k1", "hmac-sha256", []string{"(request-target)", "date"}, "abc%3D"}, false},
		{"lower-case scheme, spaces", `signature keyId="k1", algorithm="hmac-sha1", signature="s"`,
			Fields{"k1", "hmac-sha1", []string{"date"}, "s"}, false},
		{"names any case, unquoted", `Signature KEYID=k1,Algorithm=hmac-sha512,signature=s`,
			Fields{"k1", "hmac-sha512", []string{"date"}, "s"}, false},
		{"escaped quote", `Signature keyId="a\"b",signature="s"`, Fields{`a"b`, "", []string{"date"}, "s"}, false},
		{"unknown parameter", `Signature keyId="k1",realm="x",signature="s"`, Fields{}, true},
		{"unterminated", `Signature keyId="k1`, Fields{}, true},
		{"no equals", `Signature keyId`, Fields{}, true},
		{"junk after value", `Signature keyId="k1"x,signature="s"`, Fields{}, true},
		{"empty", ``, Fields{Headers: []string{"date"}}, false},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v %v, want %+v err=%v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func headers(m map[string]string) func(string) string { return func(n string) string { return m[n] } }

func TestSigningString(t *testing.T) {
	h := headers(map[string]string{"date": "Mon, 02 Jan 2006 15:04:05 GMT", "x-test": "  v1 ", "digest": "d"})
	for _, tc := range []struct {
		name string
		list []string
		hdr  func(string) string
		want string
	}{
		{"date only", []string{"date"}, h, "date: Mon, 02 Jan 2006 15:04:05 GMT"},
		{"request target and headers", []string{"(request-target)", "Date", "x-test"}, h,
			"(request-target): post /a/b\ndate: Mon, 02 Jan 2006 15:04:05 GMT\nx-test: v1"},
		{"x-aux-date wins", []string{"date"}, headers(map[string]string{"date": "d1", "x-aux-date": "d2"}), "x-aux-date: d2"},
		{"missing header", []string{"x-none"}, h, "x-none: "},
		{"no date at all", []string{"date"}, headers(nil), ": "},
	} {
		if got := SigningString(tc.list, "POST", "/a/b", tc.hdr); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSignAndMatch(t *testing.T) {
	const s, secret = "date: Mon, 02 Jan 2006 15:04:05 GMT", "9876"
	for alg, fn := range map[string]func() hash.Hash{
		"hmac-sha1": sha1.New, "hmac-sha256": sha256.New, "hmac-sha384": sha512.New384,
		"hmac-sha512": sha512.New, "unknown-is-sha1": sha1.New,
	} {
		m := hmac.New(fn, []byte(secret))
		m.Write([]byte(s))
		want := url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
		if got := Sign(s, secret, alg); got != want {
			t.Errorf("%s: %q, want %q", alg, got, want)
		}
		if !Match(want, Sign(s, secret, alg)) || Match(want, Sign(s, secret+"x", alg)) {
			t.Errorf("%s: match wrong", alg)
		}
	}
	sig := Sign(s, secret, "hmac-sha256")
	if !strings.Contains(sig, "%") {
		t.Skip("signature without escapes")
	}
	i := strings.Index(sig, "%")
	lower := sig[:i] + strings.ToLower(sig[i:i+3]) + sig[i+3:]
	if !Match(lower, sig) {
		t.Errorf("lower-case escapes %q must match %q", lower, sig)
	}
}

func TestDateOK(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		date string
		skew float64
		ok   bool
	}{
		{"Fri, 02 Jan 2026 15:04:05 GMT", 1000, true},
		{"Fri, 02 Jan 2026 15:04:04 GMT", 1000, true},
		{"Fri, 02 Jan 2026 15:04:03 GMT", 1000, false},
		{"Fri, 02 Jan 2026 15:04:07 GMT", 1000, false}, // the future too
		{"Fri, 02 Jan 2026 15:04:05 +00", 1000, true},
		{"Fri, 02 Jan 2020 15:04:05 GMT", 0, true}, // no skew configured: any date
		{"2026-01-02T15:04:05Z", 0, false},         // must parse
		{"", 0, false},
	} {
		if got := DateOK(tc.date, now, tc.skew); got != tc.ok {
			t.Errorf("%q skew %v: %v, want %v", tc.date, tc.skew, got, tc.ok)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		alg     string
		allowed []string
		ok      bool
	}{
		{"hmac-sha256", nil, true},
		{"hmac-sha256", []string{"hmac-sha512", "hmac-sha256"}, true},
		{"hmac-sha1", []string{"hmac-sha256"}, false},
		{"rsa-sha256", nil, false},
	} {
		if Allowed(tc.alg, tc.allowed) != tc.ok {
			t.Errorf("%s in %v: want %v", tc.alg, tc.allowed, tc.ok)
		}
	}
}

func TestNewSecret(t *testing.T) {
	s, err := NewSecret(strings.NewReader(strings.Repeat("\x01", 16)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(s)
	if string(raw) != strings.Repeat("01", 16) {
		t.Errorf("secret %q decodes to %q", s, raw)
	}
}

// A reused MAC signs like a new one, for every algorithm.
func TestReusedMAC(t *testing.T) {
	for _, alg := range []string{"hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"} {
		mac := NewMAC("k", alg)
		for _, s := range []string{"a", "date: x", "a"} {
			if got, want := string(AppendSignature(nil, mac, []byte(s))), Sign(s, "k", alg); got != want {
				t.Errorf("%s %q: %q, want %q", alg, s, got, want)
			}
		}
	}
}

// Match accepts the expected signature and its lower-case-escape spelling,
// and nothing else: not a raw '+' where "%2B" is expected, not a prefix.
func TestMatchCanonical(t *testing.T) {
	const expected = "ab%2Bcd%3D"
	for _, tc := range []struct {
		presented string
		ok        bool
	}{
		{"ab%2Bcd%3D", true},
		{"ab%2bcd%3d", true},
		{"ab+cd=", false},
		{"ab%2Bcd", false},
		{"AB%2Bcd%3D", false},
		{"ab%2Bcd%3D%", false},
		{"", false},
	} {
		if got := Match(tc.presented, expected); got != tc.ok {
			t.Errorf("Match(%q): %v, want %v", tc.presented, got, tc.ok)
		}
		if got := MatchCanonical(AppendCanonical(nil, tc.presented), []byte(expected)); got != tc.ok {
			t.Errorf("MatchCanonical(%q): %v, want %v", tc.presented, got, tc.ok)
		}
	}
}

// The date given to AppendSigningStringDate is the one the lines use; no
// header is read for it.
func TestSigningStringDate(t *testing.T) {
	read := 0
	h := func(n string) string { read++; return map[string]string{"digest": "d"}[n] }
	got := string(AppendSigningStringDate(nil, []string{"(request-target)", "date", "digest"}, "GET", "/p",
		"x-aux-date", "Mon, 02 Jan 2006 15:04:05 GMT", h))
	if want := "(request-target): get /p\nx-aux-date: Mon, 02 Jan 2006 15:04:05 GMT\ndigest: d"; got != want || read != 1 {
		t.Errorf("got %q with %d reads, want %q with 1", got, read, want)
	}
}

func TestSignsTarget(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    bool
	}{
		{[]string{"date"}, false},
		{[]string{"(request-target)", "date"}, true},
		{[]string{"date", " (Request-Target) "}, true},
		{nil, false},
	} {
		if got := SignsTarget(tc.headers); got != tc.want {
			t.Errorf("%q: %v", tc.headers, got)
		}
	}
}
